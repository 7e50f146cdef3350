import { type KeyObject, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { sha256 } from '@realm/crypto';

/**
 * X.509 certificate encoding (RFC 5280), the one thing node:crypto has no API for.
 *
 * node-forge encodes the names and extensions; node:crypto supplies the SubjectPublicKeyInfo and
 * makes the signature. Forge's own `cert.sign` is not used: it can only carry RSA subject keys,
 * and service keys are usually EC P-256, and it would need the CA private key converted into a
 * pure-JavaScript key object. Keys are never generated here.
 */

const { asn1 } = forge;
/** sha256WithRSAEncryption (RFC 4055 §5), parameters NULL. */
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

export interface DistinguishedName {
  readonly commonName: string;
  readonly organizationName?: string;
}

export type CertificateProfile =
  /** A CA that signs end-entity certificates only. */
  | { readonly kind: 'service-ca' }
  /** A service's TLS-client / request-signing certificate, naming the service by URI. */
  | { readonly kind: 'service-client'; readonly uri: string; readonly authorityKeyIdentifier: Buffer }
  /** The KMS static identity (development): names the KMS domain, as clients check (RFC 6125). */
  | { readonly kind: 'kms-server'; readonly dnsName: string; readonly authorityKeyIdentifier: Buffer };

export interface CertificateRequest {
  /** Lower-case hex of a positive INTEGER without leading zero octets ({@link randomSerialNumber}). */
  readonly serialNumber: string;
  readonly subject: DistinguishedName;
  /**
   * The issuer's name, or the issuer's certificate (DER), whose subject is then copied byte for
   * byte: RFC 5280 §4.1.2.4 chains certificates by comparing these names.
   */
  readonly issuer: DistinguishedName | { readonly certificate: Buffer };
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectPublicKey: KeyObject;
  readonly profile: CertificateProfile;
  /** The issuer's RSA private key (the subject's own key for a self-signed CA). */
  readonly signingKey: KeyObject;
}

/** Builds and signs a certificate; returns its DER. */
export function buildCertificate(request: CertificateRequest): Buffer {
  if (request.signingKey.type !== 'private' || request.signingKey.asymmetricKeyType !== 'rsa') throw new Error('certificates are signed with an RSA private key');
  const spki = request.subjectPublicKey.export({ type: 'spki', format: 'der' });
  // A scratch forge certificate, used only for its name and extension encoders.
  const scratch = forge.pki.createCertificate();
  scratch.setSubject(nameAttributes(request.subject));
  if (!('certificate' in request.issuer)) scratch.setIssuer(nameAttributes(request.issuer));
  const issuerName = 'certificate' in request.issuer ? subjectNameOf(request.issuer.certificate) : forge.pki.distinguishedNameToAsn1(scratch.issuer);
  scratch.setExtensions(extensionsOf(request.profile, keyIdentifierOf(request.subjectPublicKey)));
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    // version [0] v3 (RFC 5280 §4.1.2.1: extensions are present)
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes())]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(request.serialNumber)),
    signatureAlgorithm(),
    issuerName,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [timeOf(request.notBefore), timeOf(request.notAfter)]),
    forge.pki.distinguishedNameToAsn1(scratch.subject),
    fromDer(spki),
    (forge.pki as unknown as { certificateExtensionsToAsn1(extensions: unknown[]): forge.asn1.Asn1 }).certificateExtensionsToAsn1(scratch.extensions),
  ]);
  const tbsDer = toDer(tbs);
  // RSASSA-PKCS1-v1_5 with SHA-256, by OpenSSL.
  const signature = sign('sha256', tbsDer, request.signingKey);
  // toDer is deterministic: the TBS encodes to the very bytes that were signed.
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    signatureAlgorithm(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signature.toString('binary')),
  ]);
  return toDer(certificate);
}

/**
 * RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 hash of the subjectPublicKey BIT
 * STRING value (without tag, length and unused-bits octet). Used as subjectKeyIdentifier (RFC 5280
 * §4.2.1.2) and, in the certificates a CA issues, as their authorityKeyIdentifier (§4.2.1.1).
 */
