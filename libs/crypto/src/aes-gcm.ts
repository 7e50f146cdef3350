import { createCipheriv, createDecipheriv } from 'node:crypto';
import { requireBytes, secretKeyLength, type SymmetricKey } from './bytes.js';
import { decryptFailed, invalidInput } from './crypto.error.js';
import { randomNonce } from './random.js';

/**
 * AES-256-GCM as NIST SP 800-38D defines it, fixed to the parameters JOSE's A256GCM uses
 * (RFC 7518 §5.3): a 256-bit key, a 96-bit IV and a 128-bit tag.
 */
const ALGORITHM = 'aes-256-gcm';
const GCM_KEY_BYTES = 32;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

/**
 * Encrypts under a fresh random IV and returns `iv(12) || ciphertext || tag(16)`.
 *
 * A random 96-bit IV keeps the chance of a repeat under 2^-32 for up to 2^32 messages per key
 * (SP 800-38D §8.3); a repeated IV under one key gives away the authentication key, so keys that
 * may seal more than that must be rotated.
 */
export function aesGcmSeal(key: SymmetricKey, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const iv = randomNonce(GCM_IV_BYTES);
  const { ciphertext, tag } = aesGcmEncrypt(key, iv, plaintext, aad);
  return Buffer.concat([iv, ciphertext, tag]);
}

/**
 * Inverse of {@link aesGcmSeal}. A sealed value that is too short, altered, bound to other AAD or
 * sealed under another key all throw the same `CRYPTO_DECRYPT_FAILED`.
 */
export function aesGcmOpen(key: SymmetricKey, sealed: Uint8Array, aad: Uint8Array): Buffer {
  requireGcmKey(key);
  requireBytes(sealed, 'sealed');
  requireBytes(aad, 'aad');
  if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw decryptFailed();
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const iv = bytes.subarray(0, GCM_IV_BYTES);
  const ciphertext = bytes.subarray(GCM_IV_BYTES, bytes.length - GCM_TAG_BYTES);
  const tag = bytes.subarray(bytes.length - GCM_TAG_BYTES);
  return aesGcmDecrypt(key, iv, ciphertext, tag, aad);
}

/**
 * Encryption with a caller-chosen IV, for published test vectors and for JOSE, which carries the
 * IV in its own field. The caller owns IV uniqueness: never let two messages share an IV under one
 * key. Everything else should use {@link aesGcmSeal}.
 */
export function aesGcmEncrypt(
  key: SymmetricKey,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  requireGcmKey(key);
  requireBytes(iv, 'iv');
  requireBytes(plaintext, 'plaintext');
  requireBytes(aad, 'aad');
  if (iv.length !== GCM_IV_BYTES) {
    throw invalidInput(`AES-256-GCM needs a ${GCM_IV_BYTES}-byte IV, got ${iv.length} bytes`);
  }
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  // GCM is a stream mode: final() adds nothing, so there is nothing to concatenate (and copy).
  const rest = cipher.final();
  return { ciphertext: rest.length === 0 ? ciphertext : Buffer.concat([ciphertext, rest]), tag: cipher.getAuthTag() };
}

/**
 * Decryption with an explicit IV and tag. The IV and tag arrive with the data, so a wrong length
 * for either is a decryption failure like any other, not a caller error.
 */
export function aesGcmDecrypt(
  key: SymmetricKey,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer {
  requireGcmKey(key);
  requireBytes(iv, 'iv');
  requireBytes(ciphertext, 'ciphertext');
  requireBytes(tag, 'tag');
  requireBytes(aad, 'aad');
  // node accepts tags of 4 to 16 bytes unless told otherwise; a truncated tag is a forgery
  // shortcut, so the length is pinned both here and through authTagLength.
  if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES) throw decryptFailed();
  let plaintext: Buffer | undefined;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    plaintext = decipher.update(ciphertext);
    const rest = decipher.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch {
    // update() hands out plaintext before final() has checked the tag: wipe what was never
    // authenticated.
    plaintext?.fill(0);
    throw decryptFailed();
  }
}

function requireGcmKey(key: SymmetricKey): void {
  const length = secretKeyLength(key, 'AES-256-GCM key');
  if (length !== GCM_KEY_BYTES) {
    throw invalidInput(`AES-256-GCM needs a ${GCM_KEY_BYTES}-byte key, got ${length} bytes`);
  }
}
