import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import type { KeyVault } from '@realm/vault';
import { KmsError } from '../kms.error.js';

/**
 * A PKCS#10 certification request (RFC 2986) for the KMS static key, for the enterprise CA: subject
 * CN and subjectAltName dNSName = the KMS domain, as clients check (RFC 6125). node-forge only
 * encodes the request; the signature (sha256WithRSAEncryption) is made by the vault, inside the
 * HSM with the PKCS#11 backend, so the private key never leaves it.
 */
export async function buildStaticKeyCsr(vault: KeyVault, keyUri: string, domain: string): Promise<string> {
  const publicKey = await vault.rsaKeys.publicKey(keyUri);
  if (!publicKey) throw new KmsError('KMS_UNAVAILABLE', 'the KMS static key pair is missing from the vault');
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: domain }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [
        { name: 'subjectAltName', altNames: [{ type: 2, value: domain }] },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
      ],
    },
  ]);
  // Present in node-forge's x509 module, missing from its type definitions.
  const pki = forge.pki as typeof forge.pki & { getCertificationRequestInfo(request: unknown): forge.asn1.Asn1 };
  const info = pki.getCertificationRequestInfo(csr);
  const signature = await vault.rsaKeys.pkcs1Sha256Sign(keyUri, Buffer.from(forge.asn1.toDer(info).getBytes(), 'binary'));
  const signed = csr as typeof csr & { certificationRequestInfo: forge.asn1.Asn1; signatureOid: string; signature: string };
  signed.certificationRequestInfo = info;
  signed.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  signed.signature = signature.toString('binary');
  return forge.pki.certificationRequestToPem(signed);
}

/** The certificates of a PEM bundle as x5c entries (base64 DER), in file order (leaf first). */
export function pemChainToX5c(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new KmsError('KMS_BAD_REQUEST', 'the file holds no PEM certificate');
  return blocks.map((block) => {
    try {
      return new X509Certificate(block).raw.toString('base64');
    } catch {
      throw new KmsError('KMS_BAD_REQUEST', 'a certificate in the file does not parse');
    }
  });
}
