import { createHash, createHmac, hkdfSync, KeyObject } from 'node:crypto';
import { requireBytes, secretKeyLength } from './bytes.js';
import { invalidInput } from './crypto.error.js';

const SHA256_BYTES = 32;
/** RFC 5869 §2.3: L <= 255 * HashLen. */
const HKDF_MAX_LENGTH = 255 * SHA256_BYTES;
/** node refuses longer `info` (OpenSSL's HKDF info buffer); say so before it throws a RangeError. */
const HKDF_MAX_INFO = 1024;

/** SHA-256 (FIPS 180-4). */
export function sha256(data: Uint8Array): Buffer {
  requireBytes(data, 'data');
  return createHash('sha256').update(data).digest();
}

/** HMAC-SHA-256 (RFC 2104, with the SHA-256 instantiation tested by RFC 4231). */
export function hmacSha256(key: Uint8Array | KeyObject, data: Uint8Array): Buffer {
  secretKeyLength(key, 'HMAC key');
  requireBytes(data, 'data');
  return createHmac('sha256', key).update(data).digest();
}

/**
 * HKDF-SHA-256, extract then expand (RFC 5869). An empty salt means HashLen zero bytes
 * (RFC 5869 §2.2), which is what HMAC makes of an empty key anyway.
 */
export function hkdfSha256(
  ikm: Uint8Array | KeyObject,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Buffer {
  secretKeyLength(ikm, 'HKDF input keying material');
  requireBytes(salt, 'salt');
  requireBytes(info, 'info');
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_LENGTH) {
    throw invalidInput(`HKDF-SHA-256 output length must be 1 to ${HKDF_MAX_LENGTH} bytes (RFC 5869 §2.3), got ${String(length)}`);
  }
  if (info.length > HKDF_MAX_INFO) {
    throw invalidInput(`HKDF info must be at most ${HKDF_MAX_INFO} bytes, got ${info.length}`);
  }
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
