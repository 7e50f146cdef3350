import { AuditVerifier } from '@realm/audit';
import { withOperatorSession } from '../operator-context.js';
import { CommandFailure, type Output } from '../output.js';

/**
 * `realmctl audit verify`: walks the chain and the signed checkpoints, and cross-checks the
 * checkpoint keys against the vault. Reports the first tampered record by position and exits
 * non-zero then.
 */
export async function auditVerifyCommand(out: Output, options: { json?: boolean }): Promise<void> {
  await withOperatorSession(async ({ db, vault }) => {
    const report = await new AuditVerifier(db, vault).verify();
    if (options.json) out.json(report);
    if (!report.ok) throw new CommandFailure(`audit log TAMPERED: ${report.problem!.message}`);
    if (!options.json) {
      out.line(`audit log intact: ${report.records} records, ${report.checkpoints} signed checkpoints, ${report.unsealed} records after the last checkpoint`);
    }
  });
}
