import { hostname } from 'node:os';
import type { RealmConfig } from '@realm/config';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import { Database, type MigrationClass, type PortableEntity } from '@realm/persistence';
import { createBackend, KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS, VaultError } from '@realm/vault';

/** Every table of the appliance, and the migrations that create them, in one place. */
export const REALM_ENTITIES: readonly PortableEntity<object>[] = [...VAULT_ENTITIES, ...AUDIT_ENTITIES];
export const REALM_MIGRATIONS: readonly MigrationClass[] = [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS];

/** What the runtime reports while it starts (a pino logger fits). */
export interface RuntimeLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface RealmRuntime {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  /** Writes `realm.stop`, seals the audit log with a checkpoint, logs out of the HSM, closes the database. */
  close(): Promise<void>;
}

/** Opens the database and applies pending migrations (several nodes may do this at once). */
export async function openRealmDatabase(config: RealmConfig): Promise<Database> {
  const db = await Database.open(config.database, { entities: REALM_ENTITIES, migrations: REALM_MIGRATIONS });
  try {
    await db.migrate();
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * Logs in to the vault backend first (a wrong PIN, token label or module stops here, before the
 * database is created or migrated), then opens the database and the vault over it.
 */
export async function openDatabaseAndVault(config: RealmConfig): Promise<{ db: Database; vault: KeyVault }> {
  const backend = createBackend(config);
  let db: Database;
  try {
    db = await openRealmDatabase(config);
  } catch (error) {
    backend.close();
    throw error;
  }
  try {
    return { db, vault: await KeyVault.open(config, db, { backend }) };
  } catch (error) {
    await db.close();
    throw error;
  }
}

export interface OpenRuntimeOptions {
  /** Who starts: `appliance` (the server) or `realmctl`. */
  readonly component: 'appliance' | 'realmctl';
  /**
   * Create the master key when the vault is empty. The server does so only in development; in
   * production the master key is created deliberately, with `realmctl init`.
   */
  readonly initialize: boolean;
}

/**
 * Opens everything the appliance stands on, in order: the database (migrated), the vault (HSM
 * login, master-key check value), the audit log. Whatever fails stops the start with one line,
 * and whatever was opened before it is closed again.
 */
export async function openRealmRuntime(config: RealmConfig, log: RuntimeLog, options: OpenRuntimeOptions): Promise<RealmRuntime> {
  const { db, vault: opening } = await openDatabaseAndVault(config);
  let vault: KeyVault | undefined = opening;
  try {
    if (!(await vault.isInitialized())) {
      if (!options.initialize) {
        throw new VaultError('VAULT_NOT_INITIALIZED', `the vault has no master key yet: run \`realmctl init\` with the same configuration (vault.backend is ${config.vault.backend})`, { setting: 'vault.backend' });
      }
      const { generation } = await vault.initialize();
      log.info({ generation, backend: config.vault.backend }, 'vault initialised: master key created');
    }
    if (config.vault.backend === 'software') {
      log.warn({ backend: 'software', dataDir: config.dataDir }, 'the software vault keeps the master key in a file in the data directory: development only, not for production (set vault.backend=pkcs11)');
    }
    const audit = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
    const actor = { type: 'system' as const, id: `${options.component}@${hostname()}` };
    await audit.record({ action: `${options.component}.start`, outcome: 'success', actor, details: { backend: config.vault.backend, database: config.database.driver, env: config.env } });
    const opened = vault;
    return {
      config,
      db,
      vault: opened,
      audit,
      async close() {
        try {
          await audit.record({ action: `${options.component}.stop`, outcome: 'success', actor });
          await audit.close();
        } finally {
          opened.close();
          await db.close();
        }
      },
    };
  } catch (error) {
    vault?.close();
    await db.close();
    throw error;
  }
}
