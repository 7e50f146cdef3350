import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes, randomKey, zeroize } from '../src/index.js';
import { assertInvalidInput } from './helpers.js';

describe('randomBytes / randomKey', () => {
  it('returns the requested number of bytes', () => {
    for (const n of [0, 1, 12, 32, 1000]) assert.equal(randomBytes(n).length, n);
  });

  it('returns 32-byte keys that differ from call to call', () => {
    const a = randomKey();
    const b = randomKey();
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, b);
  });

  it('refuses negative, fractional or non-numeric lengths as CRYPTO_INVALID_INPUT', () => {
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) assertInvalidInput(() => randomBytes(n));
  });
});

describe('zeroize', () => {
  it('overwrites every byte with zero', () => {
    const key = randomKey();
    key[0] = 0xff;
    zeroize(key);
    assert.deepEqual(key, Buffer.alloc(32));
  });
});
