import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '@realm/audit';
import { openDatabaseAndVault, openIdentityAndKms } from '@realm/realm/runtime';
import { makeTempDir, testConfig } from '@realm/testing';

/**
 * `count` users and an access token each, made in-process on the appliance's database (realmctl
 * would take a second each); returns a 0600 file with one token per line for the load process.
 */
export async function provisionBenchUsers(env: Record<string, string>, count: number, prefix: string): Promise<string> {
  const config = testConfig(env);
  const { db, vault } = await openDatabaseAndVault(config);
  const audit = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
  const { identity, kms } = await openIdentityAndKms(config, db, vault, audit, { initialize: false });
  const tokens: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const user = await identity.principals.createUser({ userName: `${prefix}-${i}-${randomUUID().slice(0, 8)}` });
      tokens.push((await identity.tokens.issueAccessToken(user.id, { audience: 'kms', clientId: 'bench', lifetimeSeconds: 1800 })).accessToken);
    }
  } finally {
    kms.close();
    await audit.close();
    vault.close();
    await db.close();
  }
  const file = join(makeTempDir(`realm-${prefix}-tokens-`), 'tokens.txt');
  writeFileSync(file, tokens.join('\n'), { mode: 0o600 });
  return file;
}
