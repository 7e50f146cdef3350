import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { aesGcmDecrypt, aesGcmEncrypt, aesGcmOpen, aesGcmSeal, randomKey } from '../src/index.js';
import { assertDecryptFailed, assertInvalidInput, flipBit, hex } from './helpers.js';

/**
 * D. McGrew and J. Viega, "The Galois/Counter Mode of Operation (GCM)", submission to NIST,
 * revised 2005, Appendix B, test cases 13-16: the 256-bit-key cases with 96-bit IVs.
 * 15 has a 64-byte plaintext and no AAD; 16 the first 60 bytes of it with 20 bytes of AAD.
 */
const K_ZERO = '0000000000000000000000000000000000000000000000000000000000000000';
const K_FEFF = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308';
const P_64 =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
  '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const C_64 =
  '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
  '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad';

const VECTORS = [
  { name: 'test case 13 (empty plaintext, no AAD)', key: K_ZERO, iv: '000000000000000000000000', plaintext: '', aad: '', ciphertext: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
  { name: 'test case 14 (one zero block)', key: K_ZERO, iv: '000000000000000000000000', plaintext: '00000000000000000000000000000000', aad: '', ciphertext: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919' },
  { name: 'test case 15 (64-byte plaintext, no AAD)', key: K_FEFF, iv: 'cafebabefacedbaddecaf888', plaintext: P_64, aad: '', ciphertext: C_64, tag: 'b094dac5d93471bdec1a502270e3cc6c' },
  {
    name: 'test case 16 (60-byte plaintext, 20-byte AAD)',
    key: K_FEFF,
    iv: 'cafebabefacedbaddecaf888',
    plaintext: P_64.slice(0, 120),
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ciphertext: C_64.slice(0, 120),
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
] as const;

describe('AES-256-GCM known-answer tests (McGrew-Viega)', () => {
  for (const v of VECTORS) {
    it(`${v.name}: encrypts`, () => {
      const { ciphertext, tag } = aesGcmEncrypt(hex(v.key), hex(v.iv), hex(v.plaintext), hex(v.aad));
      assert.equal(ciphertext.toString('hex'), v.ciphertext);
      assert.equal(tag.toString('hex'), v.tag);
    });

    it(`${v.name}: decrypts`, () => {
      const plaintext = aesGcmDecrypt(hex(v.key), hex(v.iv), hex(v.ciphertext), hex(v.tag), hex(v.aad));
      assert.equal(plaintext.toString('hex'), v.plaintext);
    });

    it(`${v.name}: opens as iv || ciphertext || tag`, () => {
      const sealed = hex(v.iv + v.ciphertext + v.tag);
      assert.equal(aesGcmOpen(hex(v.key), sealed, hex(v.aad)).toString('hex'), v.plaintext);
    });

    it(`${v.name}: works with a KeyObject key`, () => {
      const key = createSecretKey(hex(v.key));
      assert.equal(aesGcmEncrypt(key, hex(v.iv), hex(v.plaintext), hex(v.aad)).tag.toString('hex'), v.tag);
      assert.equal(aesGcmDecrypt(key, hex(v.iv), hex(v.ciphertext), hex(v.tag), hex(v.aad)).toString('hex'), v.plaintext);
    });
  }
});

describe('aesGcmSeal / aesGcmOpen', () => {
  const key = randomKey();
  const plaintext = Buffer.from('a data key for tenant 42');
  const aad = Buffer.from('realm:v1:key-id=7');

  it('round-trips and lays out iv(12) || ciphertext || tag(16)', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    assert.equal(sealed.length, 12 + plaintext.length + 16);
    assert.deepEqual(aesGcmOpen(key, sealed, aad), plaintext);
    const { ciphertext, tag } = aesGcmEncrypt(key, sealed.subarray(0, 12), plaintext, aad);
    assert.deepEqual(sealed, Buffer.concat([sealed.subarray(0, 12), ciphertext, tag]));
  });

  it('round-trips an empty plaintext with empty AAD', () => {
    const sealed = aesGcmSeal(key, Buffer.alloc(0), Buffer.alloc(0));
    assert.equal(sealed.length, 28);
    assert.equal(aesGcmOpen(key, sealed, Buffer.alloc(0)).length, 0);
  });

  it('takes a fresh IV for every seal', () => {
    const a = aesGcmSeal(key, plaintext, aad);
    const b = aesGcmSeal(key, plaintext, aad);
    assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
  });

  it('accepts a Uint8Array view at an offset', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    const backing = new Uint8Array(sealed.length + 5);
    backing.set(sealed, 5);
    assert.deepEqual(aesGcmOpen(key, backing.subarray(5), aad), plaintext);
  });

  it('binds the AAD: other AAD, or none, fails', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    assertDecryptFailed(() => aesGcmOpen(key, sealed, Buffer.from('realm:v1:key-id=8')));
    assertDecryptFailed(() => aesGcmOpen(key, sealed, Buffer.alloc(0)));
  });

  it('fails with the same error when any byte of iv, ciphertext or tag is altered', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    const messages = new Set<string>();
    for (let i = 0; i < sealed.length; i++) {
      messages.add(assertDecryptFailed(() => aesGcmOpen(key, flipBit(sealed, i), aad)).message);
    }
    assert.deepEqual([...messages], ['decryption failed']);
  });

  it('fails with the same error for truncated or extended input', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    for (const length of [0, 1, 12, 27, 28, sealed.length - 1]) {
      assertDecryptFailed(() => aesGcmOpen(key, sealed.subarray(0, length), aad));
    }
    assertDecryptFailed(() => aesGcmOpen(key, Buffer.concat([sealed, Buffer.alloc(1)]), aad));
  });

  it('fails with the same error under the wrong key', () => {
    const sealed = aesGcmSeal(key, plaintext, aad);
    assertDecryptFailed(() => aesGcmOpen(randomKey(), sealed, aad));
  });

  it('refuses keys that are not 32 bytes as CRYPTO_INVALID_INPUT', () => {
    for (const bad of [Buffer.alloc(16), Buffer.alloc(24), Buffer.alloc(31), Buffer.alloc(33), createSecretKey(Buffer.alloc(16))]) {
      assertInvalidInput(() => aesGcmSeal(bad, plaintext, aad));
      assertInvalidInput(() => aesGcmOpen(bad, Buffer.alloc(40), aad));
    }
    const error = assertInvalidInput(() => aesGcmSeal(Buffer.alloc(16), plaintext, aad));
    assert.match(error.message, /32-byte key, got 16 bytes/);
  });
});

