import { operatorActor, withOperatorSession } from '../operator-context.js';
import type { Output } from '../output.js';

/**
 * `realmctl kms rotate-static-key`: a new static key pair (in the HSM with PKCS#11); channels
 * opened under the old one are answered with the signed reset (499) and clients renegotiate. In
 * development the new key gets a certificate from the appliance's CA; in production import one.
 */
export async function rotateStaticKeyCommand(out: Output): Promise<void> {
  await withOperatorSession(async ({ config, audit, identityAndKms }) => {
    const { identity, kms } = await identityAndKms();
    const uri = await kms.staticKey.rotate();
    if (config.env === 'development') {
      const { publicKey } = await kms.staticKey.current();
      await kms.staticKey.setCertificateChain(await identity.serviceCa.issueKmsCertificate(config.kms.domain, publicKey));
    }
    await (await audit()).record({ action: 'kms.static-key.rotate', outcome: 'success', actor: operatorActor(), resources: [uri] });
    out.line(`KMS static key rotated: ${uri} is active; open channels are reset`);
  });
}
