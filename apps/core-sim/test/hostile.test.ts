import assert from 'node:assert/strict';
import { constants, createDecipheriv, privateDecrypt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { CoreSim } from '../src/index.js';
import { makeTestPki, type TestPki } from './test-certs.js';
import {
  answeredDigest, call, CLUSTER, connectLink, control, digest16, type EventsClient, fakeKmsMessage, openEvents, signIn, startSim, testStaticKey, type TestLink, until,
} from './support.js';

/** Each hostile switch of the test-control API does what it says (apps/core-sim/README.md). */

let pki: TestPki;
let sim: CoreSim;
let link: TestLink;
let alice: string;
let bob: string;
let aliceEvents: EventsClient;
let bobEvents: EventsClient;

before(async () => {
  pki = makeTestPki();
  testStaticKey();
  sim = await startSim({ applianceCaPem: pki.applianceCa.certPem });
  link = await connectLink(sim, { cert: pki.applianceClient });
  alice = await signIn(sim, 'alice@realm.test');
  bob = await signIn(sim, 'bob@realm.test');
  aliceEvents = await openEvents(sim, alice);
  bobEvents = await openEvents(sim, bob);
  await until(async () => (await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).status === 200, 3000, 'discovery');
});
after(async () => {
  aliceEvents.close();
  bobEvents.close();
  link.close();
  await sim.stop();
});

const relay = async (token: string, labels: string[]) => {
  const kmsMessages = labels.map(fakeKmsMessage);
  const reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages } });
  assert.equal(reply.status, 202);
  return { batchId: reply.body.batchId as string, kmsMessages };
};
const framesOf = async (batchId: string) => (await control(sim, 'GET', '/frames')).body.frames.filter((f: any) => f.batchId === batchId);

describe('the control API', () => {
  it('is off without a control token, and refuses a wrong one', async () => {
    const plain = await startSim({ controlToken: undefined });
    try {
      assert.equal((await call(plain, 'GET', '/control/frames', { control: true })).status, 404);
    } finally {
      await plain.stop();
    }
    assert.equal((await call(sim, 'GET', '/control/frames', { headers: { 'x-control-token': 'wrong' } })).status, 401);
    assert.equal((await call(sim, 'GET', '/control/frames')).status, 401);
  });
});

