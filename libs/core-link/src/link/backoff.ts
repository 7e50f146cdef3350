/**
 * Exponential backoff with full jitter (docs/narrow-api.md §3.6): a uniformly random delay in
 * [0, min(max, base × 2^attempt)], so nodes that lost the core together do not return together.
 */
export function fullJitterDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
