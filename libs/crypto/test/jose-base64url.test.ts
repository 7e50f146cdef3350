import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base64urlDecode, base64urlEncode, isStrictBase64url, randomBytes } from '../src/index.js';
import { malformedBy } from './jose-helpers.js';

describe('base64url (RFC 7515 §2, RFC 4648 §5, unpadded)', () => {
  it('encodes the RFC 4648 §10 vectors in the URL-safe alphabet without padding', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [text, encoded] of vectors) {
      assert.equal(base64urlEncode(Buffer.from(text)), encoded);
      assert.equal(base64urlDecode(encoded).toString(), text);
    }
  });

  it('uses - and _ where standard base64 has + and /', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf]);
    assert.equal(bytes.toString('base64'), '+/+/');
    assert.equal(base64urlEncode(bytes), '-_-_');
    assert.deepEqual(base64urlDecode('-_-_'), bytes);
  });

  it('round-trips every length from 0 to 64 bytes, and decoding then encoding gives back the input', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = randomBytes(n);
      const text = base64urlEncode(bytes);
      assert.deepEqual(base64urlDecode(text), bytes);
      assert.equal(base64urlEncode(base64urlDecode(text)), text);
    }
  });

  it('encodes a Uint8Array view without reading outside it', () => {
    const backing = Buffer.from('xxfooxx');
    assert.equal(base64urlEncode(new Uint8Array(backing.buffer, backing.byteOffset + 2, 3)), 'Zm9v');
  });

  it('refuses padding, the standard alphabet, whitespace and other characters', () => {
    for (const bad of ['Zg==', 'Zg=', 'Zm8=', '+/+/', 'Zm9v\n', ' Zm9v', 'Zm 9v', 'Zm9v\t', 'Zm9v.', 'Zm9v%', 'Zm9vÿ']) {
      assert.equal(isStrictBase64url(bad), false, JSON.stringify(bad));
      malformedBy(() => base64urlDecode(bad, 'test value'));
    }
  });

  it('refuses a length of 1 mod 4, which holds no whole byte', () => {
    for (const bad of ['A', 'AAAAA', 'Zm9vY']) malformedBy(() => base64urlDecode(bad));
  });

  it('refuses non-zero bits after the last whole byte, so each byte string has one spelling', () => {
    // "Zg" is 'f'; "Zh" to "Zv" decode to 'f' too in a lenient decoder.
    assert.equal(Buffer.from('Zh', 'base64url').toString(), 'f', 'node alone is lenient');
    malformedBy(() => base64urlDecode('Zh'));
    malformedBy(() => base64urlDecode('Zv'));
    malformedBy(() => base64urlDecode('Zm9')); // "fo" is Zm8
    assert.equal(base64urlDecode('Zm8').toString(), 'fo');
  });

  it('refuses non-strings without converting them', () => {
    assert.equal(isStrictBase64url(42), false);
    assert.equal(isStrictBase64url(null), false);
    malformedBy(() => base64urlDecode(42 as unknown as string));
  });

  it('never repeats the refused input in its message', () => {
    const error = malformedBy(() => base64urlDecode('secret==', 'JWE IV'));
    assert.ok(!error.message.includes('secret'));
    assert.match(error.message, /JWE IV/);
  });
});
