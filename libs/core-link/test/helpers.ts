import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import { type CoreSim, type CoreSimOptions, startCoreSim } from '@realm/core-sim';
import { IDENTITY_ENTITIES, IDENTITY_MIGRATIONS, type Identity, openIdentity } from '@realm/identity';
import { createKmsRuntime, IdentityAuthenticator, KMS_ENTITIES, KMS_MIGRATIONS, type KmsRuntime } from '@realm/kms';
import { CoreKmsTransport, KmsClient } from '@realm/kms-client';
import { Database } from '@realm/persistence';
import { makeTempDir, type TestDatabase, testConfig } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { CORE_LINK_ENTITIES, CORE_LINK_MIGRATIONS, type CoreLink, type CoreLinkKms, type CoreLinkLog, openCoreLink } from '../src/index.js';

export const CLUSTER = 'kms://kms.realm.test';
export const CONTROL_TOKEN = 'core-link-test-control';

/** One appliance node in this process: database, vault, audit log, identity services and the real KMS runtime. */
export interface KmsNode {
  readonly env: Record<string, string>;
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  readonly identity: Identity;
  readonly kms: KmsRuntime;
  /** The service CA (PEM): the core trusts it for link certificates, clients for the KMS static key. */
  readonly caPem: string;
  /** Every audit record, parsed, in order. */
  auditRecords(): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

export async function openKmsNode(database: TestDatabase): Promise<KmsNode> {
  const created = await database.create();
  const env = created.env;
  const config = testConfig(env);
  const db = await Database.open(config.database, {
    entities: [...VAULT_ENTITIES, ...AUDIT_ENTITIES, ...IDENTITY_ENTITIES, ...KMS_ENTITIES, ...CORE_LINK_ENTITIES],
    migrations: [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS, ...IDENTITY_MIGRATIONS, ...KMS_MIGRATIONS, ...CORE_LINK_MIGRATIONS],
  });
  await db.migrate();
  const vault = await KeyVault.open(config, db);
  await vault.initialize();
  const audit = await AuditLog.open(db, vault, { checkpointEvery: 1000, checkpointIntervalSeconds: 3600 });
  const identity = await openIdentity(db, vault, audit, { tokens: { issuer: config.identity.issuer } });
  const kms = createKmsRuntime(config, db, vault, audit, { authenticator: new IdentityAuthenticator(identity, CLUSTER) });
  await kms.staticKey.ensure();
  const { publicKey } = await kms.staticKey.current();
  await kms.staticKey.setCertificateChain(await identity.serviceCa.issueKmsCertificate(config.kms.domain, publicKey));
  return {
    env,
    config,
    db,
    vault,
    audit,
    identity,
    kms,
    caPem: await identity.serviceCa.caCertificatePem(),
    async auditRecords() {
      const rows = await db.query<{ body: string }[]>('SELECT body FROM audit_records ORDER BY seq');
      return rows.map((r) => JSON.parse(r.body) as Record<string, any>);
    },
    async close() {
      kms.close();
      await audit.close();
      vault.close();
      await db.close();
      await created.drop();
    },
  };
}

export function startCore(node: KmsNode, options: Partial<CoreSimOptions> = {}): Promise<CoreSim> {
  return startCoreSim({ dataDir: makeTempDir('core-link-sim-'), kmsCluster: CLUSTER, applianceCaPem: node.caPem, controlToken: CONTROL_TOKEN, logLevel: 'silent', ...options });
}

/** Log lines kept for assertions (and scanned for secrets). */
export class MemoryLog implements CoreLinkLog {
  readonly lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  info(object: object, msg: string): void {
    this.lines.push({ level: 'info', msg, ...object });
  }
  warn(object: object, msg: string): void {
    this.lines.push({ level: 'warn', msg, ...object });
  }
  error(object: object, msg: string): void {
    this.lines.push({ level: 'error', msg, ...object });
  }
}

export interface LinkSettings {
  url?: string;
  caPem?: string;
  nodeId?: string;
  env?: Record<string, string>;
  kms?: CoreLinkKms;
}

/** A link for `node` to `sim` as the appliance would open it from its configuration (coreLink.*). */
export function openLink(node: KmsNode, sim: { linkUrl: string; caPem: string }, settings: LinkSettings = {}): { link: CoreLink; log: MemoryLog } {
  const dir = makeTempDir('core-link-ca-');
  const caFile = join(dir, 'core-ca.pem');
  writeFileSync(caFile, settings.caPem ?? sim.caPem);
  const config = testConfig({
    ...node.env,
    REALM_CORE_LINK_URL: settings.url ?? sim.linkUrl,
    REALM_CORE_LINK_CA_FILE: caFile,
    REALM_CORE_LINK_NODE_ID: settings.nodeId ?? `node-${randomUUID().slice(0, 8)}`,
    REALM_CORE_LINK_RECONNECT_BASE_MS: '50',
    REALM_CORE_LINK_RECONNECT_MAX_MS: '400',
    REALM_CORE_LINK_HEARTBEAT_INTERVAL: '1s',
    REALM_CORE_LINK_HEARTBEAT_TIMEOUT: '1s',
    REALM_CORE_LINK_DRAIN_TIMEOUT: '5s',
    ...settings.env,
  });
  const log = new MemoryLog();
  const link = openCoreLink({ config, db: node.db, vault: node.vault, audit: node.audit, serviceCa: node.identity.serviceCa, kms: settings.kms ?? node.kms.service, log })!;
  return { link, log };
}

/** A user who talks only to the core: core token, events socket, KMS client SDK over the relay. */
export async function clientThroughCore(node: KmsNode, sim: CoreSim, userName: string): Promise<{ principalId: string; client: KmsClient; transport: CoreKmsTransport; failures: { code: string; status: number }[]; close(): Promise<void> }> {
  const principal = await node.identity.principals.createUser({ userName });
  const signIn = await fetchJson(sim, 'POST', '/users', { userId: userName });
  const coreToken = signIn.body.token as string;
  const transport = new CoreKmsTransport({ url: sim.url, ca: sim.caPem, coreToken: () => coreToken });
  const failures: { code: string; status: number }[] = [];
  transport.onFailure((f) => failures.push({ code: f.code, status: f.status }));
  const client = new KmsClient({
    clientId: `${userName}-device`,
    discovery: () => transport.discovery('kms.realm.test'),
    transport,
    credential: async () => ({ bearer: (await node.identity.tokens.issueAccessToken(principal.id, { audience: 'kms', clientId: `${userName}-device`, scope: 'kms' })).accessToken }),
    trustedRoots: [node.caPem],
    expectedDomain: 'kms.realm.test',
    batching: { debounceMs: 5, maxBatch: 50 },
    timeouts: { initialMs: 1500, renegotiateAfterMs: 8000, giveUpAfterMs: 20_000 },
  });
  return {
    principalId: principal.id,
    client,
    transport,
    failures,
    async close() {
      // Not awaited: with the link already down, the channel delete would wait out the client's retries.
      void client.close().catch(() => undefined);
      transport.close();
    },
  };
}

/** HTTPS + JSON to the core, trusting only its certificate. */
export async function fetchJson(sim: { url: string; caPem: string; servername?: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const { request } = await import('node:https');
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${sim.url}${path}`, { method, ca: sim.caPem, ...(sim.servername !== undefined && { servername: sim.servername }), headers: { ...(text !== undefined && { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

export const control = (sim: CoreSim & { servername?: string }, method: string, path: string, body?: unknown) => fetchJson(sim, method, `/control${path}`, body, { 'x-control-token': CONTROL_TOKEN });

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A TCP relay between the link and the core that can be frozen: bytes stop flowing both ways on
 * the connections open at that moment, as in a network partition where nothing is closed.
 */
export class FreezableProxy {
  private readonly server: Server;
  private readonly pairs: [Socket, Socket][] = [];
  private readonly frozen: [Socket, Socket][] = [];
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(this.targetPort, '127.0.0.1');
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', end);
      outbound.on('error', end);
      inbound.on('close', end);
      outbound.on('close', end);
      this.pairs.push([inbound, outbound]);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Stops forwarding on every open connection (new ones still pass). */
  freeze(): void {
    for (const [a, b] of this.pairs.splice(0)) {
      this.frozen.push([a, b]);
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  async close(): Promise<void> {
    for (const [a, b] of [...this.pairs, ...this.frozen]) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