describe('hostile switches', () => {
  it('replays a captured batch: the same ciphertext goes to the KMS again and its answer comes back to the core', async () => {
    const original = await relay(alice, ['bind key']);
    await aliceEvents.queue.next((f) => f.type === 'kms.response' && f.batchId === original.batchId);
    const captured = (await control(sim, 'GET', '/captured')).body.batches;
    assert.ok(captured.some((b: any) => b.batchId === original.batchId && b.userId === 'alice@realm.test' && b.messageCount === 1));
    const before = link.requests.length;
    const replay = await control(sim, 'POST', '/replay', { batchId: original.batchId });
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.body.kmsMessages.map(answeredDigest), [digest16(original.kmsMessages[0]!)]);
    assert.equal(link.requests.length, before + 1);
    assert.deepEqual(link.requests.at(-1).kmsMessages, original.kmsMessages);
    const sent = (await framesOf(replay.body.batchId)).find((f: any) => f.type === 'kms.request');
    assert.equal(sent.hostile, 'replay');
    assert.deepEqual(sent.messageDigests, (await framesOf(original.batchId)).find((f: any) => f.type === 'kms.request').messageDigests);
    // Replayed to the original user as well, on request.
    const toAlice = await control(sim, 'POST', '/replay', { batchId: original.batchId, deliverToOriginal: true });
    assert.equal((await aliceEvents.queue.next((f) => f.type === 'kms.response')).batchId, toAlice.body.batchId);
    assert.equal((await control(sim, 'POST', '/replay', { batchId: '00000000-0000-4000-8000-000000000000' })).status, 404);
  });

  it('swaps the messages of two users\' batches: each user gets the answers to the other\'s messages', async () => {
    assert.equal((await control(sim, 'POST', '/swap', { userA: 'alice@realm.test', userB: 'bob@realm.test' })).status, 200);
    const a = await relay(alice, ['alice asks']);
    const b = await relay(bob, ['bob asks']);
    const toAlice = await aliceEvents.queue.next((f) => f.type === 'kms.response' && f.batchId === a.batchId);
    const toBob = await bobEvents.queue.next((f) => f.type === 'kms.response' && f.batchId === b.batchId);
    assert.deepEqual(toAlice.kmsMessages.map(answeredDigest), [digest16(b.kmsMessages[0]!)]);
    assert.deepEqual(toBob.kmsMessages.map(answeredDigest), [digest16(a.kmsMessages[0]!)]);
    assert.equal((await framesOf(a.batchId)).find((f: any) => f.type === 'kms.request').hostile, 'swap');
    // One-shot: the next batch is relayed normally.
    const c = await relay(alice, ['alice again']);
    assert.deepEqual((await aliceEvents.queue.next((f) => f.batchId === c.batchId)).kmsMessages.map(answeredDigest), [digest16(c.kmsMessages[0]!)]);
  });

  it('releases a held batch unswapped when the other user sends nothing within holdMs', async () => {
    await control(sim, 'POST', '/swap', { userA: 'alice@realm.test', userB: 'bob@realm.test', holdMs: 100 });
    const a = await relay(alice, ['lonely']);
    const answer = await aliceEvents.queue.next((f) => f.batchId === a.batchId, 2000);
    assert.deepEqual(answer.kmsMessages.map(answeredDigest), [digest16(a.kmsMessages[0]!)]);
  });

  it('injects a handshake it built itself, carrying a token of its choosing, to the real static key', async () => {
    const reply = await control(sim, 'POST', '/inject', { handshake: { bearer: alice }, deliverTo: 'alice@realm.test' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.kmsMessages.length, 1);
    assert.equal((await aliceEvents.queue.next((f) => f.batchId === reply.body.batchId)).type, 'kms.response');
    // The appliance side can open it: a genuine RSA-OAEP + A256GCM JWE to its static key.
    const [header, encryptedKey, iv, ciphertext, tag] = link.requests.at(-1).kmsMessages[0].split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'RSA-OAEP', enc: 'A256GCM', kid: testStaticKey().jwk.kid });
    const cek = privateDecrypt({ key: testStaticKey().privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(encryptedKey, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', cek, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(header, 'ascii'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const payload = JSON.parse(Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString());
    assert.equal(payload.client.credential.bearer, alice, 'the core presents its own token');
    assert.equal(payload.method, 'create');
    assert.equal(payload.uri, `${CLUSTER}/ecdhe`);
    assert.equal(payload.jwk.crv, 'P-256');
    // Raw messages too.
    const raw = await control(sim, 'POST', '/inject', { kmsMessages: [fakeKmsMessage('core-made')] });
    assert.deepEqual(raw.body.kmsMessages.map(answeredDigest), [digest16(fakeKmsMessage('core-made'))]);
    assert.equal((await control(sim, 'POST', '/inject', {})).status, 400);
  });

  it('serves a forged static key in discovery, then the genuine one again', async () => {
    const genuine = testStaticKey().jwk;
    const forged = await control(sim, 'PUT', '/discovery', { generate: true });
    assert.equal(forged.status, 200);
    const served = (await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).body.rsaPublicKey;
    assert.deepEqual(served, forged.body.rsaPublicKey);
    assert.equal(served.kid, genuine.kid, 'it impersonates the genuine key id');
    assert.notEqual(served.n, genuine.n);
    assert.equal(served.x5c.length, 1);
    const explicit = { ...genuine, n: forged.body.rsaPublicKey.n };
    await control(sim, 'PUT', '/discovery', { rsaPublicKey: explicit });
    assert.deepEqual((await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).body.rsaPublicKey, explicit);
    assert.equal((await control(sim, 'PUT', '/discovery', {})).status, 400);
    assert.equal((await control(sim, 'DELETE', '/discovery')).status, 204);
    assert.deepEqual((await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).body.rsaPublicKey, genuine);
  });

  it('drops a user\'s next request: it never reaches the KMS, and no answer comes', async () => {
    await control(sim, 'PUT', '/faults', { dropRequests: 1, userId: 'alice@realm.test' });
    const before = link.requests.length;
    const bobs = await relay(bob, ['bob unaffected']);
    await bobEvents.queue.next((f) => f.batchId === bobs.batchId);
    const dropped = await relay(alice, ['dropped']);
    assert.ok(await aliceEvents.queue.none((f) => f.batchId === dropped.batchId, 200));
    assert.equal(link.requests.length, before + 1, 'only bob\'s batch reached the link');
    assert.equal((await framesOf(dropped.batchId)).find((f: any) => f.type === 'kms.request').hostile, 'drop');
    assert.equal((await control(sim, 'GET', '/faults')).body.dropRequests, 0);
    const next = await relay(alice, ['next']);
    await aliceEvents.queue.next((f) => f.batchId === next.batchId);
  });

  it('drops the answer to a request the KMS did process', async () => {
    await control(sim, 'PUT', '/faults', { dropResponses: 1 });
    const before = link.requests.length;
    const lost = await relay(alice, ['processed, answer lost']);
    await until(() => link.requests.length === before + 1, 2000, 'the request to reach the link');
    assert.ok(await aliceEvents.queue.none((f) => f.batchId === lost.batchId, 200));
    const next = await relay(alice, ['retry']);
    await aliceEvents.queue.next((f) => f.batchId === next.batchId);
  });

  it('delays requests and answers by the given time', async () => {
    await control(sim, 'PUT', '/faults', { delayRequestsMs: 250 });
    let started = Date.now();
    let batch = await relay(alice, ['slow out']);
    await aliceEvents.queue.next((f) => f.batchId === batch.batchId, 3000);
    assert.ok(Date.now() - started >= 240, `request delay ${Date.now() - started} ms`);
    await control(sim, 'PUT', '/faults', { delayResponsesMs: 250 });
    started = Date.now();
    batch = await relay(alice, ['slow back']);
    await aliceEvents.queue.next((f) => f.batchId === batch.batchId, 3000);
    assert.ok(Date.now() - started >= 240, `response delay ${Date.now() - started} ms`);
    assert.deepEqual((await control(sim, 'DELETE', '/faults')).body, { dropRequests: 0, dropResponses: 0, delayRequestsMs: 0, delayResponsesMs: 0 });
    started = Date.now();
    batch = await relay(alice, ['fast']);
    await aliceEvents.queue.next((f) => f.batchId === batch.batchId);
    assert.ok(Date.now() - started < 200);
  });

  it('closes appliance links on demand (the link going down)', async () => {
    const extra = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-extra' });
    assert.deepEqual((await control(sim, 'POST', '/links/close', { nodeId: 'node-extra', mode: 'terminate' })).body, { closed: 1 });
    assert.equal((await extra.closed).code, 1006);
    const again = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-extra' });
    assert.deepEqual((await control(sim, 'POST', '/links/close', { nodeId: 'node-extra' })).body, { closed: 1 });
    assert.equal((await again.closed).code, 4410);
  });
});