describe('aesGcmEncrypt / aesGcmDecrypt with an explicit IV', () => {
  const v = VECTORS[3];

  it('refuses an IV other than 12 bytes on encrypt as CRYPTO_INVALID_INPUT', () => {
    assertInvalidInput(() => aesGcmEncrypt(hex(v.key), Buffer.alloc(8), hex(v.plaintext), hex(v.aad)));
    assertInvalidInput(() => aesGcmEncrypt(hex(v.key), Buffer.alloc(16), hex(v.plaintext), hex(v.aad)));
  });

  it('treats an IV of the wrong length on decrypt as a decryption failure', () => {
    assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), hex(v.iv).subarray(0, 8), hex(v.ciphertext), hex(v.tag), hex(v.aad)));
  });

  it('refuses a truncated tag, even a correct prefix of the real one', () => {
    for (const length of [0, 4, 8, 12, 15]) {
      assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), hex(v.iv), hex(v.ciphertext), hex(v.tag).subarray(0, length), hex(v.aad)));
    }
  });

  it('fails for an altered tag, ciphertext, IV or AAD', () => {
    assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), hex(v.iv), hex(v.ciphertext), flipBit(hex(v.tag), 15), hex(v.aad)));
    assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), hex(v.iv), flipBit(hex(v.ciphertext), 0), hex(v.tag), hex(v.aad)));
    assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), flipBit(hex(v.iv), 11), hex(v.ciphertext), hex(v.tag), hex(v.aad)));
    assertDecryptFailed(() => aesGcmDecrypt(hex(v.key), hex(v.iv), hex(v.ciphertext), hex(v.tag), flipBit(hex(v.aad), 19)));
  });

  it('refuses a key that is not a secret key as CRYPTO_INVALID_INPUT', () => {
    assertInvalidInput(() => aesGcmEncrypt('not a key' as unknown as Buffer, hex(v.iv), hex(v.plaintext), hex(v.aad)));
    assertInvalidInput(() => aesGcmEncrypt(hex(v.key), hex(v.iv), 'text' as unknown as Uint8Array, hex(v.aad)));
  });
});
