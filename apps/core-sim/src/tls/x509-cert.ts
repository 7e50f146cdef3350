import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * X.509 v3 certificates (RFC 5280) with node:crypto alone: a small DER encoder for the few
 * structures a TLS certificate needs. node:crypto holds the keys and signs; nothing else is needed,
 * so the simulator carries no certificate library. ECDSA P-256 (ecdsa-with-SHA256) or RSA
 * (sha256WithRSAEncryption) issuers.
 */

export interface CertificateSpec {
  readonly commonName: string;
  readonly publicKey: KeyObject;
  /** Absent: self-signed with `signingKey`. */
  readonly issuer?: { readonly commonName: string; readonly publicKey: KeyObject };
  /** The issuer's private key (the subject's own for a self-signed certificate). */
  readonly signingKey: KeyObject;
  readonly ca?: boolean;
  readonly serverAuth?: boolean;
  readonly clientAuth?: boolean;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly uris?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** Builds and signs a certificate; returns it as PEM. */
export function issueCertificate(spec: CertificateSpec): string {
  const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = spec.notAfter ?? new Date(Date.now() + 365 * 86_400_000);
  const issuerName = spec.issuer?.commonName ?? spec.commonName;
  const issuerKey = spec.issuer?.publicKey ?? spec.publicKey;
  const algorithm = signatureAlgorithm(spec.signingKey);
  const extensions: Buffer[] = [
    // §4.2.1.9 basicConstraints: a CA (no path length limit needed here), or an end entity.
    extension('2.5.29.19', true, spec.ca ? seq(bool(true)) : seq()),
    // §4.2.1.3 keyUsage: certificate signing for a CA; signatures (and RSA key transport) otherwise.
    extension('2.5.29.15', true, keyUsage(spec.ca ? [5, 6] : spec.publicKey.asymmetricKeyType === 'rsa' ? [0, 2] : [0])),
    extension('2.5.29.14', false, octet(keyIdentifier(spec.publicKey))),
    // §4.2.1.1 authorityKeyIdentifier [0] keyIdentifier.
    extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(issuerKey)))),
  ];
  const purposes = [...(spec.serverAuth ? ['1.3.6.1.5.5.7.3.1'] : []), ...(spec.clientAuth ? ['1.3.6.1.5.5.7.3.2'] : [])];
  if (purposes.length > 0) extensions.push(extension('2.5.29.37', false, seq(...purposes.map(oid))));
  const altNames = [
    // §4.2.1.6 GeneralName: [2] dNSName, [6] uniformResourceIdentifier, [7] iPAddress (IMPLICIT).
    ...(spec.dnsNames ?? []).map((name) => tlv(0x82, Buffer.from(name, 'ascii'))),
    ...(spec.uris ?? []).map((uri) => tlv(0x86, Buffer.from(uri, 'ascii'))),
    ...(spec.ipAddresses ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  if (altNames.length > 0) extensions.push(extension('2.5.29.17', false, seq(...altNames)));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serialNumber()),
    algorithm,
    name(issuerName),
    seq(time(notBefore), time(notAfter)),
    name(spec.commonName),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  const der = seq(tbs, algorithm, bitString(signature));
  return toPem(der);
}

export interface KeyAndCertificate {
  readonly keyPem: string;
  readonly certPem: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A fresh P-256 key and a self-signed TLS server certificate naming `hosts` (DNS names or IPs). */
export function selfSignedServerCertificate(commonName: string, hosts: readonly string[], days = 825): KeyAndCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certPem = issueCertificate({
    commonName,
    publicKey,
    signingKey: privateKey,
    serverAuth: true,
    dnsNames: hosts.filter((h) => isIP(h) === 0),
    ipAddresses: hosts.filter((h) => isIP(h) !== 0),
    notAfter: new Date(Date.now() + days * 86_400_000),
  });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem, privateKey, publicKey };
}

export function toPem(der: Buffer): string {
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

// ---- DER (X.690) -------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const hex = n.toString(16);
    const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    length = Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const bool = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const octet = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const bitString = (bytes: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));

/** A non-negative INTEGER from big-endian magnitude bytes (minimal, with a 00 octet when the top bit is set). */
function integer(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const bytes = magnitude.subarray(i);
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const groups = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** Name: one RDN, commonName as UTF8String (§4.1.2.4). */
function name(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, Zulu. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octet(value)) : seq(oid(id), octet(value));
}

/** KeyUsage BIT STRING (§4.2.1.3) from bit numbers (0 = digitalSignature), trailing zero bits dropped (DER). */
function keyUsage(bits: number[]): Buffer {
  let value = 0;
  for (const bit of bits) value |= 0x80 >> bit;
  let unused = 0;
  while (unused < 7 && (value & (1 << unused)) === 0) unused++;
  return bitString(Buffer.from([value]), unused);
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256, no parameters (RFC 5758)
  if (key.asymmetricKeyType === 'rsa') return seq(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0))); // sha256WithRSAEncryption, NULL
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
}

/** §4.2.1.2 allows any unique value: the first 160 bits of SHA-256 over the SubjectPublicKeyInfo. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 20);
}

/** 16 random octets, positive (§4.1.2.2). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const halves = ip.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}
