import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import { Database } from '@realm/persistence';
import { type TestDatabase, testConfig } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { IDENTITY_ENTITIES, IDENTITY_MIGRATIONS, IdentityError, type IdentityErrorCode, type Identity, type IdentityOptions, openIdentity } from '../src/index.js';

export const ISSUER = 'https://realm.test/';

/** One appliance node: its own database connection(s), vault, audit log and identity services. */
export interface IdentityNode {
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  readonly identity: Identity;
  close(): Promise<void>;
}

export interface IdentityFixture extends IdentityNode {
  readonly config: RealmConfig;
  /** The shared test clock (milliseconds); tests move it. */
  readonly clock: { now: number };
  /** Another node on the same database (its own connection, vault and audit log), with cold caches. */
  openNode(options?: Partial<IdentityOptions>): Promise<IdentityNode>;
  /**
   * Identity services that may write at the same moment as this node's: on PostgreSQL another
   * node; on SQLite new services over this node's connection. better-sqlite3 waits for another
   * connection's lock synchronously, blocking the event loop the lock holder needs to commit, so
   * two connections of one process writing at once deadlock; concurrency across processes on
   * SQLite is tested with child processes instead (fixtures/identity-node.ts).
   */
  openPeer(options?: Partial<IdentityOptions>): Promise<Identity>;
  /** Every audit record body, in order. */
  auditBodies(): Promise<string[]>;
}

export async function openIdentityFixture(database: TestDatabase, options: Partial<IdentityOptions> = {}): Promise<IdentityFixture> {
  const created = await database.create();
  const config = testConfig(created.env);
  const clock = { now: Date.now() };
  const identityOptions: IdentityOptions = { tokens: { issuer: ISSUER }, clock: () => clock.now, ...options };
  const nodes: IdentityNode[] = [];
  const first = await openNode(config, identityOptions, true);
  nodes.push(first);
  const another = async (more: Partial<IdentityOptions> = {}): Promise<IdentityNode> => {
    const node = await openNode(config, { ...identityOptions, initializeServiceCa: false, ...more }, false);
    nodes.push(node);
    return node;
  };
  return {
    ...first,
    config,
    clock,
    openNode: another,
    async openPeer(more: Partial<IdentityOptions> = {}) {
      if (first.db.driver === 'postgres') return (await another(more)).identity;
      return openIdentity(first.db, first.vault, first.audit, { ...identityOptions, initializeServiceCa: false, ...more });
    },
    async auditBodies() {
      await first.audit.checkpoint();
      const rows = await first.db.query<{ body: string }[]>('SELECT body FROM audit_records ORDER BY seq');
      return rows.map((r) => r.body);
    },
    async close() {
      for (const node of nodes.reverse()) await node.close().catch(() => undefined);
      await created.drop();
    },
  };
}

/** A node over the database `env` points at (for child processes); `initializeVault` as `realmctl init` would. */
export function openNodeFromEnv(env: Record<string, string>, options: IdentityOptions, initializeVault = false): Promise<IdentityNode> {
  return openNode(testConfig(env), options, initializeVault);
}

async function openNode(config: RealmConfig, options: IdentityOptions, initializeVault: boolean): Promise<IdentityNode> {
  const db = await Database.open(config.database, {
    entities: [...VAULT_ENTITIES, ...AUDIT_ENTITIES, ...IDENTITY_ENTITIES],
    migrations: [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS, ...IDENTITY_MIGRATIONS],
  });
  await db.migrate();
  const vault = await KeyVault.open(config, db);
  if (initializeVault) await vault.initialize();
  const audit = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
  const identity = await openIdentity(db, vault, audit, options);
  return {
    db,
    vault,
    audit,
    identity,
    async close() {
      await audit.close();
      vault.close();
      await db.close();
    },
  };
}

/** An assert.rejects predicate: an IdentityError with `code` (and, optionally, a cause matching `reason`). */
export function identityError(code: IdentityErrorCode, reason?: RegExp) {
  return (error: unknown): boolean => {
    if (!(error instanceof IdentityError)) throw new Error(`expected IdentityError ${code}, got ${String(error)}`, { cause: error });
    if (error.code !== code) throw new Error(`expected ${code}, got ${error.code} (${error.message}; ${String((error.cause as Error | undefined)?.message)})`);
    if (reason && !reason.test(String((error.cause as Error | undefined)?.message))) throw new Error(`${code} for the wrong reason: ${String((error.cause as Error | undefined)?.message)}`);
    return true;
  };
}
