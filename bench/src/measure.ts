/** Runs `op` repeatedly for about `seconds` after a warm-up and returns operations per second. */
export async function opsPerSecond(op: () => unknown, seconds = 2): Promise<number> {
  const deadline = (s: number) => performance.now() + s * 1000;
  for (const end = deadline(0.3); performance.now() < end; ) await op();
  let count = 0;
  const start = performance.now();
  const end = deadline(seconds);
  while (performance.now() < end) {
    // Batches of 64 keep the clock reads off the measured path.
    for (let i = 0; i < 64; i++) await op();
    count += 64;
  }
  return count / ((performance.now() - start) / 1000);
}

export function round(n: number): number {
  return Math.round(n);
}
