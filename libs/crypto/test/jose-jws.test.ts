import assert from 'node:assert/strict';
import { constants, createHmac, createPublicKey, generateKeyPairSync, KeyObject, sign as nodeSign } from 'node:crypto';
import { describe, it } from 'node:test';
import { CompactSign, compactVerify, generateKeyPair } from 'jose';
import nodeJose from 'node-jose';
import {
  encryptDirA256Gcm,
  peekCompactHeader,
  randomKey,
  signCompactJws,
  softwarePs256Signer,
  verifyCompactJws,
  type JwsAlgorithm,
  type JwsSigner,
} from '../src/index.js';
import { b64, b64json, flipSegmentBit, malformedBy, rejectsCode, rsaPair, throwsCode, verifyFailsBy, withSegment } from './jose-helpers.js';

const KID = 'kms://kms.example.com/keys/static/rsa-1';
const PAYLOAD = Buffer.from(JSON.stringify({ status: 201, requestId: 'r-1', key: { uri: 'kms://kms.example.com/ecdhe/1' } }));
const BOTH: JwsAlgorithm[] = ['PS256', 'RS256'];

/**
 * RFC 7515 Appendix A.2, "Example JWS Using RSASSA-PKCS1-v1_5 SHA-256": the public key of A.2.1 and
 * the complete compact serialization of A.2.1. RS256 is deterministic, so the signature is fixed.
 */
const RFC7515_A2 = {
  n:
    'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL' +
    '-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
  e: 'AQAB',
  token:
    'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.' +
    'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw',
  payload: '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}',
};

/** A JWS built by hand: any header, signed over the standard signing input by `signature`. */
function handMade(header: unknown, payload: Buffer, signature: (input: Buffer) => Buffer): string {
  const input = `${b64json(header)}.${b64(payload)}`;
  return `${input}.${b64(signature(Buffer.from(input, 'ascii')))}`;
}
const ps256 = (key: KeyObject, saltLength = 32) => (input: Buffer) =>
  nodeSign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
const rs256 = (key: KeyObject) => (input: Buffer) => nodeSign('sha256', input, { key, padding: constants.RSA_PKCS1_PADDING });

describe('JWS: RFC 7515 Appendix A.2 known answer (RS256)', () => {
  const publicKey = createPublicKey({ key: { kty: 'RSA', n: RFC7515_A2.n, e: RFC7515_A2.e }, format: 'jwk' });

  it('verifies the published token when RS256 is allowed', () => {
    const { header, payload } = verifyCompactJws(RFC7515_A2.token, publicKey, { algorithms: ['RS256'] });
    assert.deepEqual(header, { alg: 'RS256' });
    assert.equal(payload.toString('utf8'), RFC7515_A2.payload);
  });

  it('refuses it when only PS256 is allowed, or when a kid is expected', () => {
    verifyFailsBy(() => verifyCompactJws(RFC7515_A2.token, publicKey, { algorithms: ['PS256'] }));
    verifyFailsBy(() => verifyCompactJws(RFC7515_A2.token, publicKey, { algorithms: ['RS256'], expectedKid: KID }));
  });

  it('refuses it with any bit of the signature flipped', () => {
    for (let byte = 0; byte < 256; byte += 15) {
      verifyFailsBy(() => verifyCompactJws(flipSegmentBit(RFC7515_A2.token, 2, byte), publicKey, { algorithms: ['RS256'] }));
    }
  });
});

