import { createPublicKey, diffieHellman, generateKeyPairSync, KeyObject } from 'node:crypto';
import { describeType } from '../bytes.js';
import { invalidInput, malformed } from '../crypto.error.js';
import { hkdfSha256 } from '../hash.js';
import { base64urlEncode, isStrictBase64url } from './base64url.js';

/**
 * The ECDHE step of the KMS protocol: ephemeral P-256 keys on both sides, ECDH (SP 800-56A
 * §5.7.1.2, the shared secret being the x-coordinate), then HKDF-SHA-256 (RFC 5869) with an empty
 * salt, which RFC 5869 §2.2 makes 32 zero bytes, empty info and a 32-byte output. That is node-jose's
 * `ECDH-HKDF` derivation, so it is what node-kms and the Webex clients compute. The output is the
 * A256GCM channel key.
 */

/** A P-256 public key as RFC 7518 §6.2.1 writes it; nothing else. */
export interface P256PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

const COORDINATE_BYTES = 32;
const CHANNEL_KEY_BYTES = 32;
const EMPTY = new Uint8Array(0);

/** SEC 2 §2.4.2 / FIPS 186-4 §D.1.2.3: the P-256 field prime and curve coefficient b (a = -3). */
const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** A fresh ephemeral key pair; the private key stays a KeyObject in native memory. */
export function generateEphemeralP256(): { privateKey: KeyObject; publicJwk: P256PublicJwk } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, publicJwk: { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) } };
}

/**
 * Imports a peer's P-256 public key from a JWK received over the wire, `CRYPTO_MALFORMED` unless
 * it is one: `kty` "EC", `crv` "P-256" (no other curve), `x` and `y` each strict base64url of
 * exactly 32 bytes (RFC 7518 §6.2.1.2: the full field-element length, leading zeros kept), both
 * below the field prime, and the point on the curve: y² = x³ - 3x + b (mod p).
 *
 * This is the full public-key validation of SP 800-56A Rev. 3 §5.6.2.3.3, done here explicitly
 * rather than trusted to whichever OpenSSL node was built with: an off-curve point is the
 * invalid-curve attack (Biehl-Meyer-Müller 2000; Jager-Schwenk-Somorovsky 2015; against JOSE
 * libraries, node-jose among them, in 2017) that leaks the private key a few bits per exchange.
 * P-256 has cofactor 1, so a point on the curve is in the prime-order group and the routine's
 * last step (nQ = O) holds by itself; the point at infinity has no affine coordinates, and
 * (0, 0) is not on the curve since b ≠ 0. Every other member (`d`, which a
 * careless client may send, `kid`, `use`, `alg`, `key_ops`) is ignored: only x and y are read.
 */
export function importP256PublicJwk(jwk: unknown): KeyObject {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw malformed(`an EC public key must be a JWK object, got ${describeType(jwk)}`);
  }
  const { kty, crv, x, y } = jwk as Record<string, unknown>;
  if (kty !== 'EC') throw malformed('the public key JWK "kty" is not "EC"');
  if (crv !== 'P-256') throw malformed('the public key JWK "crv" is not "P-256"');
  const xBytes = coordinate(x, 'x');
  const yBytes = coordinate(y, 'y');
  const xn = BigInt(`0x${xBytes.toString('hex')}`);
  const yn = BigInt(`0x${yBytes.toString('hex')}`);
  if (xn >= P || yn >= P) throw malformed('the public key JWK has a coordinate outside the P-256 field');
  if ((yn * yn - (xn * xn * xn - 3n * xn + B)) % P !== 0n) {
    throw malformed('the public key JWK is not a point on P-256');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: base64urlEncode(xBytes), y: base64urlEncode(yBytes) }, format: 'jwk' });
  } catch {
    throw malformed('the public key JWK is not a P-256 public key');
  }
  return key;
}

/**
 * The channel key: HKDF-SHA-256(ECDH(privateKey, peerPublicKey), salt = empty, info = empty, 32).
 * Both keys must be P-256 KeyObjects; take the peer's from {@link importP256PublicJwk}.
 */
export function deriveChannelKey(privateKey: KeyObject, peerPublicKey: KeyObject): Buffer {
  requireP256(privateKey, 'private', 'ECDH private key');
  requireP256(peerPublicKey, 'public', 'ECDH peer public key');
  const shared = diffieHellman({ privateKey, publicKey: peerPublicKey });
  try {
    return hkdfSha256(shared, EMPTY, EMPTY, CHANNEL_KEY_BYTES);
  } finally {
    shared.fill(0);
  }
}

function coordinate(value: unknown, name: 'x' | 'y'): Buffer {
  if (!isStrictBase64url(value)) throw malformed(`the public key JWK "${name}" is not unpadded base64url`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length !== COORDINATE_BYTES) {
    throw malformed(`the public key JWK "${name}" must be ${COORDINATE_BYTES} bytes (RFC 7518 §6.2.1.2), got ${bytes.length}`);
  }
  return bytes;
}

function requireP256(key: unknown, type: 'public' | 'private', what: string): asserts key is KeyObject {
  if (!(key instanceof KeyObject) || key.type !== type) {
    throw invalidInput(`${what} must be a ${type} KeyObject, got ${key instanceof KeyObject ? `a ${key.type} key` : describeType(key)}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalidInput(`${what} must be a P-256 EC key`);
  }
}
