import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * The only place node-forge is used: node:crypto generates and holds keys but has no API to build an
 * X.509 certificate. Keys are never generated here; forge only encodes and signs.
 */

export interface SelfSignedCertificateRequest {
  /** PKCS#8 PEM of an RSA key generated with node:crypto (forge signs with RSA only). */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM of the same key. */
  readonly publicKeyPem: string;
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * A self-signed TLS server certificate (RFC 5280) signed with SHA-256: an end-entity certificate
 * (`cA` false) for `serverAuth` only, naming its hosts in subjectAltName, which is what clients
 * match (RFC 6125 §6.4.4: the CN is not consulted when SANs are present).
 */
export function createSelfSignedCertificate(request: SelfSignedCertificateRequest): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(request.publicKeyPem);
  cert.serialNumber = randomSerialNumberHex();
  cert.validity.notBefore = request.notBefore;
  cert.validity.notAfter = request.notAfter;
  const name = [{ name: 'commonName', value: request.commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        // GeneralName tags (RFC 5280 §4.2.1.6): 2 = dNSName, 7 = iPAddress.
        ...request.dnsNames.map((value) => ({ type: 2, value })),
        ...request.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(request.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * 16 random octets as a positive INTEGER (RFC 5280 §4.1.2.2: positive, at most 20 octets). The top
 * bit is cleared so the value is positive, and the next one set so the leading octet is never zero,
 * which would make the DER encoding non-minimal.
 */
function randomSerialNumberHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}
