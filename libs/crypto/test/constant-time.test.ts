import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantTimeEqual } from '../src/index.js';
import { assertInvalidInput } from './helpers.js';

describe('constantTimeEqual', () => {
  it('is true for equal bytes, including two empty strings', () => {
    assert.equal(constantTimeEqual(Buffer.from('a tag of sixteen'), Buffer.from('a tag of sixteen')), true);
    assert.equal(constantTimeEqual(new Uint8Array(0), Buffer.alloc(0)), true);
  });

  it('is false for equal lengths that differ in the first or the last byte', () => {
    const a = Buffer.from('0123456789abcdef');
    assert.equal(constantTimeEqual(a, Buffer.from('x123456789abcdef')), false);
    assert.equal(constantTimeEqual(a, Buffer.from('0123456789abcdex')), false);
  });

  it('is false for different lengths, a prefix included', () => {
    const a = Buffer.from('0123456789abcdef');
    assert.equal(constantTimeEqual(a, a.subarray(0, 15)), false);
    assert.equal(constantTimeEqual(a.subarray(0, 15), a), false);
    assert.equal(constantTimeEqual(a, Buffer.alloc(0)), false);
    assert.equal(constantTimeEqual(Buffer.alloc(0), a), false);
  });

  it('refuses non-byte arguments as CRYPTO_INVALID_INPUT', () => {
    assertInvalidInput(() => constantTimeEqual('abc' as unknown as Uint8Array, Buffer.from('abc')));
  });
});
