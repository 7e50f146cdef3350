import { createCipheriv, createDecipheriv } from 'node:crypto';
import { requireBytes, secretKeyLength, type SymmetricKey } from './bytes.js';
import { decryptFailed, invalidInput } from './crypto.error.js';

/**
 * RFC 5649 §3: the 32-bit Alternative Initial Value. OpenSSL appends the 32-bit message length
 * itself, so this half is all the wrap-pad ciphers take as their IV.
 */
const AIV = Buffer.from('a65959a6', 'hex');

/** OpenSSL's RFC 5649 ciphers, chosen by KEK length. */
const WRAP_PAD_CIPHERS: ReadonlyMap<number, string> = new Map([
  [16, 'id-aes128-wrap-pad'],
  [24, 'id-aes192-wrap-pad'],
  [32, 'id-aes256-wrap-pad'],
]);

/** RFC 5649 §4.1: the output is the padded length plus one 64-bit block, never under two blocks. */
const MIN_WRAPPED_BYTES = 16;

/**
 * AES Key Wrap with Padding (RFC 5649, also NIST SP 800-38F KWP). Deterministic: the same KEK and
 * key always give the same output, `8 * ceil(len / 8) + 8` bytes long.
 *
 * On PKCS#11 this is CKM_AES_KEY_WRAP_KWP (v3.0), and CKM_AES_KEY_WRAP_PAD on tokens that
 * implement that mechanism as RFC 5649, SoftHSMv2 among them. The v2.40 text of
 * CKM_AES_KEY_WRAP_PAD can also be read as PKCS#7 padding followed by RFC 3394, which is not
 * compatible; v3.0 deprecates it for that reason. Check a new token against the RFC 5649 §6
 * vectors before trusting blobs to travel between it and this function.
 */
export function aesKeyWrapPad(kek: SymmetricKey, keyToWrap: Uint8Array): Buffer {
  const cipherName = wrapCipherFor(kek);
  requireBytes(keyToWrap, 'keyToWrap');
  // RFC 5649 §4.1 is defined for 1 to 2^32 octets; OpenSSL would return an empty "wrap" for 0.
  if (keyToWrap.length === 0) throw invalidInput('aesKeyWrapPad needs a key of at least 1 byte, got an empty one');
  const cipher = createCipheriv(cipherName, kek, AIV);
  // One update() is one wrap: OpenSSL does not stream key wrap, so the key goes in whole.
  return Buffer.concat([cipher.update(keyToWrap), cipher.final()]);
}

/**
 * Inverse of {@link aesKeyWrapPad}. A blob of impossible length, an altered blob, a wrong KEK or a
 * failed RFC 5649 §4.2 padding check all throw the same `CRYPTO_DECRYPT_FAILED`.
 */
export function aesKeyUnwrapPad(kek: SymmetricKey, wrapped: Uint8Array): Buffer {
  const cipherName = wrapCipherFor(kek);
  requireBytes(wrapped, 'wrapped');
  if (wrapped.length < MIN_WRAPPED_BYTES || wrapped.length % 8 !== 0) throw decryptFailed();
  try {
    const decipher = createDecipheriv(cipherName, kek, AIV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    throw decryptFailed();
  }
}

function wrapCipherFor(kek: SymmetricKey): string {
  const length = secretKeyLength(kek, 'AES key wrap KEK');
  const name = WRAP_PAD_CIPHERS.get(length);
  if (name === undefined) {
    throw invalidInput(`an AES key wrap KEK must be 16, 24 or 32 bytes, got ${length} bytes`);
  }
  return name;
}
