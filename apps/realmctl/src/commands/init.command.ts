import { withOperatorSession, operatorActor } from '../operator-context.js';
import type { Output } from '../output.js';

/**
 * `realmctl init`: creates master-key generation 1 in the configured backend, the first KEK, the
 * audit checkpoint key, the token-signing key, the service CA and the KMS static key (with a
 * development certificate in development). Safe to run twice; a second run changes nothing.
 */
export async function initCommand(out: Output): Promise<void> {
  await withOperatorSession(async ({ config, vault, audit, identityAndKms }) => {
    const result = await vault.initialize();
    const log = await audit();
    const { kms } = await identityAndKms(true);
    const { uri, chain } = await kms.staticKey.current();
    await log.record({ action: 'vault.initialize', outcome: 'success', actor: operatorActor(), details: { created: result.created, generation: result.generation, backend: config.vault.backend } });
    const where = config.vault.backend === 'pkcs11' ? `PKCS#11 token '${config.vault.pkcs11!.tokenLabel}'` : `software key file in ${config.dataDir}/vault (development only)`;
    out.line(
      result.created
        ? `initialised: master key '${config.vault.masterKeyLabel}' generation ${result.generation} created in the ${where}; database ${config.database.url}`
        : `already initialised: master key generation ${result.generation} is active in the ${where}; nothing changed`,
    );
    out.line(`KMS static key ${uri}: ${chain.length > 0 ? 'certificate present' : 'no certificate yet (realmctl kms csr, then realmctl kms import-certificate)'}`);
  });
}
