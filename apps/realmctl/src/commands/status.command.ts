import { describeConfig, loadConfig } from '@realm/config';
import { describeError } from '@realm/errors';
import { AuditVerifier } from '@realm/audit';
import { Pkcs11MasterKeyBackend } from '@realm/vault';
import { openOperatorSession } from '../operator-context.js';
import { CommandFailure, type Output } from '../output.js';

/**
 * `realmctl status`: the configuration (every secret as ****) and whether the database, the vault
 * and the audit log are healthy. Exits non-zero when anything is not.
 */
export async function statusCommand(out: Output, options: { json?: boolean }): Promise<void> {
  const config = loadConfig();
  const report: Record<string, unknown> = { config: describeConfig(config) };
  const problems: string[] = [];
  let session;
  try {
    session = await openOperatorSession();
  } catch (error) {
    problems.push(describeError(error));
  }
  if (session) {
    try {
      const { db, vault } = session;
      await db.ping();
      report.database = { ok: true, driver: db.driver, url: String(config.database.url) };
      const health = await vault.health();
      if (!health.ok) problems.push(`vault: ${health.detail}`);
      const status = await vault.status();
      const active = status.masterKeys.find((m) => m.state === 'active');
      report.vault = {
        ...status,
        health,
        ...(vault.backend instanceof Pkcs11MasterKeyBackend && active && { masterKeyAttributes: vault.backend.inspectMasterKey(active.generation) }),
      };
      if (!active) problems.push('vault: not initialised: run `realmctl init`');
      const audit = active ? await new AuditVerifier(db).verify() : undefined;
      report.audit = audit ?? { records: 0 };
      if (audit && !audit.ok) problems.push(`audit: ${audit.problem?.message ?? 'verification failed'} (run \`realmctl audit verify\`)`);
    } catch (error) {
      problems.push(describeError(error));
    } finally {
      await session.close();
    }
  }
  report.healthy = problems.length === 0;
  if (options.json) {
    out.json({ ...report, problems });
  } else {
    printStatus(out, report);
  }
  if (problems.length > 0) throw new CommandFailure(problems[0]!);
}

function printStatus(out: Output, report: Record<string, unknown>): void {
  const config = report.config as Record<string, unknown>;
  out.line('configuration:');
  for (const [key, value] of flatten(config)) out.line(`  ${key} = ${value}`);
  const database = report.database as { driver: string; url: string } | undefined;
  if (database) out.line(`database: ok (${database.driver}, ${database.url})`);
  const vault = report.vault as
    | { backend: Record<string, string>; health: { ok: boolean; detail: string }; masterKeys: { generation: number; state: string; keks: number; createdAt: string }[]; masterKeyAttributes?: Record<string, unknown> }
    | undefined;
  if (vault) {
    out.line(`vault: ${vault.health.ok ? 'ok' : 'NOT OK'} (${vault.health.detail})`);
    for (const m of vault.masterKeys) out.line(`  master key generation ${m.generation}: ${m.state}, ${m.keks} KEKs, created ${m.createdAt}`);
    if (vault.masterKeyAttributes) out.line(`  token attributes: ${Object.entries(vault.masterKeyAttributes).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`);
  }
  const audit = report.audit as { ok?: boolean; records: number; checkpoints?: number; unsealed?: number } | undefined;
  if (audit?.ok !== undefined) out.line(`audit: ${audit.ok ? 'intact' : 'TAMPERED'} (${audit.records} records, ${audit.checkpoints} signed checkpoints, ${audit.unsealed} after the last checkpoint)`);
  out.line(report.healthy ? 'healthy' : 'NOT healthy');
}

function flatten(value: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(value).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, String(v)] as [string, string]],
  );
}
