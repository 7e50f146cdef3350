import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { HttpsKmsTransport, KmsClient, type KmsClientCredential } from '@realm/kms-client';
import { httpsRequest, type HttpsResponse, makeTempDir, realmctl, type RunningAppliance, startAppliance, type TestSamlIdp } from '@realm/testing';

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

/** A free TCP port on 127.0.0.1, for settings that must name the port before the process starts (identity.issuer). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SsoRealm extends Realm {
  /** identity.issuer: the appliance's public URL, https://127.0.0.1:<port>. */
  readonly issuer: string;
  readonly idp: TestSamlIdp;
}

/**
 * Starts the appliance with SAML login against `idp` (its metadata written to a file, as an
 * administrator would install it) on a port chosen in advance, because identity.issuer, which the
 * SP's ACS URL and the OAuth issuer derive from, must be the appliance's public URL. The IdP then
 * trusts the SP from the appliance's own /saml/metadata. Groups map to roles as `roles` says
 * (identity.saml.roles.*; `user` stays `*`).
 */
export async function startSsoRealm(idp: TestSamlIdp, env: Record<string, string> = {}, roles: { complianceOfficer?: string; realmAdmin?: string; auditor?: string } = {}): Promise<SsoRealm> {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const metadataFile = join(makeTempDir('realm-idp-'), 'idp-metadata.xml');
  idp.writeMetadata(metadataFile);
  const realm = await startRealm({
    ...env,
    REALM_HTTP_PORT: String(port),
    REALM_IDENTITY_ISSUER: issuer,
    REALM_IDENTITY_SAML_IDP_METADATA_FILE: metadataFile,
    ...(roles.complianceOfficer !== undefined && { REALM_IDENTITY_SAML_ROLES_COMPLIANCE_OFFICER: roles.complianceOfficer }),
    ...(roles.realmAdmin !== undefined && { REALM_IDENTITY_SAML_ROLES_REALM_ADMIN: roles.realmAdmin }),
    ...(roles.auditor !== undefined && { REALM_IDENTITY_SAML_ROLES_AUDITOR: roles.auditor }),
  });
  try {
    const metadata = await realm.app.get('/saml/metadata');
    if (metadata.status !== 200) throw new Error(`GET /saml/metadata: ${metadata.status} ${metadata.body}`);
    idp.trustServiceProvider(metadata.body);
  } catch (error) {
    await realm.stop();
    throw error;
  }
  return { ...realm, issuer, idp };
}

/** One HTTP answer as {@link HttpsBrowser} saw it. */
export interface BrowserReply extends HttpsResponse {
  /** The Location header of a redirect, resolved against the request URL. */
  readonly location: string | undefined;
}

/**
 * What a browser does, done by hand: a cookie jar over real HTTPS requests that trust only `ca`.
 * Redirects are not followed, so a test sees every hop. Cookies are kept by name only (no domain
 * or path scoping): the tests talk to one origin with it.
 */
export class HttpsBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly origin: string, private readonly ca: Buffer | string) {}

  async request(method: string, target: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<BrowserReply> {
    const url = new URL(target, this.origin);
    if (url.origin !== this.origin) throw new Error(`HttpsBrowser talks to ${this.origin} only, not ${url.origin}`);
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await httpsRequest(method, url.toString(), this.ca, body, headers);
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
    const location = typeof response.headers['location'] === 'string' ? new URL(response.headers['location'], url).toString() : undefined;
    return { ...response, location };
  }

  get(target: string): Promise<BrowserReply> {
    return this.request('GET', target);
  }

  /** The value of a cookie the jar holds, or undefined. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }
}
