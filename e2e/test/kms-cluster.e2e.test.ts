/**
 * Two appliance processes on one PostgreSQL: channels, replay caches and keys live in the
 * database, so a handshake done on one node serves requests on the other, and a request replayed
 * to the other node is refused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { decryptDirA256Gcm, deriveChannelKey, encryptDirA256Gcm, encryptRsaOaepJwe, generateEphemeralP256, importP256PublicJwk, verifyCompactJws } from '@realm/crypto';
import { validateStaticKey } from '@realm/kms-client';
import { httpsRequest, makeTempDir, postgresTestUrl, type RunningAppliance, startAppliance, testDatabases } from '@realm/testing';
import { startRealm } from './support.js';

async function post(app: RunningAppliance, ca: Buffer, messages: string[]): Promise<string[]> {
  const reply = await httpsRequest('POST', `${app.url}/kms/messages`, ca, JSON.stringify({ kmsMessages: messages }));
  if (reply.status !== 200) throw new Error(reply.body);
  return (JSON.parse(reply.body) as { kmsMessages: string[] }).kmsMessages;
}

if (postgresTestUrl() !== undefined) {
  describe('two appliance nodes on one PostgreSQL', () => {
    it('serves a channel negotiated on one node from the other, and refuses a replay across nodes', async () => {
      const postgres = testDatabases().find((d) => d.name === 'postgres')!;
      const database = await postgres.create();
      // Both nodes share the database and, with the development vault, the master key file.
      const env = { ...database.env, REALM_DATA_DIR: makeTempDir('realm-cluster-') };
      const nodeA = await startRealm(env);
      const nodeB = await startAppliance(env);
      try {
        const alice = await nodeA.user('alice');
        const token = await alice.token();
        const discovery = JSON.parse((await nodeA.app.get('/kms/discovery')).body) as { rsaPublicKey: unknown };
        const staticKey = validateStaticKey(discovery.rsaPublicKey, { trustedRoots: [nodeA.caPem] });

        const ephemeral = generateEphemeralP256();
        const handshake = encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify({ client: { clientId: 'alice-laptop', credential: { bearer: token } }, method: 'create', uri: 'kms://kms.realm.test/ecdhe', requestId: randomUUID(), jwk: ephemeral.publicJwk })));
        const [answer] = await post(nodeA.app, nodeA.tlsCa, [handshake]);
        const negotiated = JSON.parse(verifyCompactJws(answer!, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
        assert.equal(negotiated.status, 201);
        const channelKey = deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(negotiated.key.jwk));
        const message = (fields: Record<string, unknown>) =>
          encryptDirA256Gcm(channelKey, negotiated.key.uri, Buffer.from(JSON.stringify({ client: { clientId: 'alice-laptop', credential: { bearer: token } }, requestId: randomUUID(), ...fields })));
        const read = (m: string) => JSON.parse(decryptDirA256Gcm(channelKey, m).plaintext.toString('utf8')) as { status: number; reason?: string; keys?: { uri: string; jwk: { k: string } }[]; key?: { jwk: { k: string } } };

        // Negotiated on A, used on B.
        const createOnB = message({ method: 'create', uri: 'kms://kms.realm.test/keys', count: 1 });
        const [created] = await post(nodeB, nodeA.tlsCa, [createOnB]);
        const key = read(created!).keys![0]!;
        // A key created on B is read on A.
        const [fetched] = await post(nodeA.app, nodeA.tlsCa, [message({ method: 'retrieve', uri: key.uri })]);
        assert.equal(read(fetched!).key!.jwk.k, key.jwk.k);

        // A request sent to A, replayed to B: refused, and nothing is created twice.
        const sentToA = message({ method: 'create', uri: 'kms://kms.realm.test/keys', count: 1 });
        const [first] = await post(nodeA.app, nodeA.tlsCa, [sentToA]);
        assert.equal(read(first!).status, 201);
        const [replayed] = await post(nodeB, nodeA.tlsCa, [sentToA]);
        const refusal = read(replayed!);
        assert.equal(refusal.status, 409);
        assert.match(refusal.reason!, /already used on this channel/);
        // The same for a batch of retrievals only (answered, then recorded with its audit records in one commit).
        const retrieveOnA = message({ method: 'retrieve', uri: key.uri });
        assert.equal(read((await post(nodeA.app, nodeA.tlsCa, [retrieveOnA]))[0]!).status, 200);
        const [replayedRetrieval, freshRetrieval] = await post(nodeB, nodeA.tlsCa, [retrieveOnA, message({ method: 'retrieve', uri: key.uri })]);
        assert.equal(read(replayedRetrieval!).status, 409);
        assert.equal(read(freshRetrieval!).key!.jwk.k, key.jwk.k);

        // realmctl (a third process) rotates the static key. Each node learns it from the database:
        // a channel opened under the old key gets the signed reset (499, signed with the old key,
        // which the client still trusts) on either node, for a batch of retrievals and for any other
        // request; a channel opened under the new key on A is served by B.
        await nodeA.ctl(['kms', 'rotate-static-key']);
        const reset = (m: string) => JSON.parse(verifyCompactJws(m, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; reason: string };
        const [retrievalAfter] = await post(nodeB, nodeA.tlsCa, [message({ method: 'retrieve', uri: key.uri })]);
        assert.equal(reset(retrievalAfter!).status, 499);
        assert.match(reset(retrievalAfter!).reason, /static key was rotated/);
        const [createAfter, retrieveAfter] = await post(nodeA.app, nodeA.tlsCa, [message({ method: 'create', uri: 'kms://kms.realm.test/keys', count: 1 }), message({ method: 'retrieve', uri: key.uri })]);
        assert.deepEqual([reset(createAfter!).status, reset(retrieveAfter!).status], [499, 499]);

        const rotated = validateStaticKey((JSON.parse((await nodeA.app.get('/kms/discovery')).body) as { rsaPublicKey: unknown }).rsaPublicKey, { trustedRoots: [nodeA.caPem] });
        assert.notEqual(rotated.kid, staticKey.kid);
        const next = generateEphemeralP256();
        const [answerUnderNewKey] = await post(nodeA.app, nodeA.tlsCa, [encryptRsaOaepJwe(rotated.publicKey, rotated.kid, Buffer.from(JSON.stringify({ client: { clientId: 'alice-laptop', credential: { bearer: token } }, method: 'create', uri: 'kms://kms.realm.test/ecdhe', requestId: randomUUID(), jwk: next.publicJwk })))]);
        const renegotiated = JSON.parse(verifyCompactJws(answerUnderNewKey!, rotated.publicKey, { algorithms: ['PS256'], expectedKid: rotated.kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
        assert.equal(renegotiated.status, 201);
        const nextKey = deriveChannelKey(next.privateKey, importP256PublicJwk(renegotiated.key.jwk));
        const onNext = (fields: Record<string, unknown>) =>
          encryptDirA256Gcm(nextKey, renegotiated.key.uri, Buffer.from(JSON.stringify({ client: { clientId: 'alice-laptop', credential: { bearer: token } }, requestId: randomUUID(), ...fields })));
        const [onB] = await post(nodeB, nodeA.tlsCa, [onNext({ method: 'retrieve', uri: key.uri })]);
        assert.equal((JSON.parse(decryptDirA256Gcm(nextKey, onB!).plaintext.toString('utf8')) as { key: { jwk: { k: string } } }).key.jwk.k, key.jwk.k, 'the bound key, on the new channel, from B');
      } finally {
        await nodeB.stop();
        await nodeA.stop();
        await database.drop();
      }
    });
  });
}
