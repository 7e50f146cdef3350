import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullJitterDelay, uniformRandom } from '../src/link/backoff.js';

describe('reconnect backoff', () => {
  it('draws uniform numbers in [0, 1) from the CSPRNG', () => {
    const draws = Array.from({ length: 2000 }, () => uniformRandom());
    assert.ok(draws.every((d) => d >= 0 && d < 1));
    assert.ok(new Set(draws).size > 1990, 'not constant');
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    assert.ok(mean > 0.4 && mean < 0.6, `mean ${mean}`);
  });

  it('waits a random delay up to base × 2^attempt, capped at the maximum (full jitter)', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt, 30));
      for (let i = 0; i < 50; i++) {
        const delay = fullJitterDelay(attempt, 500, 30_000);
        assert.ok(Number.isInteger(delay) && delay >= 0 && delay < ceiling, `attempt ${attempt}: ${delay}`);
      }
    }
    assert.equal(fullJitterDelay(3, 500, 30_000, () => 0.5), 2000);
  });
});