export function keyIdentifierOf(publicKey: KeyObject): Buffer {
  const spki = forge.asn1.fromDer(forge.util.createBuffer(publicKey.export({ type: 'spki', format: 'der' }).toString('binary')), {
    strict: true,
    decodeBitStrings: false,
  } as unknown as boolean);
  const bitString = (spki.value as forge.asn1.Asn1[])[1]!;
  const bits = Buffer.from(bitString.value as string, 'binary').subarray(1);
  return sha256(bits).subarray(0, 20);
}

/**
 * 16 random octets as a positive INTEGER (RFC 5280 §4.1.2.2: positive, at most 20 octets; CAs
 * SHOULD use at least 64 bits of randomness). All 128 bits are random: a leading octet with its top
 * bit set gets a 00 octet in front (it would be negative otherwise), and a leading 00 octet is
 * drawn again (its encoding would not be minimal DER).
 */
export function randomSerialNumber(): string {
  for (;;) {
    const bytes = randomBytes(16);
    if (bytes[0] === 0) continue;
    return (bytes[0]! >= 0x80 ? '00' : '') + bytes.toString('hex');
  }
}

function extensionsOf(profile: CertificateProfile, subjectKeyIdentifier: Buffer): object[] {
  const ski = { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, subjectKeyIdentifier.toString('binary')) };
  switch (profile.kind) {
    case 'service-ca':
      return [
        // §4.2.1.9: a CA, and only end-entity certificates below it.
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        // §4.2.1.3: signs certificates and CRLs, nothing else.
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ski,
      ];
    case 'service-client':
      return [
        // §4.2.1.9: not a CA (an empty SEQUENCE: cA defaults to false).
        { name: 'basicConstraints', cA: false, critical: true },
        // §4.2.1.3 and §4.2.1.12: signatures, for client authentication only.
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        // §4.2.1.6: GeneralName tag 6, uniformResourceIdentifier.
        { name: 'subjectAltName', altNames: [{ type: 6, value: profile.uri }] },
        ski,
        // §4.2.1.1: names the CA key that signed this certificate.
        { name: 'authorityKeyIdentifier', keyIdentifier: profile.authorityKeyIdentifier.toString('binary') },
      ];
    case 'kms-server':
      return [
        { name: 'basicConstraints', cA: false, critical: true },
        // The static key signs ECDHE responses and decrypts handshakes (key transport).
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        // §4.2.1.6: GeneralName tag 2, dNSName: the KMS domain clients match (RFC 6125).
        { name: 'subjectAltName', altNames: [{ type: 2, value: profile.dnsName }] },
        ski,
        { name: 'authorityKeyIdentifier', keyIdentifier: profile.authorityKeyIdentifier.toString('binary') },
      ];
  }
}

/** UTF8String attributes (RFC 5280 §4.1.2.4): names may be any Unicode. */
function nameAttributes(name: DistinguishedName): forge.pki.CertificateField[] {
  const utf8 = asn1.Type.UTF8 as unknown as forge.asn1.Class;
  return [
    ...(name.organizationName !== undefined ? [{ name: 'organizationName', value: name.organizationName, valueTagClass: utf8 }] : []),
    { name: 'commonName', value: name.commonName, valueTagClass: utf8 },
  ];
}

/** §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds. */
function timeOf(date: Date): forge.asn1.Asn1 {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return seconds.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(seconds))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(seconds));
}

/** The subject Name of a certificate: Certificate → tbsCertificate → subject (the sixth field of a v3 TBS). */
function subjectNameOf(certificateDer: Buffer): forge.asn1.Asn1 {
  const tbs = (fromDer(certificateDer).value as forge.asn1.Asn1[])[0]!;
  return (tbs.value as forge.asn1.Asn1[])[5]!;
}

function signatureAlgorithm(): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SHA256_WITH_RSA).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
  ]);
}

function fromDer(der: Buffer): forge.asn1.Asn1 {
  return asn1.fromDer(forge.util.createBuffer(der.toString('binary')), { strict: true, decodeBitStrings: false } as unknown as boolean);
}

function toDer(value: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(value).getBytes(), 'binary');
}
