import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes, randomKey, randomNonce, zeroize } from '../src/index.js';
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

describe('randomNonce', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    // 2,000 nonces of 12 bytes span six refills of the 4 KiB pool.
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const nonce = randomNonce(12);
      assert.equal(nonce.length, 12);
      seen.add(nonce.toString('hex'));
    }
    assert.equal(seen.size, 2000);
  });

  it('returns a copy: changing one nonce changes no other', () => {
    const a = randomNonce(16);
    const copy = Buffer.from(a);
    randomNonce(16).fill(0);
    assert.deepEqual(a, copy);
  });

  it('refuses lengths outside 1 to 64 as CRYPTO_INVALID_INPUT', () => {
    for (const n of [0, 65, 1.5, Number.NaN]) assertInvalidInput(() => randomNonce(n));
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
