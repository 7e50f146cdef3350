import assert from 'node:assert/strict';
import { constants, createPrivateKey, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { describe, it } from 'node:test';
import { compactDecrypt, CompactEncrypt } from 'jose';
import nodeJose from 'node-jose';
import {
  aesGcmEncrypt,
  decryptRsaOaepJwe,
  encryptRsaOaepJwe,
  peekCompactHeader,
  randomBytes,
  randomKey,
  softwareRsaOaepDecryptor,
  type RsaOaepDecryptor,
} from '../src/index.js';
import { b64, b64json, DECRYPT_FAILED, flipSegmentBit, rejectsCode, rsaPair, throwsCode, withSegment } from './jose-helpers.js';

const KID = 'kms://kms.example.com/keys/static/rsa-1';
const PLAINTEXT = Buffer.from(JSON.stringify({ method: 'create', uri: '/ecdhe', jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }));

/**
 * RFC 7516 Appendix A.1, "Example JWE using RSAES-OAEP and AES GCM": the RSA key of A.1.3 and the
 * complete compact serialization of A.1.7. Its header has no kid.
 */
const RFC7516_A1 = {
  key: {
    kty: 'RSA',
    n:
      'oahUIoWw0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUWcJoZmds2h7M70imEVhRU5djINXtqllXI4DFqcI1DgjT9LewND8MW2Krf3S' +
      'psk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN92i2asbOenSZeyaxziK72UwxrrKoExv6kc5twXTq4h-QChLOln0_mtUZwfsRaMS' +
      'tPs6mS6XrgxnxbWhojf663tuEQueGC-FCMfra36C9knDFGzKsNa7LZK2djYgyD3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw',
    e: 'AQAB',
    d:
      'kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5NWV5KntaEeXS1j82E375xxhWMHXyvjYecPT9fpwR_M9gV8n9Hrh2anTpTD9' +
      '3Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7uGR1hghkqDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vl' +
      't3UVe4WO3JkJOzlpUf-KTVI2Ptgm-dARxTEtE-id-4OJr0h-K-VFs3VSndVTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ',
    p:
      '1r52Xk46c-LsfB5P442p7atdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-SWxkbkmoEzL7JXroSBjSrK3YIQgYdMgyAEPTPjXv_hI2_1eTSPVZfzL0lf' +
      'fNn03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0',
    q:
      'wLb35x7hmQWZsWJmB_vle87ihgZ19S8lBEROLIsZG4ayZVe9Hi9gDVCOBmUDdaDYVTSNx_8Fyw1YYa9XGrGnDew00J28cRUoeBB_jKI1oma0Orv1T9aX' +
      'IWxKwd4gvxFImOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc',
    dp:
      'ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfeQ3SiresXjm9gZ5KLhMXvo-uz-KUJWDxS5pFQ_M0evdo1dKiRTjVw_x4NyqyXPM5nULPkcpU827' +
      'rnpZzAJKpdhWAgqrXGKAECQH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE',
    dq:
      'Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy86x0vHCjywcMlYYg4yoC4YZa9hNVcsjqA3FeiL19rk8g6Qn29Tt0cj8qqyFpz9vNDB' +
      'UfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X5tvLx-TCekf7oxyeKDUqKWjis',
    qi:
      'VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7AlWAyLWybqq6t16VFd7hQd0y6flUK4SlOydB61gwanOsXGOAOv82cHq0E3' +
      'eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_XyaY14ardLSjf4L_FNY',
  },
  token:
    'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.' +
    'OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDb' +
    'Sv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je8' +
    '1860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.' +
    '48V1_ALb6US04U3b.' +
    '5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.' +
    'XFBoMYUZodetZdvTiFvSkQ',
  plaintext: 'The true sign of intelligence is not knowledge but imagination.',
  /** A.1.2: the CEK, which the OAEP step must recover. */
  cek: [177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7, 110, 91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252],
};

/** Wraps a decryptor to count calls and keep the last unwrapped CEK. */
function spy(inner: RsaOaepDecryptor): RsaOaepDecryptor & { calls: number; last?: Buffer } {
  const wrapper = {
    calls: 0,
    last: undefined as Buffer | undefined,
    async decrypt(encryptedKey: Buffer): Promise<Buffer> {
      wrapper.calls++;
      const cek = await inner.decrypt(encryptedKey);
      wrapper.last = Buffer.from(cek);
      return cek;
    },
  };
  return wrapper;
}

describe('RSA-OAEP + A256GCM: RFC 7516 Appendix A.1 known answer', () => {
  it('decrypts the published token with the published key, recovering the published CEK', async () => {
    const decryptor = spy(softwareRsaOaepDecryptor(createPrivateKey({ key: RFC7516_A1.key, format: 'jwk' })));
    const { header, plaintext } = await decryptRsaOaepJwe(RFC7516_A1.token, decryptor);
    assert.equal(plaintext.toString('utf8'), RFC7516_A1.plaintext);
    assert.deepEqual(header, { alg: 'RSA-OAEP', enc: 'A256GCM' });
    assert.deepEqual([...(decryptor.last ?? [])], RFC7516_A1.cek, 'RSA-OAEP is OAEP with SHA-1 and MGF1-SHA-1');
  });

  it('refuses the published token when a kid is expected, since it names none', async () => {
    const decryptor = spy(softwareRsaOaepDecryptor(createPrivateKey({ key: RFC7516_A1.key, format: 'jwk' })));
    await rejectsCode(() => decryptRsaOaepJwe(RFC7516_A1.token, decryptor, { expectedKid: KID }), 'CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED);
    assert.equal(decryptor.calls, 0, 'the private key is not used for a token addressed elsewhere');
  });
});

describe('RSA-OAEP + A256GCM: round trip', () => {
  const { privateKey, publicKey } = rsaPair();

  it('decrypts what it encrypts; the header is alg, enc, kid', async () => {
    const token = encryptRsaOaepJwe(publicKey, KID, PLAINTEXT);
    const peeked = peekCompactHeader(token);
    assert.deepEqual({ kind: peeked.kind, header: peeked.header }, { kind: 'jwe', header: { alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID } });
    assert.equal(Buffer.from(token.split('.')[1] ?? '', 'base64url').length, 256);
    const { header, plaintext } = await decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey), { expectedKid: KID });
    assert.deepEqual(plaintext, PLAINTEXT);
    assert.equal(header.kid, KID);
  });

  it('takes an asynchronous decryptor, as a PKCS#11 one would be', async () => {
    const software = softwareRsaOaepDecryptor(privateKey);
    const hsmLike: RsaOaepDecryptor = {
      decrypt: (encryptedKey) => new Promise((resolve) => setImmediate(() => resolve(software.decrypt(encryptedKey) as Buffer))),
    };
    const token = encryptRsaOaepJwe(publicKey, KID, PLAINTEXT);
    assert.deepEqual((await decryptRsaOaepJwe(token, hsmLike)).plaintext, PLAINTEXT);
  });

  it('uses a fresh CEK and IV for every message', () => {
    const tokens = Array.from({ length: 20 }, () => encryptRsaOaepJwe(publicKey, KID, PLAINTEXT).split('.'));
    assert.equal(new Set(tokens.map((t) => t[1])).size, 20);
    assert.equal(new Set(tokens.map((t) => t[2])).size, 20);
  });

  it('refuses keys under 2048 bits, non-RSA keys and keys of the wrong type', () => {
    const small = rsaPair(1024);
    throwsCode(() => encryptRsaOaepJwe(small.publicKey, KID, PLAINTEXT), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwareRsaOaepDecryptor(small.privateKey), 'CRYPTO_INVALID_INPUT');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    throwsCode(() => encryptRsaOaepJwe(ec.publicKey, KID, PLAINTEXT), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwareRsaOaepDecryptor(ec.privateKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => encryptRsaOaepJwe(privateKey, KID, PLAINTEXT), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwareRsaOaepDecryptor(publicKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => encryptRsaOaepJwe(publicKey, '', PLAINTEXT), 'CRYPTO_INVALID_INPUT');
  });

  it('refuses a decryptor without a decrypt method', async () => {
    const token = encryptRsaOaepJwe(publicKey, KID, PLAINTEXT);
    await rejectsCode(() => decryptRsaOaepJwe(token, {} as RsaOaepDecryptor), 'CRYPTO_INVALID_INPUT');
    await rejectsCode(() => decryptRsaOaepJwe(token, null as unknown as RsaOaepDecryptor), 'CRYPTO_INVALID_INPUT');
  });
});

describe('RSA-OAEP + A256GCM: interop with the jose library (v6)', () => {
  const { privateKey, publicKey } = rsaPair();

  it('jose decrypts our tokens', async () => {
    const { plaintext, protectedHeader } = await compactDecrypt(encryptRsaOaepJwe(publicKey, KID, PLAINTEXT), privateKey, {
      keyManagementAlgorithms: ['RSA-OAEP'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    assert.deepEqual(Buffer.from(plaintext), PLAINTEXT);
    assert.deepEqual(protectedHeader, { alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID });
  });

  it('we decrypt jose tokens', async () => {
    const token = await new CompactEncrypt(PLAINTEXT).setProtectedHeader({ enc: 'A256GCM', alg: 'RSA-OAEP', kid: KID }).encrypt(publicKey);
    assert.deepEqual((await decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey), { expectedKid: KID })).plaintext, PLAINTEXT);
  });

  it('a jose RSA-OAEP-256 token (SHA-256 OAEP) is refused as off-profile', async () => {
    const token = await new CompactEncrypt(PLAINTEXT).setProtectedHeader({ enc: 'A256GCM', alg: 'RSA-OAEP-256', kid: KID }).encrypt(publicKey);
    await rejectsCode(() => decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey)), 'CRYPTO_MALFORMED');
  });
});

describe('RSA-OAEP + A256GCM: interop with node-jose (what node-kms uses)', () => {
  const { privateKey, publicKey } = rsaPair();

  it('node-jose decrypts our tokens', async () => {
    const key = await nodeJose.JWK.asKey({ ...privateKey.export({ format: 'jwk' }), kid: KID });
    const result = await nodeJose.JWE.createDecrypt(key).decrypt(encryptRsaOaepJwe(publicKey, KID, PLAINTEXT));
    assert.deepEqual(result.plaintext, PLAINTEXT);
    assert.deepEqual(result.header, { alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID });
  });

  it('we decrypt node-jose tokens, written the way node-kms writes an ECDHE request', async () => {
    const kmsPublic = await nodeJose.JWK.asKey({ ...publicKey.export({ format: 'jwk' }), kid: KID });
    const token = await nodeJose.JWE.createEncrypt({ format: 'compact', contentAlg: 'A256GCM', fields: { alg: 'RSA-OAEP' } }, kmsPublic)
      .update(PLAINTEXT)
      .final();
    assert.deepEqual(peekCompactHeader(token).header, { alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID });
    assert.deepEqual((await decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey), { expectedKid: KID })).plaintext, PLAINTEXT);
  });
});

