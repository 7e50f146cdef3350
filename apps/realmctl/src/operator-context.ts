import { hostname, userInfo } from 'node:os';
import { loadConfig, type RealmConfig } from '@realm/config';
import { AuditLog, type AuditEvent } from '@realm/audit';
import type { Database } from '@realm/persistence';
import { openDatabaseAndVault } from '@realm/realm/runtime';
import type { KeyVault } from '@realm/vault';

/** The operator running the command, as the audit log records them. */
export function operatorActor(): NonNullable<AuditEvent['actor']> {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep 'unknown'.
  }
  return { type: 'operator', id: `${user}@${hostname()}` };
}

export interface OperatorSession {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  /** The audit log, opened on demand (it needs an initialised vault for its checkpoint key). */
  audit(): Promise<AuditLog>;
  close(): Promise<void>;
}

/**
 * Loads the configuration the appliance uses and opens the database and the vault, closing what
 * was opened if a later step fails.
 */
export async function openOperatorSession(): Promise<OperatorSession> {
  const config = loadConfig();
  const { db, vault } = await openDatabaseAndVault(config);
  let audit: AuditLog | undefined;
  return {
    config,
    db,
    vault,
    async audit() {
      audit ??= await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
      return audit;
    },
    async close() {
      try {
        await audit?.close();
      } finally {
        vault.close();
        await db.close();
      }
    },
  };
}

/** Runs `work` with a session and always closes it. */
export async function withOperatorSession<T>(work: (session: OperatorSession) => Promise<T>): Promise<T> {
  const session = await openOperatorSession();
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}
