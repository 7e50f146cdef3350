import { operatorActor, withOperatorSession } from '../operator-context.js';
import { CommandFailure, type Output } from '../output.js';

/**
 * `realmctl vault rotate-master`: creates the next master-key generation (or resumes a pending
 * rotation) and re-wraps every KEK under it. Interrupted, it is simply run again.
 */
export async function rotateMasterCommand(out: Output, options: { batchSize: number }): Promise<void> {
  await withOperatorSession(async ({ vault, audit }) => {
    const log = await audit();
    const actor = operatorActor();
    let report;
    try {
      report = await vault.rotateMaster({ batchSize: options.batchSize, onProgress: (n) => out.line(`re-wrapped ${n} KEKs`) });
    } catch (error) {
      await log.record({ action: 'vault.master.rotate', outcome: 'failure', actor, reason: error instanceof Error ? error.message : String(error) });
      throw error;
    }
    await log.record({ action: 'vault.master.rotate', outcome: 'success', actor, details: { from: report.fromGeneration, to: report.toGeneration, rewrapped: report.rewrapped, completed: report.completed } });
    if (!report.completed) throw new CommandFailure(`rotation to generation ${report.toGeneration} is not complete: ${report.remaining} KEKs remain; run the command again`);
    out.line(`rotation complete: master key generation ${report.toGeneration} is active, ${report.rewrapped} KEKs re-wrapped; generation ${report.fromGeneration} is inactive (destroy it with: realmctl vault retire-master ${report.fromGeneration})`);
  });
}

/** `realmctl vault retire-master <generation>`: destroys an inactive generation in the backend. */
export async function retireMasterCommand(out: Output, generation: number): Promise<void> {
  await withOperatorSession(async ({ vault, audit }) => {
    const log = await audit();
    try {
      await vault.retireMaster(generation);
    } catch (error) {
      await log.record({ action: 'vault.master.retire', outcome: 'failure', actor: operatorActor(), reason: error instanceof Error ? error.message : String(error), details: { generation } });
      throw error;
    }
    await log.record({ action: 'vault.master.retire', outcome: 'success', actor: operatorActor(), details: { generation } });
    out.line(`master key generation ${generation} retired: destroyed in the backend`);
  });
}
