import { readFileSync, writeFileSync } from 'node:fs';
import { buildStaticKeyCsr, pemChainToX5c } from '@realm/kms';
import { operatorActor, withOperatorSession } from '../operator-context.js';
import { CommandFailure, type Output } from '../output.js';

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

/**
 * `realmctl kms csr --out FILE`: a PKCS#10 request for the active static key (CN and dNSName = the
 * KMS domain), signed inside the HSM, for the enterprise CA.
 */
export async function staticKeyCsrCommand(out: Output, options: { out: string }): Promise<void> {
  await withOperatorSession(async ({ config, vault, identityAndKms }) => {
    const { kms } = await identityAndKms();
    const { uri } = await kms.staticKey.current();
    writeFileSync(options.out, await buildStaticKeyCsr(vault, uri, config.kms.domain), { flag: 'wx' });
    out.line(`wrote a certificate signing request for ${config.kms.domain} (static key ${uri}) to ${options.out}`);
  });
}

/**
 * `realmctl kms import-certificate FILE`: the chain the CA returned (PEM, leaf first). Refused
 * unless the leaf carries the static key and names the KMS domain and each certificate signs the
 * one before it.
 */
export async function importStaticKeyCertificateCommand(out: Output, file: string): Promise<void> {
  await withOperatorSession(async ({ audit, identityAndKms }) => {
    const { kms } = await identityAndKms();
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CommandFailure(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const chain = pemChainToX5c(pem);
    await kms.staticKey.setCertificateChain(chain);
    const { uri } = await kms.staticKey.current();
    await (await audit()).record({ action: 'kms.static-key.certificate.import', outcome: 'success', actor: operatorActor(), resources: [uri], details: { certificates: chain.length } });
    out.line(`imported a chain of ${chain.length} certificates for static key ${uri}`);
  });
}
