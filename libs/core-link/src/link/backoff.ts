import { randomInt } from 'node:crypto';
/**
 * Exponential backoff with full jitter (docs/narrow-api.md §3.6): a uniformly random delay in
 * [0, min(max, base × 2^attempt)], so nodes that lost the core together do not return together.
 */
export function fullJitterDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = uniformRandom): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** A uniform number in [0, 1) from the CSPRNG: the project draws every random number there, jitter included. */
export function uniformRandom(): number {
  return randomInt(0, 2 ** 47) / 2 ** 47;
}