describe('JWS PS256: sign and verify', () => {
  const { privateKey, publicKey } = rsaPair();
  const signer = softwarePs256Signer(privateKey);

  it('signs with the header {"alg":"PS256","kid":...} and verifies', async () => {
    const token = await signCompactJws(PAYLOAD, KID, signer);
    const peeked = peekCompactHeader(token);
    assert.deepEqual({ kind: peeked.kind, header: peeked.header }, { kind: 'jws', header: { alg: 'PS256', kid: KID } });
    assert.equal(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString(), `{"alg":"PS256","kid":"${KID}"}`);
    const { header, payload } = verifyCompactJws(token, publicKey, { algorithms: ['PS256'], expectedKid: KID });
    assert.deepEqual(payload, PAYLOAD);
    assert.deepEqual(header, { alg: 'PS256', kid: KID });
  });

  it('PSS is randomized: two signatures of one payload differ and both verify', async () => {
    const a = await signCompactJws(PAYLOAD, KID, signer);
    const b = await signCompactJws(PAYLOAD, KID, signer);
    assert.notEqual(a, b);
    verifyCompactJws(a, publicKey, { algorithms: ['PS256'] });
    verifyCompactJws(b, publicKey, { algorithms: ['PS256'] });
  });

  it('signs an empty payload', async () => {
    const token = await signCompactJws(Buffer.alloc(0), KID, signer);
    assert.equal(verifyCompactJws(token, publicKey, { algorithms: ['PS256'] }).payload.length, 0);
  });

  it('takes an asynchronous signer, as a PKCS#11 one would be, and passes it the exact signing input', async () => {
    let seen: Buffer | undefined;
    const hsmLike: JwsSigner = {
      alg: 'PS256',
      sign: async (input) => {
        seen = Buffer.from(input);
        await new Promise((resolve) => setImmediate(resolve));
        return signer.sign(input);
      },
    };
    const token = await signCompactJws(PAYLOAD, KID, hsmLike);
    assert.equal(seen?.toString('ascii'), token.split('.').slice(0, 2).join('.'));
    verifyCompactJws(token, publicKey, { algorithms: ['PS256'] });
  });

  it('propagates a signer error unchanged and refuses a signer that returns no bytes', async () => {
    await assert.rejects(signCompactJws(PAYLOAD, KID, { alg: 'PS256', sign: () => Promise.reject(new Error('CKR_SESSION_CLOSED')) }), /CKR_SESSION_CLOSED/);
    await rejectsCode(() => signCompactJws(PAYLOAD, KID, { alg: 'PS256', sign: () => Buffer.alloc(0) }), 'CRYPTO_INVALID_INPUT');
    await rejectsCode(() => signCompactJws(PAYLOAD, KID, { alg: 'PS256', sign: () => 'sig' as unknown as Buffer }), 'CRYPTO_INVALID_INPUT');
  });

  it('refuses a signer that is not PS256, a bad kid and a small or non-RSA signing key', async () => {
    await rejectsCode(() => signCompactJws(PAYLOAD, KID, { alg: 'RS256', sign: signer.sign } as unknown as JwsSigner), 'CRYPTO_INVALID_INPUT');
    await rejectsCode(() => signCompactJws(PAYLOAD, '', signer), 'CRYPTO_INVALID_INPUT');
    await rejectsCode(() => signCompactJws('text' as unknown as Buffer, KID, signer), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwarePs256Signer(rsaPair(1024).privateKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwarePs256Signer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => softwarePs256Signer(publicKey), 'CRYPTO_INVALID_INPUT');
  });

  it('verifies RS256 when allowed', () => {
    const token = handMade({ alg: 'RS256', kid: KID }, PAYLOAD, rs256(privateKey));
    assert.deepEqual(verifyCompactJws(token, publicKey, { algorithms: ['RS256'] }).payload, PAYLOAD);
    assert.deepEqual(verifyCompactJws(token, publicKey, { algorithms: BOTH }).payload, PAYLOAD);
  });
});

describe('JWS: interop with the jose library (v6)', () => {
  const { privateKey, publicKey } = rsaPair();

  it('jose verifies our PS256 tokens', async () => {
    const token = await signCompactJws(PAYLOAD, KID, softwarePs256Signer(privateKey));
    const { payload, protectedHeader } = await compactVerify(token, publicKey, { algorithms: ['PS256'] });
    assert.deepEqual(Buffer.from(payload), PAYLOAD);
    assert.deepEqual(protectedHeader, { alg: 'PS256', kid: KID });
  });

  it('we verify jose PS256 and RS256 tokens', async () => {
    for (const alg of BOTH) {
      const token = await new CompactSign(PAYLOAD).setProtectedHeader({ alg, kid: KID }).sign(privateKey);
      const { header, payload } = verifyCompactJws(token, publicKey, { algorithms: [alg], expectedKid: KID });
      assert.deepEqual(payload, PAYLOAD);
      assert.equal(header.alg, alg);
    }
  });

  it('we verify tokens signed with a key pair jose generated', async () => {
    const pair = await generateKeyPair('PS256', { extractable: true });
    const token = await new CompactSign(PAYLOAD).setProtectedHeader({ alg: 'PS256' }).sign(pair.privateKey);
    const publicKeyObject = KeyObject.from(pair.publicKey as Parameters<typeof KeyObject.from>[0]);
    assert.deepEqual(verifyCompactJws(token, publicKeyObject, { algorithms: ['PS256'] }).payload, PAYLOAD);
  });
});

describe('JWS: interop with node-jose (what node-kms uses)', () => {
  const { privateKey, publicKey } = rsaPair();

  it('node-jose verifies our PS256 tokens', async () => {
    const key = await nodeJose.JWK.asKey({ ...publicKey.export({ format: 'jwk' }), kid: KID });
    const token = await signCompactJws(PAYLOAD, KID, softwarePs256Signer(privateKey));
    const result = await nodeJose.JWS.createVerify(key).verify(token);
    assert.deepEqual(result.payload, PAYLOAD);
    assert.deepEqual(result.header, { alg: 'PS256', kid: KID });
  });

  it('we verify node-jose PS256 tokens, and its default, RS256', async () => {
    const key = await nodeJose.JWK.asKey({ ...privateKey.export({ format: 'jwk' }), kid: KID });
    const ps = await nodeJose.JWS.createSign({ format: 'compact', fields: { alg: 'PS256' } }, key).update(PAYLOAD).final();
    assert.deepEqual(peekCompactHeader(ps).header, { alg: 'PS256', kid: KID });
    assert.deepEqual(verifyCompactJws(ps, publicKey, { algorithms: ['PS256'], expectedKid: KID }).payload, PAYLOAD);
    // node-jose ignores a top-level `alg` option and signs RS256 unless `fields.alg` says otherwise.
    const rs = await nodeJose.JWS.createSign({ format: 'compact', alg: 'PS256' }, key).update(PAYLOAD).final();
    assert.deepEqual(peekCompactHeader(rs).header, { alg: 'RS256', kid: KID });
    assert.deepEqual(verifyCompactJws(rs, publicKey, { algorithms: BOTH, expectedKid: KID }).payload, PAYLOAD);
    verifyFailsBy(() => verifyCompactJws(rs, publicKey, { algorithms: ['PS256'] }));
  });
});

describe('JWS: hostile tokens', () => {
  const { privateKey, publicKey } = rsaPair();
  const good = handMade({ alg: 'PS256', kid: KID }, PAYLOAD, ps256(privateKey));
  const options = { algorithms: BOTH, expectedKid: KID };

  it('alg none, with an empty or any signature, is refused', () => {
    const unsigned = `${b64json({ alg: 'none', kid: KID })}.${b64(PAYLOAD)}.`;
    verifyFailsBy(() => verifyCompactJws(unsigned, publicKey, options));
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 0, b64json({ alg: 'none', kid: KID })), publicKey, options));
    for (const alg of ['None', 'NONE', 'nOnE']) verifyFailsBy(() => verifyCompactJws(`${b64json({ alg })}.${b64(PAYLOAD)}.`, publicKey, options));
  });

  it('HS256 with the RSA public key (PEM, DER or JWK n) as the HMAC secret - algorithm confusion - is refused', () => {
    const secrets = [
      publicKey.export({ type: 'spki', format: 'pem' }),
      publicKey.export({ type: 'pkcs1', format: 'pem' }),
      publicKey.export({ type: 'spki', format: 'der' }),
      Buffer.from(String(publicKey.export({ format: 'jwk' }).n), 'base64url'),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const hash = `sha${alg.slice(2)}`;
        const token = handMade({ alg, kid: KID }, PAYLOAD, (input) => createHmac(hash, secret).update(input).digest());
        verifyFailsBy(() => verifyCompactJws(token, publicKey, options));
      }
    }
  });

  it('any other alg not in the allow-list is refused, and RS256 when only PS256 is allowed', () => {
    for (const alg of ['PS384', 'PS512', 'RS384', 'RS512', 'ES256', 'EdDSA', 'ps256', 'PS256 ', 'RSA-OAEP']) {
      verifyFailsBy(() => verifyCompactJws(withSegment(good, 0, b64json({ alg, kid: KID })), publicKey, options));
    }
    const rs = handMade({ alg: 'RS256', kid: KID }, PAYLOAD, rs256(privateKey));
    verifyFailsBy(() => verifyCompactJws(rs, publicKey, { algorithms: ['PS256'] }));
  });

  it('a PS256 header over an RS256 signature (and the reverse) is refused', () => {
    const rsSig = handMade({ alg: 'PS256', kid: KID }, PAYLOAD, rs256(privateKey));
    verifyFailsBy(() => verifyCompactJws(rsSig, publicKey, options));
    const psSig = handMade({ alg: 'RS256', kid: KID }, PAYLOAD, ps256(privateKey));
    verifyFailsBy(() => verifyCompactJws(psSig, publicKey, options));
  });

  it('a PSS signature with a salt other than 32 bytes is refused (RFC 7518 §3.5)', () => {
    for (const salt of [0, 20, 64]) {
      verifyFailsBy(() => verifyCompactJws(handMade({ alg: 'PS256', kid: KID }, PAYLOAD, ps256(privateKey, salt)), publicKey, options));
    }
  });

  it('crit and b64 are refused even when correctly signed', () => {
    for (const extra of [{ crit: ['exp'], exp: 1 }, { crit: [] }, { b64: false, crit: ['b64'] }, { b64: true }]) {
      verifyFailsBy(() => verifyCompactJws(handMade({ alg: 'PS256', kid: KID, ...extra }, PAYLOAD, ps256(privateKey)), publicKey, options));
    }
  });

  it('a wrong kid is refused when expectedKid is given, even with a valid signature', () => {
    verifyFailsBy(() => verifyCompactJws(good, publicKey, { algorithms: BOTH, expectedKid: `${KID}-other` }));
    verifyFailsBy(() => verifyCompactJws(handMade({ alg: 'PS256' }, PAYLOAD, ps256(privateKey)), publicKey, options));
    verifyFailsBy(() => verifyCompactJws(handMade({ alg: 'PS256', kid: 1 }, PAYLOAD, ps256(privateKey)), publicKey, { algorithms: BOTH }));
    assert.deepEqual(verifyCompactJws(good, publicKey, { algorithms: BOTH }).payload, PAYLOAD);
  });

  it('a tampered header, payload or signature is refused with the one message', () => {
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 0, b64json({ kid: KID, alg: 'PS256' })), publicKey, options));
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 1, b64(Buffer.from(PAYLOAD.toString().replace('201', '200')))), publicKey, options));
    for (const byte of [0, 100, 255]) verifyFailsBy(() => verifyCompactJws(flipSegmentBit(good, 2, byte), publicKey, options));
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 2, ''), publicKey, options));
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 2, b64(Buffer.from(good.split('.')[2] ?? '', 'base64url').subarray(1))), publicKey, options));
    verifyFailsBy(() => verifyCompactJws(withSegment(good, 2, b64(Buffer.concat([Buffer.alloc(1), Buffer.from(good.split('.')[2] ?? '', 'base64url')]))), publicKey, options));
  });

  it('a signature by another key is refused', () => {
    verifyFailsBy(() => verifyCompactJws(handMade({ alg: 'PS256', kid: KID }, PAYLOAD, ps256(rsaPair(3072).privateKey)), publicKey, options));
  });

  it('malformed tokens are CRYPTO_MALFORMED: bad base64url, 2, 4 and 5 segments, header not a JSON object', () => {
    malformedBy(() => verifyCompactJws(`${good}=`, publicKey, options));
    malformedBy(() => verifyCompactJws(withSegment(good, 1, `${b64(PAYLOAD)} `), publicKey, options));
    malformedBy(() => verifyCompactJws(good.split('.').slice(0, 2).join('.'), publicKey, options));
    malformedBy(() => verifyCompactJws(`${good}.AAAA`, publicKey, options));
    malformedBy(() => verifyCompactJws(encryptDirA256Gcm(randomKey(), KID, PAYLOAD), publicKey, options));
    malformedBy(() => verifyCompactJws(withSegment(good, 0, b64json(['PS256'])), publicKey, options));
    malformedBy(() => verifyCompactJws(withSegment(good, 0, b64('PS256')), publicKey, options));
  });

  it('refuses a verification key that is not an RSA public key of at least 2048 bits', () => {
    const small = rsaPair(1024);
    const smallToken = handMade({ alg: 'PS256', kid: KID }, PAYLOAD, ps256(small.privateKey));
    throwsCode(() => verifyCompactJws(smallToken, small.publicKey, options), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => verifyCompactJws(good, privateKey, options), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => verifyCompactJws(good, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, options), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => verifyCompactJws(good, publicKey.export({ type: 'spki', format: 'pem' }) as unknown as KeyObject, options), 'CRYPTO_INVALID_INPUT');
  });

  it('refuses an allow-list that is empty or names anything but PS256 and RS256', () => {
    for (const algorithms of [[], ['HS256'], ['none'], ['PS256', 'ES256'], 'PS256', undefined]) {
      throwsCode(() => verifyCompactJws(good, publicKey, { algorithms } as unknown as { algorithms: JwsAlgorithm[] }), 'CRYPTO_INVALID_INPUT');
    }
    throwsCode(() => verifyCompactJws(good, publicKey, undefined as unknown as { algorithms: JwsAlgorithm[] }), 'CRYPTO_INVALID_INPUT');
  });
});
