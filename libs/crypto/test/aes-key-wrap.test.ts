import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { aesKeyUnwrapPad, aesKeyWrapPad, randomBytes, randomKey } from '../src/index.js';
import { assertDecryptFailed, assertInvalidInput, flipBit, hex } from './helpers.js';

/** RFC 5649 §6, "Padded Key Wrap Examples": one 192-bit KEK, a 20-octet and a 7-octet key. */
const RFC5649_KEK = '5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8';
const RFC5649_VECTORS = [
  { name: '20-octet key', key: 'c37b7e6492584340bed12207808941155068f738', wrapped: '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a' },
  { name: '7-octet key', key: '466f7250617369', wrapped: 'afbeb0f07dfbf5419200f2ccb50bb24f' },
] as const;

describe('AES Key Wrap with Padding, RFC 5649 §6 vectors', () => {
  for (const v of RFC5649_VECTORS) {
    it(`${v.name}: wraps`, () => {
      assert.equal(aesKeyWrapPad(hex(RFC5649_KEK), hex(v.key)).toString('hex'), v.wrapped);
    });

    it(`${v.name}: unwraps`, () => {
      assert.equal(aesKeyUnwrapPad(hex(RFC5649_KEK), hex(v.wrapped)).toString('hex'), v.key);
    });

    it(`${v.name}: same with a KeyObject KEK`, () => {
      const kek = createSecretKey(hex(RFC5649_KEK));
      assert.equal(aesKeyWrapPad(kek, hex(v.key)).toString('hex'), v.wrapped);
      assert.equal(aesKeyUnwrapPad(kek, hex(v.wrapped)).toString('hex'), v.key);
    });

    it(`${v.name}: any altered bit fails with the same error`, () => {
      const wrapped = hex(v.wrapped);
      for (let i = 0; i < wrapped.length; i++) {
        assertDecryptFailed(() => aesKeyUnwrapPad(hex(RFC5649_KEK), flipBit(wrapped, i)));
      }
    });
  }
});

describe('aesKeyWrapPad / aesKeyUnwrapPad', () => {
  it('wraps a 32-byte key under a 256-bit KEK into 40 bytes and back', () => {
    const kek = randomKey();
    const key = randomKey();
    const wrapped = aesKeyWrapPad(kek, key);
    assert.equal(wrapped.length, 40);
    assert.deepEqual(aesKeyUnwrapPad(kek, wrapped), key);
  });

  it('is deterministic, as RFC 5649 is', () => {
    const kek = randomKey();
    const key = randomKey();
    assert.deepEqual(aesKeyWrapPad(kek, key), aesKeyWrapPad(kek, key));
  });

  it('round-trips every key length from 1 to 33 bytes under 128-, 192- and 256-bit KEKs', () => {
    for (const kekLength of [16, 24, 32]) {
      const kek = randomBytes(kekLength);
      for (let length = 1; length <= 33; length++) {
        const key = randomBytes(length);
        const wrapped = aesKeyWrapPad(kek, key);
        assert.equal(wrapped.length, 8 * Math.ceil(length / 8) + 8);
        assert.deepEqual(aesKeyUnwrapPad(kek, wrapped), key);
      }
    }
  });

  it('fails with the same error under the wrong KEK', () => {
    const wrapped = aesKeyWrapPad(randomKey(), randomKey());
    assertDecryptFailed(() => aesKeyUnwrapPad(randomKey(), wrapped));
  });

  it('fails with the same error for blobs of impossible length', () => {
    const kek = hex(RFC5649_KEK);
    const wrapped = hex(RFC5649_VECTORS[0].wrapped);
    for (const length of [0, 7, 8, 15, 17, 31]) {
      assertDecryptFailed(() => aesKeyUnwrapPad(kek, wrapped.subarray(0, length)));
    }
    // Whole blocks but cut short: the integrity check, not the length check, refuses it.
    assertDecryptFailed(() => aesKeyUnwrapPad(kek, wrapped.subarray(0, 24)));
    assertDecryptFailed(() => aesKeyUnwrapPad(kek, Buffer.concat([wrapped, Buffer.alloc(8)])));
  });

  it('refuses a KEK that is not 16, 24 or 32 bytes as CRYPTO_INVALID_INPUT', () => {
    for (const length of [0, 8, 20, 31, 33, 64]) {
      assertInvalidInput(() => aesKeyWrapPad(Buffer.alloc(length), randomKey()));
      assertInvalidInput(() => aesKeyUnwrapPad(Buffer.alloc(length), Buffer.alloc(40)));
    }
  });

  it('refuses an empty key to wrap as CRYPTO_INVALID_INPUT', () => {
    assertInvalidInput(() => aesKeyWrapPad(randomKey(), Buffer.alloc(0)));
  });
});
