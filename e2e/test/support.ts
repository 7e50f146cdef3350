import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { HttpsKmsTransport, KmsClient, type KmsClientCredential } from '@realm/kms-client';
import { makeTempDir, realmctl, type RunningAppliance, startAppliance } from '@realm/testing';

export interface Realm {
  readonly app: RunningAppliance;
  readonly env: Record<string, string>;
  /** The appliance CA (PEM): development clients trust it for the KMS static key. */
  readonly caPem: string;
  /** The appliance's HTTPS certificate (development, self-signed). */
  readonly tlsCa: Buffer;
  ctl(args: string[]): Promise<string>;
  user(name: string, roles?: string[]): Promise<{ id: string; token: () => Promise<string> }>;
  stop(): Promise<unknown>;
}

/** Starts the appliance (a real process) with `env` over a fresh data directory. */
export async function startRealm(env: Record<string, string> = {}): Promise<Realm> {
  const dataDir = env.REALM_DATA_DIR ?? makeTempDir('realm-e2e-');
  const fullEnv = { REALM_DATA_DIR: dataDir, ...env };
  const app = await startAppliance(fullEnv);
  const ctl = async (args: string[]) => {
    const result = await realmctl(args, fullEnv);
    if (result.code !== 0) throw new Error(`realmctl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout.trim();
  };
  const caPem = await ctl(['ca', 'certificate']);
  return {
    app,
    env: fullEnv,
    caPem,
    tlsCa: readFileSync(join(dataDir, 'tls', 'dev-cert.pem')),
    ctl,
    async user(name: string, roles: string[] = []) {
      const created = await ctl(['principal', 'create-user', name, ...roles.flatMap((r) => ['--role', r])]);
      const id = /created user (\S+)/.exec(created)![1]!;
      return { id, token: () => ctl(['token', 'issue', id, '--client-id', 'e2e-app']) };
    },
    stop: () => app.stop(),
  };
}

/** An SDK client talking to the appliance directly over HTTPS. */
export function sdkClient(realm: Realm, credential: () => Promise<KmsClientCredential>, options: { clientId?: string; trustedRoots?: string[]; timeouts?: { initialMs?: number; renegotiateAfterMs?: number; giveUpAfterMs?: number } } = {}): KmsClient {
  const transport = new HttpsKmsTransport(realm.app.url, realm.tlsCa);
  return new KmsClient({
    clientId: options.clientId ?? `device-${randomUUID().slice(0, 8)}`,
    discovery: () => transport.discovery(),
    transport,
    credential,
    trustedRoots: options.trustedRoots ?? [realm.caPem],
    expectedDomain: 'kms.realm.test',
    batching: { debounceMs: 5, maxBatch: 50 },
    ...(options.timeouts && { timeouts: options.timeouts }),
  });
}

/** A bearer credential that fetches a fresh token per request (tokens are short-lived). */
export function bearer(token: () => Promise<string>): () => Promise<KmsClientCredential> {
  let cached: Promise<string> | undefined;
  return async () => ({ bearer: await (cached ??= token()) });
}

/** A service credential from the key and chain files realmctl wrote: JWK + x5c, and ES256 proofs. */
export function serviceCredential(keyFile: string, certFile: string): () => Promise<KmsClientCredential> {
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const x5c = readFileSync(certFile, 'utf8').split('-----END CERTIFICATE-----').map((block) => block.replace(/-----BEGIN CERTIFICATE-----|\s/g, '')).filter((b) => b.length > 0);
  const { d: _d, ...publicJwk } = privateKey.export({ format: 'jwk' });
  const jwk = { ...publicJwk, x5c };
  return async () => ({
    jwk,
    signProof: async (payload: Buffer) => {
      const header = Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url');
      const body = payload.toString('base64url');
      const signature = sign('sha256', Buffer.from(`${header}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${header}.${body}.${signature.toString('base64url')}`;
    },
  });
}
