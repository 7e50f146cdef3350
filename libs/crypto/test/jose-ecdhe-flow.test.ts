import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nodeJose from 'node-jose';
import {
  decryptDirA256Gcm,
  decryptRsaOaepJwe,
  deriveChannelKey,
  encryptDirA256Gcm,
  generateEphemeralP256,
  importP256PublicJwk,
  peekCompactHeader,
  signCompactJws,
  softwarePs256Signer,
  softwareRsaOaepDecryptor,
  verifyCompactJws,
} from '../src/index.js';
import { b64, rsaPair } from './jose-helpers.js';

const STATIC_KID = 'kms://kms.example.com/keys/static/1';
const ECDHE_URI = 'kms://kms.example.com/ecdhe/7f3c2a10-8f0e-4a57-9d5e-2b7c1f0e9a44';

/**
 * The whole ECDHE exchange with node-jose on the client side, as node-kms drives it: an RSA-OAEP
 * JWE request carrying the client's ephemeral JWK, a PS256 JWS response carrying ours, ECDH-HKDF
 * on both sides, then dir + A256GCM messages both ways. The message bodies are illustrative; the
 * JOSE layer is what is under test.
 */
describe('ECDHE exchange against a node-jose client', () => {
  it('establishes a channel key both sides agree on and carries messages both ways', async () => {
    // The KMS's static key; the client knows its public half by kid.
    const { privateKey: staticPrivate, publicKey: staticPublic } = rsaPair();
    const kmsStaticForClient = await nodeJose.JWK.asKey({ ...staticPublic.export({ format: 'jwk' }), kid: STATIC_KID });

    // Client: ephemeral key, request encrypted to the static key.
    const clientEphemeral = await nodeJose.JWK.createKey('EC', 'P-256', {});
    const request = { client: { clientId: 'test' }, method: 'create', uri: '/ecdhe', requestId: 'req-1', jwk: clientEphemeral.toJSON() };
    const requestToken = await nodeJose.JWE.createEncrypt({ format: 'compact', contentAlg: 'A256GCM', fields: { alg: 'RSA-OAEP' } }, kmsStaticForClient)
      .update(Buffer.from(JSON.stringify(request)))
      .final();

    // KMS: look the key up by kid, decrypt, import the client's key, answer signed.
    const peeked = peekCompactHeader(requestToken);
    assert.equal(peeked.kind, 'jwe');
    assert.equal(peeked.header.kid, STATIC_KID);
    const { plaintext } = await decryptRsaOaepJwe(requestToken, softwareRsaOaepDecryptor(staticPrivate), { expectedKid: STATIC_KID });
    const body = JSON.parse(plaintext.toString('utf8')) as { jwk: unknown; requestId: string };
    const clientPublic = importP256PublicJwk(body.jwk);
    const kmsEphemeral = generateEphemeralP256();
    const kmsChannelKey = deriveChannelKey(kmsEphemeral.privateKey, clientPublic);
    const response = { status: 201, requestId: body.requestId, key: { uri: ECDHE_URI, jwk: kmsEphemeral.publicJwk } };
    const responseToken = await signCompactJws(Buffer.from(JSON.stringify(response)), STATIC_KID, softwarePs256Signer(staticPrivate));

    // Client: verify the response with node-jose, derive with node-jose.
    const verified = await nodeJose.JWS.createVerify(kmsStaticForClient).verify(responseToken);
    const answer = JSON.parse(verified.payload.toString('utf8')) as typeof response;
    assert.equal(answer.requestId, 'req-1');
    const kmsEphemeralForClient = await nodeJose.JWK.asKey({ ...answer.key.jwk });
    const clientChannelKey = await nodeJose.JWA.derive('ECDH-HKDF', clientEphemeral.toObject(true), { public: kmsEphemeralForClient.toObject() });
    assert.deepEqual(clientChannelKey, kmsChannelKey);
    const channelForClient = await nodeJose.JWK.asKey({ kty: 'oct', kid: answer.key.uri, k: b64(clientChannelKey) });

    // Client -> KMS over the channel.
    const message = Buffer.from(JSON.stringify({ method: 'retrieve', uri: '/keys/abc', requestId: 'req-2' }));
    const clientToken = await nodeJose.JWE.createEncrypt({ format: 'compact', contentAlg: 'A256GCM', fields: { alg: 'dir' } }, channelForClient)
      .update(message)
      .final();
    const channelKid = peekCompactHeader(clientToken).header.kid;
    assert.equal(channelKid, ECDHE_URI);
    assert.deepEqual(decryptDirA256Gcm(kmsChannelKey, clientToken, { expectedKid: ECDHE_URI }).plaintext, message);

    // KMS -> client over the channel.
    const reply = Buffer.from(JSON.stringify({ status: 200, requestId: 'req-2' }));
    const replyToken = encryptDirA256Gcm(kmsChannelKey, ECDHE_URI, reply);
    const opened = await nodeJose.JWE.createDecrypt(channelForClient).decrypt(replyToken);
    assert.deepEqual(opened.plaintext, reply);

    // And the KMS can check its own response the way a peer KMS would.
    assert.deepEqual(JSON.parse(verifyCompactJws(responseToken, staticPublic, { algorithms: ['PS256'], expectedKid: STATIC_KID }).payload.toString()), response);
  });
});
