import { hostname, userInfo } from 'node:os';
import { loadConfig, type RealmConfig } from '@realm/config';
import { AuditLog, type AuditEvent } from '@realm/audit';
import type { Database } from '@realm/persistence';
import type { Identity } from '@realm/identity';
import type { KmsRuntime } from '@realm/kms';
import { openDatabaseAndVault, openIdentityAndKms } from '@realm/realm/runtime';
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
  /** Identity and KMS, opened on demand; `initialize` creates what is missing (realmctl init). */
  identityAndKms(initialize?: boolean): Promise<{ identity: Identity; kms: KmsRuntime }>;
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
  let identityAndKms: { identity: Identity; kms: KmsRuntime } | undefined;
  const session: OperatorSession = {
    config,
    db,
    vault,
    async audit() {
      audit ??= await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
      return audit;
    },
    async identityAndKms(initialize = false) {
      identityAndKms ??= await openIdentityAndKms(config, db, vault, await session.audit(), { initialize });
      return identityAndKms;
    },
    async close() {
      identityAndKms?.kms.close();
      try {
        await audit?.close();
      } finally {
        vault.close();
        await db.close();
      }
    },
  };
  return session;
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
