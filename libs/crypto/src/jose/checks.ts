import { KeyObject } from 'node:crypto';
import { describeType } from '../bytes.js';
import { invalidInput } from '../crypto.error.js';

/** RFC 7518 §3.3, §3.5 and §4.3: "A key of size 2048 bits or larger MUST be used". */
const MIN_RSA_BITS = 2048;

/** A `kid` of our own making (or an expected one): a non-empty string. Never put in a message. */
export function requireKid(kid: unknown): asserts kid is string {
  if (typeof kid !== 'string' || kid === '') throw invalidInput('kid must be a non-empty string');
}

/**
 * An RSA key of the given type with a modulus of at least 2048 bits. Keys typed `rsa-pss` (an SPKI
 * or PKCS#8 with the RSASSA-PSS OID, which OpenSSL binds to its own parameters) are refused:
 * JWK imports and PKCS#11 exports are plain `rsa`, and one key type keeps the parameter
 * handling in one place.
 */
export function requireRsaKey(key: unknown, type: 'public' | 'private', what: string): asserts key is KeyObject {
  if (!(key instanceof KeyObject) || key.type !== type) {
    throw invalidInput(`${what} must be a ${type} KeyObject, got ${key instanceof KeyObject ? `a ${key.type} key` : describeType(key)}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw invalidInput(`${what} must be an RSA key, got ${String(key.asymmetricKeyType)}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw invalidInput(`${what} must have a modulus of at least ${MIN_RSA_BITS} bits, got ${bits}`);
}
