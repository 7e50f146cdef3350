import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { invalidInput } from './crypto.error.js';

/** node's own ceiling for one randomBytes call. */
const MAX_RANDOM_BYTES = 2 ** 31 - 1;

/** `n` bytes from the operating system's CSPRNG (OpenSSL's RAND_bytes, seeded from getrandom). */
export function randomBytes(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > MAX_RANDOM_BYTES) {
    throw invalidInput(`randomBytes needs a whole number of bytes between 0 and ${MAX_RANDOM_BYTES}, got ${String(n)}`);
  }
  return nodeRandomBytes(n);
}

/** A fresh 256-bit key, the size every AES key in the realm has. */
export function randomKey(): Buffer {
  return nodeRandomBytes(32);
}

/**
 * Best effort only: it overwrites this buffer, but the GC may already have copied the bytes, and
 * strings or KeyObjects derived from them are out of reach. Still worth doing for plaintext keys
 * that outlive a request.
 */
export function zeroize(buf: Buffer): void {
  buf.fill(0);
}
