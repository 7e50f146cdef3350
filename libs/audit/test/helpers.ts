import type { RealmConfig } from '@realm/config';
import { Database, type DatabaseOptions } from '@realm/persistence';
import { testConfig } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog, type AuditLogOptions } from '../src/index.js';

export interface AuditFixture {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  readonly log: AuditLog;
  close(): Promise<void>;
}

export async function openAudit(env: Record<string, string>, options: Partial<AuditLogOptions> = {}, walFileSync?: DatabaseOptions['walFileSync']): Promise<AuditFixture> {
  const config = testConfig(env);
  const db = await Database.open(config.database, { entities: [...VAULT_ENTITIES, ...AUDIT_ENTITIES], migrations: [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS], ...(walFileSync && { walFileSync }) });
  await db.migrate();
  const vault = await KeyVault.open(config, db);
  await vault.initialize();
  const log = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds, ...options });
  return {
    config,
    db,
    vault,
    log,
    async close() {
      await log.close();
      vault.close();
      await db.close();
    },
  };
}
