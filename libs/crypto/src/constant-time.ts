import { timingSafeEqual } from 'node:crypto';
import { requireBytes } from './bytes.js';

/**
 * Compares two byte strings in time that depends only on their lengths, never on where they first
 * differ. For MACs, tags and tokens.
 *
 * Lengths are treated as public (a MAC's length is). A length mismatch still pays for one full
 * comparison of `a`, so a false answer costs what a same-length comparison would instead of
 * returning at once.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  requireBytes(a, 'a');
  requireBytes(b, 'b');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
