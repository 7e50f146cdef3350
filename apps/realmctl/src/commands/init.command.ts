import { withOperatorSession, operatorActor } from '../operator-context.js';
import type { Output } from '../output.js';

/**
 * `realmctl init`: creates master-key generation 1 in the configured backend, the first KEK and
 * the audit checkpoint key. Safe to run twice; a second run changes nothing.
 */
export async function initCommand(out: Output): Promise<void> {
  await withOperatorSession(async ({ config, vault, audit }) => {
    const result = await vault.initialize();
    const log = await audit();
    await log.record({ action: 'vault.initialize', outcome: 'success', actor: operatorActor(), details: { created: result.created, generation: result.generation, backend: config.vault.backend } });
    const where = config.vault.backend === 'pkcs11' ? `PKCS#11 token '${config.vault.pkcs11!.tokenLabel}'` : `software key file in ${config.dataDir}/vault (development only)`;
    out.line(
      result.created
        ? `initialised: master key '${config.vault.masterKeyLabel}' generation ${result.generation} created in the ${where}; database ${config.database.url}`
        : `already initialised: master key generation ${result.generation} is active in the ${where}; nothing changed`,
    );
  });
}
