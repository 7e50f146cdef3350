import assert from 'node:assert/strict';
import { CryptoError, type CryptoErrorCode } from '../src/index.js';

export const hex = (text: string): Buffer => Buffer.from(text, 'hex');

/** Asserts `fn` throws a CryptoError with `code`; for decrypt failures also the one fixed message. */
export function assertCryptoError(fn: () => unknown, code: CryptoErrorCode): CryptoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof CryptoError, `expected a CryptoError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (code === 'CRYPTO_DECRYPT_FAILED') {
    assert.equal(caught.message, 'decryption failed');
    assert.equal(caught.cause, undefined, 'a decrypt failure must carry no cause that could tell cases apart');
  }
  return caught;
}

export const assertDecryptFailed = (fn: () => unknown): CryptoError => assertCryptoError(fn, 'CRYPTO_DECRYPT_FAILED');
export const assertInvalidInput = (fn: () => unknown): CryptoError => assertCryptoError(fn, 'CRYPTO_INVALID_INPUT');

/** A copy of `bytes` with one bit of byte `index` flipped. */
export function flipBit(bytes: Uint8Array, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}
