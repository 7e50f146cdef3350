import { randomBytes as nodeRandomBytes, randomFillSync } from 'node:crypto';
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

// Nonces are public and need only be unique and unpredictable: they are drawn from a pool the
// CSPRNG refills 4 KiB at a time, because one RAND_bytes call per 12-byte IV costs more than the
// AES-GCM of a KMS message (node's randomUUID keeps a similar cache). Keys never come from here.
const noncePool = Buffer.alloc(4096);
let noncePoolOffset = noncePool.length;

/** A fresh nonce (AES-GCM IV) of `n` ≤ 64 bytes, each byte used once. */
export function randomNonce(n: number): Buffer {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw invalidInput(`randomNonce needs 1 to 64 bytes, got ${String(n)}`);
  if (noncePoolOffset + n > noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  const nonce = Buffer.from(noncePool.subarray(noncePoolOffset, noncePoolOffset + n));
  noncePool.fill(0, noncePoolOffset, noncePoolOffset + n);
  noncePoolOffset += n;
  return nonce;
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
