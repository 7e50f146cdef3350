import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import nodeJose from 'node-jose';
import {
  decryptDirA256Gcm,
  deriveChannelKey,
  encryptDirA256Gcm,
  generateEphemeralP256,
  hkdfSha256,
  importP256PublicJwk,
} from '../src/index.js';
import { b64, malformedBy, throwsCode } from './jose-helpers.js';

const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;

const toHex32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const fromB64 = (text: string): bigint => BigInt(`0x${Buffer.from(text, 'base64url').toString('hex')}`);

/** A P-256 key pair as node-jose keys (what a Webex client holds). */
async function nodeJosePair() {
  return nodeJose.JWK.createKey('EC', 'P-256', {});
}

describe('ECDH-HKDF channel key agreement', () => {
  it('generates ephemeral P-256 keys whose public JWK has exactly kty, crv, x, y', () => {
    const { privateKey, publicJwk } = generateEphemeralP256();
    assert.deepEqual(Object.keys(publicJwk).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(publicJwk.kty, 'EC');
    assert.equal(publicJwk.crv, 'P-256');
    assert.equal(Buffer.from(publicJwk.x, 'base64url').length, 32);
    assert.equal(Buffer.from(publicJwk.y, 'base64url').length, 32);
    assert.equal(privateKey.type, 'private');
    assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(createPublicKey(privateKey).export({ format: 'jwk' }), { ...publicJwk });
  });

  it('both sides derive the same 32-byte key, and a channel works with it', () => {
    const kms = generateEphemeralP256();
    const client = generateEphemeralP256();
    const kmsKey = deriveChannelKey(kms.privateKey, importP256PublicJwk(client.publicJwk));
    const clientKey = deriveChannelKey(client.privateKey, importP256PublicJwk(kms.publicJwk));
    assert.equal(kmsKey.length, 32);
    assert.deepEqual(kmsKey, clientKey);
    const token = encryptDirA256Gcm(clientKey, 'kms://kms.example.com/ecdhe/1', Buffer.from('hello'));
    assert.equal(decryptDirA256Gcm(kmsKey, token).plaintext.toString(), 'hello');
  });

  it('is HKDF-SHA-256 over the ECDH x-coordinate with an empty (= 32 zero bytes) salt and empty info', () => {
    const a = generateEphemeralP256();
    const b = generateEphemeralP256();
    const z = diffieHellman({ privateKey: a.privateKey, publicKey: importP256PublicJwk(b.publicJwk) });
    const expected = Buffer.from(hkdfSync('sha256', z, Buffer.alloc(32), Buffer.alloc(0), 32));
    assert.deepEqual(deriveChannelKey(a.privateKey, importP256PublicJwk(b.publicJwk)), expected);
    assert.deepEqual(hkdfSha256(z, Buffer.alloc(0), Buffer.alloc(0), 32), expected);
  });

  it('derives the key node-jose derives with JWA.derive("ECDH-HKDF", ...), in both directions', async () => {
    for (let round = 0; round < 5; round++) {
      const client = await nodeJosePair();
      const kms = generateEphemeralP256();
      // node-jose's JWA functions take keys in toObject() form (Buffers); toJSON() strings fail there.
      const theirs = await nodeJose.JWA.derive('ECDH-HKDF', client.toObject(true), {
        public: (await nodeJose.JWK.asKey({ ...kms.publicJwk })).toObject(),
      });
      const ours = deriveChannelKey(kms.privateKey, importP256PublicJwk(client.toJSON()));
      assert.deepEqual(ours, theirs);
      const clientPrivate = createPrivateKey({ key: client.toJSON(true) as { kty: string }, format: 'jwk' });
      assert.deepEqual(deriveChannelKey(clientPrivate, importP256PublicJwk(kms.publicJwk)), theirs);
    }
  });
});

describe('importP256PublicJwk: hostile keys', () => {
  const { publicJwk } = generateEphemeralP256();

  it('accepts a valid key, ignoring kid, use, alg, key_ops', () => {
    const key = importP256PublicJwk({ ...publicJwk, kid: 'k', use: 'enc', alg: 'ECDH-ES', key_ops: ['deriveBits'] });
    assert.equal(key.type, 'public');
    assert.deepEqual(key.export({ format: 'jwk' }), { ...publicJwk });
  });

  it('ignores a private member d that a careless client sends: the result is a public key, the derivation unchanged', () => {
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const withD = peer.privateKey.export({ format: 'jwk' });
    assert.equal(typeof withD.d, 'string');
    const imported = importP256PublicJwk(withD);
    assert.equal(imported.type, 'public');
    const ours = generateEphemeralP256();
    const { d: _d, ...publicOnly } = withD;
    assert.deepEqual(deriveChannelKey(ours.privateKey, imported), deriveChannelKey(ours.privateKey, importP256PublicJwk(publicOnly)));
    // Even a d that does not belong to the point is ignored, not checked and not used.
    assert.deepEqual(importP256PublicJwk({ ...publicJwk, d: b64(Buffer.alloc(32, 7)) }).export({ format: 'jwk' }), { ...publicJwk });
  });

  it('refuses a point off the curve (a valid point with y + 1)', () => {
    const y = fromB64(publicJwk.y);
    malformedBy(() => importP256PublicJwk({ ...publicJwk, y: b64(toHex32((y + 1n) % P)) }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(toHex32((fromB64(publicJwk.x) + 1n) % P)) }));
  });

  it('refuses (0, 0), standing in for the point at infinity, and (0, y) for small y', () => {
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(Buffer.alloc(32)), y: b64(Buffer.alloc(32)) }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(Buffer.alloc(32)), y: b64(toHex32(1n)) }));
  });

  it('refuses coordinates at or above the field prime, even when they are congruent to a valid point', () => {
    const x = fromB64(publicJwk.x);
    const y = fromB64(publicJwk.y);
    // x + p and y + p still fit 32 bytes only when the coordinate is small; use p itself and 2^256 - 1.
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(toHex32(P)) }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, y: b64(toHex32(2n ** 256n - 1n)) }));
    if (y + P < 2n ** 256n) malformedBy(() => importP256PublicJwk({ ...publicJwk, y: b64(toHex32(y + P)) }));
    if (x + P < 2n ** 256n) malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(toHex32(x + P)) }));
  });

  it('refuses P-384, P-521, secp256k1 and a P-384 key relabelled P-256', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    malformedBy(() => importP256PublicJwk(p384));
    malformedBy(() => importP256PublicJwk({ ...p384, crv: 'P-256' }));
    malformedBy(() => importP256PublicJwk(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ format: 'jwk' })));
    malformedBy(() => importP256PublicJwk(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' })));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, crv: 'secp256k1' }));
  });

  it('refuses x or y of 31 or 33 bytes, or not strict base64url', () => {
    const x = Buffer.from(publicJwk.x, 'base64url');
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(x.subarray(1)) }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: b64(Buffer.concat([Buffer.alloc(1), x])) }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, y: `${publicJwk.y}=` }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, y: Buffer.from(publicJwk.y, 'base64url').toString('base64') + '/' }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, x: 42 }));
    malformedBy(() => importP256PublicJwk({ kty: 'EC', crv: 'P-256', x: publicJwk.x }));
  });

  it('refuses other key types and non-objects', () => {
    malformedBy(() => importP256PublicJwk({ ...publicJwk, kty: 'RSA' }));
    malformedBy(() => importP256PublicJwk({ ...publicJwk, kty: 'OKP' }));
    malformedBy(() => importP256PublicJwk(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' })));
    for (const value of [null, undefined, 'jwk', 42, [publicJwk]]) malformedBy(() => importP256PublicJwk(value));
  });

  it('refuses keys of the wrong type or curve in deriveChannelKey as caller errors', () => {
    const ours = generateEphemeralP256();
    const peer: KeyObject = importP256PublicJwk(generateEphemeralP256().publicJwk);
    throwsCode(() => deriveChannelKey(peer, peer), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => deriveChannelKey(ours.privateKey, ours.privateKey), 'CRYPTO_INVALID_INPUT');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    throwsCode(() => deriveChannelKey(p384.privateKey, peer), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => deriveChannelKey(ours.privateKey, p384.publicKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => deriveChannelKey(ours.privateKey, generateKeyPairSync('x25519').publicKey), 'CRYPTO_INVALID_INPUT');
    throwsCode(() => deriveChannelKey(ours.privateKey, ours.publicJwk as unknown as KeyObject), 'CRYPTO_INVALID_INPUT');
  });
});
