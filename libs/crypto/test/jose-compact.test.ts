import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_TOKEN_LENGTH, encryptDirA256Gcm, MAX_HEADER_BYTES, peekCompactHeader, randomKey } from '../src/index.js';
import { b64, b64json, malformedBy, throwsCode } from './jose-helpers.js';

const JWE_HEADER = b64json({ alg: 'dir', enc: 'A256GCM', kid: 'kms://kms.example.com/ecdhe/1' });
const IV = b64(Buffer.alloc(12));
const TAG = b64(Buffer.alloc(16));
const jwe = (header: string): string => `${header}..${IV}.AAAA.${TAG}`;
const jws = (header: string): string => `${header}.${b64('payload')}.${b64(Buffer.alloc(256))}`;

describe('peekCompactHeader', () => {
  it('reads the header of a JWE (5 segments) before anything is decrypted', () => {
    const token = encryptDirA256Gcm(randomKey(), 'kms://kms.example.com/ecdhe/1', Buffer.from('x'));
    assert.deepEqual({ ...peekCompactHeader(token) }, {
      kind: 'jwe',
      header: { alg: 'dir', enc: 'A256GCM', kid: 'kms://kms.example.com/ecdhe/1' },
      segments: token.split('.'),
    });
  });

  it('reads the header of a JWS (3 segments)', () => {
    const token = jws(b64json({ alg: 'PS256', kid: 'k' }));
    assert.deepEqual({ ...peekCompactHeader(token) }, { kind: 'jws', header: { alg: 'PS256', kid: 'k' }, segments: token.split('.') });
  });

  it('accepts an empty payload and an empty encrypted key', () => {
    assert.equal(peekCompactHeader(`${b64json({ alg: 'RS256' })}..${b64('sig')}`).kind, 'jws');
    assert.equal(peekCompactHeader(jwe(JWE_HEADER)).kind, 'jwe');
  });

  it('refuses every segment count but 3 and 5', () => {
    for (const token of ['', 'abc', 'a.b', `${JWE_HEADER}.a.b.c`, `${JWE_HEADER}.a.b.c.d.e`, `${JWE_HEADER}.a.b.c.d.e.f`, `${jwe(JWE_HEADER)}.`]) {
      malformedBy(() => peekCompactHeader(token));
    }
  });

  it('refuses a segment that is not strict base64url: padding, +, /, whitespace, a line break', () => {
    const good = jwe(JWE_HEADER);
    for (const index of [0, 1, 2, 3, 4]) {
      for (const bad of ['AA==', 'A+A_', 'A/A_', 'AA AA', 'AAAA\n', ' AAAA']) {
        const parts = good.split('.');
        parts[index] = index === 0 ? `${parts[0]}${bad}` : bad;
        malformedBy(() => peekCompactHeader(parts.join('.')));
      }
    }
    malformedBy(() => peekCompactHeader(`${JWE_HEADER}=..${IV}.AAAA.${TAG}`));
    malformedBy(() => peekCompactHeader(` ${jwe(JWE_HEADER)}`));
    malformedBy(() => peekCompactHeader(`${jwe(JWE_HEADER)}\r\n`));
  });

  it('refuses a header that is not JSON, not UTF-8, or starts with a BOM', () => {
    malformedBy(() => peekCompactHeader(jwe(b64('not json'))));
    malformedBy(() => peekCompactHeader(jwe(b64('{"alg":"dir",'))));
    malformedBy(() => peekCompactHeader(jwe(b64(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))));
    malformedBy(() => peekCompactHeader(jwe(b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"alg":"dir","enc":"A256GCM"}')])))));
    malformedBy(() => peekCompactHeader(jwe('')));
  });

  it('refuses a header that is JSON but not an object', () => {
    for (const value of [[{ alg: 'dir', enc: 'A256GCM' }], 'dir', 42, null, true]) {
      malformedBy(() => peekCompactHeader(jwe(b64json(value))));
    }
  });

  it('refuses a header without a string alg, or a JWE header without a string enc', () => {
    malformedBy(() => peekCompactHeader(jwe(b64json({ enc: 'A256GCM' }))));
    malformedBy(() => peekCompactHeader(jwe(b64json({ alg: 1, enc: 'A256GCM' }))));
    malformedBy(() => peekCompactHeader(jwe(b64json({ alg: 'dir' }))));
    malformedBy(() => peekCompactHeader(jws(b64json({ kid: 'k' }))));
  });

  it('does not take alg from the prototype chain or from a __proto__ member', () => {
    malformedBy(() => peekCompactHeader(jwe(b64('{"__proto__":{"alg":"dir","enc":"A256GCM"}}'))));
  });

  it(`refuses a header over ${MAX_HEADER_BYTES} bytes, and accepts one at the limit`, () => {
    const base = JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: '' });
    const atLimit = JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'k'.repeat(MAX_HEADER_BYTES - base.length) });
    assert.equal(Buffer.byteLength(atLimit), MAX_HEADER_BYTES);
    assert.equal(peekCompactHeader(jwe(b64(atLimit))).kind, 'jwe');
    const over = JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'k'.repeat(MAX_HEADER_BYTES - base.length + 1) });
    malformedBy(() => peekCompactHeader(jwe(b64(over))));
    malformedBy(() => peekCompactHeader(jwe(b64(' '.repeat(100_000) + '{"alg":"dir","enc":"A256GCM"}'))));
  });

  it('keeps the last of duplicate member names, as JSON.parse does (RFC 7515 §5.2 step 4)', () => {
    const header = b64('{"alg":"none","alg":"dir","enc":"A256GCM"}');
    assert.equal(peekCompactHeader(jwe(header)).header.alg, 'dir');
  });

  it('refuses a token over the length limit, which the caller may lower', () => {
    const long = `${JWE_HEADER}..${IV}.${'A'.repeat(DEFAULT_MAX_TOKEN_LENGTH)}.${TAG}`;
    malformedBy(() => peekCompactHeader(long));
    const token = jwe(JWE_HEADER);
    assert.equal(peekCompactHeader(token, { maxTokenLength: token.length }).kind, 'jwe');
    malformedBy(() => peekCompactHeader(token, { maxTokenLength: token.length - 1 }));
  });

  it('refuses a nonsensical length limit as a caller error', () => {
    for (const maxTokenLength of [0, -1, 1.5, Number.NaN, 2 ** 40]) {
      throwsCode(() => peekCompactHeader(jwe(JWE_HEADER), { maxTokenLength }), 'CRYPTO_INVALID_INPUT');
    }
  });

  it('refuses a token that is not a string', () => {
    for (const token of [undefined, null, 42, Buffer.from('a.b.c'), ['a', 'b', 'c']]) {
      malformedBy(() => peekCompactHeader(token as unknown as string));
    }
  });

  it('never repeats header bytes in its messages, not even through the JSON parser error', () => {
    const error = malformedBy(() => peekCompactHeader(jwe(b64('{"alg":"dir\u001b[2J EVIL'))));
    assert.ok(!error.message.includes('EVIL'));
    assert.equal(error.cause, undefined);
  });
});