describe('RSA-OAEP + A256GCM: hostile tokens and oracle hygiene', () => {
  const { privateKey, publicKey } = rsaPair();
  const good = encryptRsaOaepJwe(publicKey, KID, PLAINTEXT);
  const withHeader = (header: unknown): string => withSegment(good, 0, b64json(header));

  async function fails(token: string, options = {}): Promise<void> {
    await rejectsCode(() => decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey), options), 'CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED);
  }

  /** Off-profile tokens are refused as malformed without the private key ever being used. */
  async function malformedBeforeTheKey(token: string): Promise<void> {
    const decryptor = spy(softwareRsaOaepDecryptor(privateKey));
    await rejectsCode(() => decryptRsaOaepJwe(token, decryptor), 'CRYPTO_MALFORMED');
    assert.equal(decryptor.calls, 0);
  }

  it('refuses an alg other than RSA-OAEP and an enc other than A256GCM', async () => {
    for (const alg of ['RSA-OAEP-256', 'RSA1_5', 'dir', 'none', 'rsa-oaep']) await malformedBeforeTheKey(withHeader({ alg, enc: 'A256GCM', kid: KID }));
    for (const enc of ['A128GCM', 'A256CBC-HS512', 'A128CBC-HS256']) await malformedBeforeTheKey(withHeader({ alg: 'RSA-OAEP', enc, kid: KID }));
  });

  it('refuses zip, crit, an empty encrypted key, bad IV and tag lengths, bad base64url, wrong segment counts', async () => {
    await malformedBeforeTheKey(withHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID, zip: 'DEF' }));
    await malformedBeforeTheKey(withHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID, crit: ['x'], x: 1 }));
    await malformedBeforeTheKey(withHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 7 }));
    await malformedBeforeTheKey(withSegment(good, 1, ''));
    await malformedBeforeTheKey(withSegment(good, 2, b64(randomBytes(16))));
    await malformedBeforeTheKey(withSegment(good, 4, b64(randomBytes(12))));
    await malformedBeforeTheKey(withSegment(good, 1, `${good.split('.')[1] ?? ''}==`));
    await malformedBeforeTheKey(good.split('.').slice(0, 4).join('.'));
    await malformedBeforeTheKey(`${good}.AAAA`);
  });

  it('a kid other than expectedKid fails as a decryption failure, before the private key is used', async () => {
    const decryptor = spy(softwareRsaOaepDecryptor(privateKey));
    await rejectsCode(() => decryptRsaOaepJwe(good, decryptor, { expectedKid: `${KID}-2` }), 'CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED);
    assert.equal(decryptor.calls, 0);
  });

  it('OAEP failures (altered encrypted key, another key pair, SHA-256 OAEP) look exactly like tag failures', async () => {
    await fails(flipSegmentBit(good, 1, 0));
    await fails(flipSegmentBit(good, 1, 128));
    await fails(flipSegmentBit(good, 1, 255));
    await fails(withSegment(good, 1, b64(randomBytes(256))));
    await fails(withSegment(good, 1, b64(randomBytes(8))));
    await fails(encryptRsaOaepJwe(rsaPair(3072).publicKey, KID, PLAINTEXT));
    // A CEK wrapped with OAEP-SHA-256 under the right key, labelled RSA-OAEP: the SHA-1 unwrap fails.
    const sha256Wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomKey());
    await fails(withSegment(good, 1, b64(sha256Wrapped)));
  });

  it('a CEK that unwraps but is not 32 bytes fails the same way', async () => {
    for (const length of [0, 16, 24, 31, 33, 64]) {
      const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(length));
      await fails(withSegment(good, 1, b64(wrapped)));
    }
  });

  it('a right-length CEK from a correct OAEP unwrap that is not the sender CEK fails at the tag', async () => {
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomKey());
    await fails(withSegment(good, 1, b64(wrapped)));
  });

  it('tampered IV, ciphertext, tag or header all fail the same way', async () => {
    await fails(flipSegmentBit(good, 2, 5));
    await fails(flipSegmentBit(good, 3, 0));
    await fails(flipSegmentBit(good, 4, 15));
    await fails(withHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: `${KID}x` }));
    await fails(withHeader({ enc: 'A256GCM', alg: 'RSA-OAEP', kid: KID }));
  });

  it('whatever the decryptor does wrong (throws, rejects, returns junk), the answer is the one decrypt error', async () => {
    const decryptors: RsaOaepDecryptor[] = [
      { decrypt: () => { throw new Error('CKR_ENCRYPTED_DATA_INVALID'); } },
      { decrypt: () => Promise.reject(new Error('CKR_DEVICE_ERROR')) },
      { decrypt: () => Buffer.alloc(16) },
      { decrypt: () => randomKey() },
      { decrypt: () => 'a string' as unknown as Buffer },
      { decrypt: () => undefined as unknown as Buffer },
    ];
    const errors = [];
    for (const decryptor of decryptors) {
      errors.push(await rejectsCode(() => decryptRsaOaepJwe(good, decryptor), 'CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED));
    }
    const tagFailure = await rejectsCode(
      () => decryptRsaOaepJwe(flipSegmentBit(good, 4, 0), softwareRsaOaepDecryptor(privateKey)),
      'CRYPTO_DECRYPT_FAILED',
      DECRYPT_FAILED,
    );
    for (const error of errors) {
      assert.equal(error.message, tagFailure.message);
      assert.equal(error.code, tagFailure.code);
      assert.equal(error.cause, undefined);
      assert.equal(error.stack?.includes('CKR_'), false, 'nothing of the decryptor error survives');
    }
  });

  it('wipes the CEK the decryptor returned', async () => {
    const software = softwareRsaOaepDecryptor(privateKey);
    let returned: Buffer | undefined;
    const decryptor: RsaOaepDecryptor = {
      decrypt: (encryptedKey) => {
        returned = software.decrypt(encryptedKey) as Buffer;
        return returned;
      },
    };
    await decryptRsaOaepJwe(good, decryptor);
    assert.ok(returned !== undefined && returned.every((b) => b === 0));
  });

  it('the content layer is plain AES-256-GCM: a token assembled by hand from a known CEK decrypts', async () => {
    const cek = randomKey();
    const iv = randomBytes(12);
    const header = b64json({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: KID });
    const { ciphertext, tag } = aesGcmEncrypt(cek, iv, PLAINTEXT, Buffer.from(header, 'ascii'));
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cek);
    const token = [header, b64(wrapped), b64(iv), b64(ciphertext), b64(tag)].join('.');
    assert.deepEqual((await decryptRsaOaepJwe(token, softwareRsaOaepDecryptor(privateKey))).plaintext, PLAINTEXT);
  });
});
