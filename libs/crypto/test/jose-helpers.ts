import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CryptoError, type CryptoErrorCode } from '../src/index.js';

/** The fixed messages of the two authentication-failure classes. */
export const DECRYPT_FAILED = 'decryption failed';
export const VERIFY_FAILED = 'signature verification failed';

function check(caught: unknown, code: CryptoErrorCode, message?: string): CryptoError {
  assert.ok(caught instanceof CryptoError, `expected a CryptoError, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  if (message !== undefined) assert.equal(caught.message, message);
  if (code === 'CRYPTO_DECRYPT_FAILED') {
    assert.equal(caught.cause, undefined, 'an authentication failure must carry no cause that could tell cases apart');
  }
  return caught;
}

/** `fn` throws a CryptoError with `code` (and `message`, when given). */
export function throwsCode(fn: () => unknown, code: CryptoErrorCode, message?: string): CryptoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, code, message);
}

/** `fn` rejects (or throws) with a CryptoError with `code` (and `message`, when given). */
export async function rejectsCode(fn: () => Promise<unknown>, code: CryptoErrorCode, message?: string): Promise<CryptoError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, code, message);
}

export const malformedBy = (fn: () => unknown): CryptoError => throwsCode(fn, 'CRYPTO_MALFORMED');
export const decryptFailsBy = (fn: () => unknown): CryptoError => throwsCode(fn, 'CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED);
export const verifyFailsBy = (fn: () => unknown): CryptoError => throwsCode(fn, 'CRYPTO_DECRYPT_FAILED', VERIFY_FAILED);

/** base64url of a JSON value, for hand-built headers. */
export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
export const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

/** Replaces segment `index` of a compact token. */
export function withSegment(token: string, index: number, value: string): string {
  const parts = token.split('.');
  parts[index] = value;
  return parts.join('.');
}

/** Flips one bit of the decoded segment `index`, re-encoding it canonically. */
export function flipSegmentBit(token: string, index: number, byte = 0): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[index] ?? '', 'base64url');
  bytes[byte] = (bytes[byte] ?? 0) ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

/** RSA key pairs are slow to make; each size is made once per test process. */
const rsaPairs = new Map<number, { privateKey: KeyObject; publicKey: KeyObject }>();
export function rsaPair(bits = 2048): { privateKey: KeyObject; publicKey: KeyObject } {
  let pair = rsaPairs.get(bits);
  if (pair === undefined) {
    pair = generateKeyPairSync('rsa', { modulusLength: bits });
    rsaPairs.set(bits, pair);
  }
  return pair;
}

export function publicOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}
