import type { RealmConfig } from '@realm/config';
import { Database } from '@realm/persistence';
import { testConfig } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS, type VaultOptions } from '../src/index.js';

export async function openDatabase(config: RealmConfig): Promise<Database> {
  const db = await Database.open(config.database, { entities: VAULT_ENTITIES, migrations: VAULT_MIGRATIONS });
  await db.migrate();
  return db;
}

export interface VaultFixture {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  /** A second vault instance on the same database: another process's view, with a cold KEK cache. */
  reopen(options?: VaultOptions): Promise<KeyVault>;
  close(): Promise<void>;
}

export async function openVault(env: Record<string, string>, options: VaultOptions = {}): Promise<VaultFixture> {
  const config = testConfig(env);
  const db = await openDatabase(config);
  const vault = await KeyVault.open(config, db, options);
  const others: KeyVault[] = [];
  return {
    config,
    db,
    vault,
    async reopen(more: VaultOptions = {}) {
      const other = await KeyVault.open(config, db, { ...options, ...more });
      others.push(other);
      return other;
    },
    async close() {
      // Only close the backend once per process for PKCS#11: sessions are per backend instance.
      for (const other of others) other.close();
      vault.close();
      await db.close();
    },
  };
}
