/**
 * Certificates an attacker could make, built with node-forge independently of the code under test:
 * a look-alike CA, self-signed leaves, expired leaves. Keys are RSA (forge encodes RSA keys only),
 * generated with node:crypto.
 */
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export interface ForgeKeyPair {
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly keyObject: KeyObject;
  readonly jwk: JsonWebKey;
}

export function rsaKeyPair(bits = 2048): ForgeKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string) as forge.pki.rsa.PublicKey,
    keyObject: publicKey,
    jwk: publicKey.export({ format: 'jwk' }),
  };
}

/** A forge private key from PKCS#8 DER (e.g. the real service CA key, taken out of the vault). */
export function forgePrivateKey(pkcs8Der: Buffer): forge.pki.rsa.PrivateKey {
  const pem = `-----BEGIN PRIVATE KEY-----\n${pkcs8Der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
  return forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
}

export interface HostileCertificate {
  readonly subject: { commonName: string; organizationName?: string };
  readonly issuer: { commonName: string; organizationName?: string };
  readonly subjectKey: forge.pki.rsa.PublicKey;
  readonly signingKey: forge.pki.rsa.PrivateKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca?: boolean;
  readonly uri?: string;
}

/** A certificate as base64 DER (an x5c entry). */
export function hostileCertificate(spec: HostileCertificate): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.subjectKey;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const name = (n: { commonName: string; organizationName?: string }) => [
    ...(n.organizationName !== undefined ? [{ name: 'organizationName', value: n.organizationName, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }] : []),
    { name: 'commonName', value: n.commonName, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class },
  ];
  cert.setSubject(name(spec.subject));
  cert.setIssuer(name(spec.issuer));
  cert.setExtensions(
    spec.ca
      ? [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
          { name: 'subjectKeyIdentifier' },
        ]
      : [
          { name: 'basicConstraints', cA: false, critical: true },
          { name: 'keyUsage', digitalSignature: true, critical: true },
          { name: 'extKeyUsage', clientAuth: true },
          ...(spec.uri ? [{ name: 'subjectAltName', altNames: [{ type: 6, value: spec.uri }] }] : []),
        ],
  );
  cert.sign(spec.signingKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary').toString('base64');
}

/** Parses an RSA-keyed certificate with forge, to inspect extensions node:crypto does not expose. */
export function inspectRsaCertificate(pem: string): forge.pki.Certificate {
  return forge.pki.certificateFromPem(pem);
}
