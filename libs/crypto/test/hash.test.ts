import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { hkdfSha256, hmacSha256, sha256 } from '../src/index.js';
import { assertInvalidInput, hex } from './helpers.js';

/** Bytes `from`, `from + 1`, ..., `to` inclusive: how RFC 5869 test case 2 spells its inputs. */
function byteRange(from: number, to: number): Buffer {
  return Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => from + i));
}

describe('sha256', () => {
  it('FIPS 180-2 Appendix B.1: "abc"', () => {
    assert.equal(sha256(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('FIPS 180-2 Appendix B.2: the 448-bit two-block message', () => {
    const message = Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    assert.equal(sha256(message).toString('hex'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('NIST CAVP SHA256ShortMsg.rsp, Len = 0: the empty message', () => {
    assert.equal(sha256(Buffer.alloc(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

/** RFC 4231 §4, HMAC-SHA-256 results. */
describe('hmacSha256 (RFC 4231)', () => {
  it('test case 1', () => {
    const mac = hmacSha256(hex('0b'.repeat(20)), Buffer.from('Hi There'));
    assert.equal(mac.toString('hex'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  });

  it('test case 2 (key shorter than the output)', () => {
    const mac = hmacSha256(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'));
    assert.equal(mac.toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('test case 6 (131-byte key, hashed first)', () => {
    const mac = hmacSha256(hex('aa'.repeat(131)), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'));
    assert.equal(mac.toString('hex'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('takes a KeyObject key', () => {
    const mac = hmacSha256(createSecretKey(Buffer.from('Jefe')), Buffer.from('what do ya want for nothing?'));
    assert.equal(mac.toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

/** RFC 5869 Appendix A.1-A.3, the SHA-256 cases. */
const HKDF_VECTORS = [
  {
    name: 'test case 1 (basic)',
    ikm: hex('0b'.repeat(22)),
    salt: hex('000102030405060708090a0b0c'),
    info: hex('f0f1f2f3f4f5f6f7f8f9'),
    length: 42,
    prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    name: 'test case 2 (longer inputs and output)',
    ikm: byteRange(0x00, 0x4f),
    salt: byteRange(0x60, 0xaf),
    info: byteRange(0xb0, 0xff),
    length: 82,
    prk: '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
    okm:
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c' +
      '59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71' +
      'cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    name: 'test case 3 (empty salt and info)',
    ikm: hex('0b'.repeat(22)),
    salt: Buffer.alloc(0),
    info: Buffer.alloc(0),
    length: 42,
    prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
] as const;

describe('hkdfSha256 (RFC 5869)', () => {
  for (const v of HKDF_VECTORS) {
    it(`${v.name}: OKM`, () => {
      const okm = hkdfSha256(v.ikm, v.salt, v.info, v.length);
      assert.ok(Buffer.isBuffer(okm));
      assert.equal(okm.toString('hex'), v.okm);
    });

    // PRK = HMAC-Hash(salt, IKM) (RFC 5869 §2.2), so the published PRKs are HMAC vectors too.
    it(`${v.name}: PRK through hmacSha256`, () => {
      assert.equal(hmacSha256(v.salt, v.ikm).toString('hex'), v.prk);
    });
  }

  it('takes a KeyObject IKM', () => {
    const v = HKDF_VECTORS[0];
    assert.equal(hkdfSha256(createSecretKey(v.ikm), v.salt, v.info, v.length).toString('hex'), v.okm);
  });

  it('refuses output lengths outside 1..8160 as CRYPTO_INVALID_INPUT', () => {
    const v = HKDF_VECTORS[0];
    for (const length of [0, -1, 1.5, 255 * 32 + 1, Number.NaN]) {
      assertInvalidInput(() => hkdfSha256(v.ikm, v.salt, v.info, length));
    }
    assert.equal(hkdfSha256(v.ikm, v.salt, v.info, 255 * 32).length, 255 * 32);
  });

  it('refuses info longer than node accepts as CRYPTO_INVALID_INPUT', () => {
    const v = HKDF_VECTORS[0];
    assertInvalidInput(() => hkdfSha256(v.ikm, v.salt, Buffer.alloc(1025), 32));
  });
});
