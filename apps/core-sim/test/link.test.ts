import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CoreSim } from '../src/index.js';
import { makeTestPki, type TestPki } from './test-certs.js';
import {
  answeredDigest, call, CLUSTER, connectLink, control, digest16, fakeKmsMessage, openEvents, signIn, startSim, testStaticKey, until,
} from './support.js';

/** The appliance link (docs/narrow-api.md §3) against a test appliance written here, and the relay of client batches over it. */

let pki: TestPki;
before(() => {
  pki = makeTestPki();
  testStaticKey();
});

describe('link authentication', () => {
  let sim: CoreSim;
  before(async () => (sim = await startSim({ applianceCaPem: pki.applianceCa.certPem })));
  after(() => sim.stop());

  // The link's port requires a client certificate from the appliance CA in the TLS handshake
  // itself: a refused peer gets a TLS alert, never an HTTP answer.
  const refusedAtHandshake = (e: any) => e.status === undefined && /certificate|alert|socket hang up|ECONNRESET|EPIPE/i.test(`${e.code ?? ''} ${e.message}`);

  it('refuses a link without a client certificate, in the TLS handshake', async () => {
    await assert.rejects(connectLink(sim, {}), refusedAtHandshake);
    assert.deepEqual((await control(sim, 'GET', '/links')).body.links, []);
  });

  it('refuses a client certificate from a CA it does not trust for the org, in the TLS handshake', async () => {
    await assert.rejects(connectLink(sim, { cert: pki.untrustedClient }), refusedAtHandshake);
    assert.deepEqual((await control(sim, 'GET', '/links')).body.links, []);
  });

  it('refuses every link when no appliance CA is configured', async () => {
    const bare = await startSim();
    try {
      await assert.rejects(connectLink(bare, { cert: pki.applianceClient }), refusedAtHandshake);
    } finally {
      await bare.stop();
    }
  });

  it('serves the link on its own port only: the clients\' port refuses it (404) even with a trusted certificate', async () => {
    await assert.rejects(connectLink(sim, { cert: pki.applianceClient, url: `${sim.url.replace('https:', 'wss:')}/link/v1` }), (e: any) => e.status === 404 && /LINK_ON_ITS_OWN_PORT/.test(e.body));
  });

  it('refuses a link that does not offer the subprotocol (400)', async () => {
    await assert.rejects(connectLink(sim, { cert: pki.applianceClient, protocols: ['something-else'] }), (e: any) => e.status === 400);
  });

  it('closes a link whose hello names another KMS cluster (4403)', async () => {
    await assert.rejects(connectLink(sim, { cert: pki.applianceClient, kmsCluster: 'kms://elsewhere.test' }), (e: any) => e.code === 4403);
  });

  it('closes a link whose first frame is not hello (4400)', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, hello: false });
    link.send({ type: 'kms.response', id: 'r1', kmsMessages: ['a.b.c'] });
    assert.equal((await link.closed).code, 4400);
  });

  it('welcomes a trusted appliance, with its limits, and fetches the static key it then serves to clients', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, maxInFlight: 1000 });
    const links = (await control(sim, 'GET', '/links')).body.links;
    assert.equal(links.length, 1);
    assert.equal(links[0].nodeId, 'node-1');
    assert.equal(links[0].maxInFlight, 64, 'capped at the core\'s own limit');
    assert.match(links[0].peerCertificate.subject, /CN=core-link-node/);
    const token = await signIn(sim, 'dora@realm.test');
    await until(async () => (await call(sim, 'GET', '/kms/kms.realm.test', { token })).status === 200, 3000, 'discovery');
    for (const path of ['/kms/kms.realm.test', `/kms/${encodeURIComponent(CLUSTER)}`]) {
      const reply = await call(sim, 'GET', path, { token });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { kmsCluster: CLUSTER, rsaPublicKey: testStaticKey().jwk });
    }
    assert.equal((await call(sim, 'GET', '/kms/other.test', { token })).status, 404);
    assert.equal((await call(sim, 'GET', '/kms/kms.realm.test')).status, 401);
    link.close();
    await link.closed;
  });

  it('answers a malformed frame after hello with an error frame naming the field, and keeps the link', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-bad' });
    link.send({ type: 'kms.response', id: 'r1', kmsMessages: ['not a jws'] });
    const error = await link.queue.next((f) => f.type === 'error');
    assert.equal(error.code, 'BAD_FRAME');
    assert.match(error.message, /kmsMessages\[0\]/);
    link.send({ type: 'ping', nonce: 'n1' });
    assert.deepEqual(await link.queue.next((f) => f.type === 'pong'), { type: 'pong', nonce: 'n1' });
    link.close();
  });
});

describe('relay of client batches', () => {
  let sim: CoreSim;
  before(async () => (sim = await startSim({ applianceCaPem: pki.applianceCa.certPem, limits: { kmsTimeoutMs: 1500 } })));
  after(() => sim.stop());

  it('answers 503 at once when no appliance is connected, and serves no static key', async () => {
    const token = await signIn(sim, 'erin@realm.test');
    const events = await openEvents(sim, token);
    const started = Date.now();
    const reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('x')] } });
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'KMS_UNAVAILABLE');
    assert.equal(reply.headers['retry-after'], '1');
    assert.ok(Date.now() - started < 1000);
    assert.equal((await call(sim, 'GET', '/kms/kms.realm.test', { token })).status, 503);
    events.close();
  });

  it('relays POST /kms/messages over the link and delivers the answers to the poster\'s events socket only', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient });
    const alice = await signIn(sim, 'alice@realm.test');
    const bob = await signIn(sim, 'bob@realm.test');
    const aliceEvents = await openEvents(sim, alice);
    const bobEvents = await openEvents(sim, bob);
    const messages = [fakeKmsMessage('a1'), fakeKmsMessage('a2')];
    const reply = await call(sim, 'POST', '/kms/messages', { token: alice, body: { destination: CLUSTER, kmsMessages: messages } });
    assert.equal(reply.status, 202);
    assert.equal(reply.body.messageCount, 2);
    const event = await aliceEvents.queue.next((f) => f.type === 'kms.response');
    assert.equal(event.batchId, reply.body.batchId);
    assert.deepEqual(event.kmsMessages.map(answeredDigest), messages.map(digest16));
    // The link saw exactly the client's ciphertext, nothing more (no user, no token).
    const request = link.requests.at(-1);
    assert.deepEqual(Object.keys(request).sort(), ['destination', 'id', 'kmsMessages', 'type']);
    assert.deepEqual(request.kmsMessages, messages);
    assert.ok(await bobEvents.queue.none((f) => f.type === 'kms.response', 200));
    // Metadata of every hop was recorded, with digests instead of content.
    const frames = (await control(sim, 'GET', '/frames')).body.frames.filter((f: any) => f.batchId === reply.body.batchId);
    assert.deepEqual(frames.map((f: any) => `${f.direction} ${f.type}`), ['client→core POST /kms/messages', 'core→appliance kms.request', 'appliance→core kms.response', 'core→client kms.response']);
    assert.ok(frames.every((f: any) => !JSON.stringify(f).includes(messages[0]!)));
    aliceEvents.close();
    bobEvents.close();
    link.close();
    await link.closed;
  });

  it('refuses a batch from a user without an events socket (409), and bad envelopes naming the field (400)', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient });
    const token = await signIn(sim, 'frank@realm.test');
    let reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('f')] } });
    assert.equal(reply.status, 409);
    const events = await openEvents(sim, token);
    for (const [body, field] of [
      [{ destination: CLUSTER, kmsMessages: [] }, 'kmsMessages'],
      [{ destination: CLUSTER, kmsMessages: ['plain text'] }, 'kmsMessages[0]'],
      [{ destination: CLUSTER, kmsMessages: [fakeKmsMessage('f'), 7] }, 'kmsMessages[1]'],
      [{ kmsMessages: [fakeKmsMessage('f')] }, 'destination'],
      [{ destination: 'https://kms.realm.test', kmsMessages: [fakeKmsMessage('f')] }, 'destination'],
      [{ destination: CLUSTER, kmsMessages: [fakeKmsMessage('f')], extra: 1 }, 'extra'],
    ] as const) {
      reply = await call(sim, 'POST', '/kms/messages', { token, body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.body.error.field, field);
      assert.ok(reply.body.error.message.startsWith(`${field}:`));
    }
    reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: 'kms://other.test', kmsMessages: [fakeKmsMessage('f')] } });
    assert.equal(reply.status, 404);
    reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: Array.from({ length: 101 }, (_, i) => fakeKmsMessage(`m${i}`)) } });
    assert.equal(reply.status, 400);
    assert.equal((await call(sim, 'POST', '/kms/messages', { body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('f')] } })).status, 401);
    assert.equal((await call(sim, 'POST', '/kms/messages', { token, rawBody: '{"destination":' })).body.error.code, 'INVALID_JSON');
    events.close();
    link.close();
    await link.closed;
  });

  it('fails in-flight batches with LINK_LOST when the link goes down, and new ones with 503', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, autoAnswer: false });
    const token = await signIn(sim, 'gina@realm.test');
    const events = await openEvents(sim, token);
    const reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('g')] } });
    await link.queue.next((f) => f.type === 'kms.request');
    const started = Date.now();
    link.ws.terminate();
    const failed = await events.queue.next((f) => f.type === 'kms.failed');
    assert.equal(failed.batchId, reply.body.batchId);
    assert.equal(failed.code, 'LINK_LOST');
    assert.equal(failed.status, 503);
    assert.ok(Date.now() - started < 1000);
    assert.equal((await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('g')] } })).status, 503);
    events.close();
  });

  it('fails a batch the KMS does not answer in time with KMS_TIMEOUT, and tells the node a late answer is unknown', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, autoAnswer: false });
    const token = await signIn(sim, 'hank@realm.test');
    const events = await openEvents(sim, token);
    const reply = await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('h')] } });
    const request = await link.queue.next((f) => f.type === 'kms.request');
    const failed = await events.queue.next((f) => f.type === 'kms.failed', 3000);
    assert.deepEqual([failed.batchId, failed.code, failed.status], [reply.body.batchId, 'KMS_TIMEOUT', 504]);
    link.send({ type: 'kms.response', id: request.id, kmsMessages: ['a.b.c'] });
    assert.equal((await link.queue.next((f) => f.type === 'error')).code, 'UNKNOWN_REQUEST');
    assert.ok(await events.queue.none((f) => f.type === 'kms.response', 200));
    events.close();
    link.close();
    await link.closed;
  });

  it('passes a node\'s refusal of a batch on to the client', async () => {
    const link = await connectLink(sim, { cert: pki.applianceClient, autoAnswer: false });
    const token = await signIn(sim, 'ivy@realm.test');
    const events = await openEvents(sim, token);
    await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('i')] } });
    const request = await link.queue.next((f) => f.type === 'kms.request');
    link.send({ type: 'error', id: request.id, status: 503, code: 'SHUTTING_DOWN', message: 'node stopping' });
    const failed = await events.queue.next((f) => f.type === 'kms.failed');
    assert.deepEqual([failed.code, failed.status], ['KMS_REFUSED', 503]);
    events.close();
    link.close();
    await link.closed;
  });
});

describe('several nodes', () => {
  let sim: CoreSim;
  before(async () => (sim = await startSim({ applianceCaPem: pki.applianceCa.certPem })));
  after(() => sim.stop());

  it('spreads batches over the connected nodes and never exceeds a node\'s in-flight limit', async () => {
    const one = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-a', maxInFlight: 2, autoAnswer: false });
    const two = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-b', maxInFlight: 2, autoAnswer: false });
    const token = await signIn(sim, 'jack@realm.test');
    const events = await openEvents(sim, token);
    for (let i = 0; i < 6; i++) {
      assert.equal((await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage(`j${i}`)] } })).status, 202);
    }
    // 4 go out (2 per node), 2 wait at the core.
    const firstA = [await one.queue.next((f) => f.type === 'kms.request'), await one.queue.next((f) => f.type === 'kms.request')];
    const firstB = [await two.queue.next((f) => f.type === 'kms.request'), await two.queue.next((f) => f.type === 'kms.request')];
    assert.ok(await one.queue.none((f) => f.type === 'kms.request', 150));
    assert.ok(await two.queue.none((f) => f.type === 'kms.request', 10));
    // Answering frees a slot on that node, which takes the next waiting batch.
    one.send({ type: 'kms.response', id: firstA[0].id, kmsMessages: firstA[0].kmsMessages });
    const third = await one.queue.next((f) => f.type === 'kms.request');
    two.send({ type: 'kms.response', id: firstB[0].id, kmsMessages: firstB[0].kmsMessages });
    const fourth = await two.queue.next((f) => f.type === 'kms.request');
    for (const [link, frame] of [[one, firstA[1]], [one, third], [two, firstB[1]], [two, fourth]] as const) link.send({ type: 'kms.response', id: frame.id, kmsMessages: frame.kmsMessages });
    for (let i = 0; i < 6; i++) await events.queue.next((f) => f.type === 'kms.response');
    const links = (await control(sim, 'GET', '/links')).body.links;
    assert.deepEqual(links.map((l: any) => [l.nodeId, l.dispatched, l.inFlight]).sort(), [['node-a', 3, 0], ['node-b', 3, 0]]);
    events.close();
    one.close();
    two.close();
  });

  it('routes to the least-loaded node, skips a draining node, and lets a reconnecting node replace its old link', async () => {
    const slow = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-slow', maxInFlight: 8, autoAnswer: false });
    const fast = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-fast', maxInFlight: 8 });
    const token = await signIn(sim, 'kate@realm.test');
    const events = await openEvents(sim, token);
    for (let i = 0; i < 6; i++) {
      await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage(`k${i}`)] } });
      await events.queue.next((f) => f.type === 'kms.response' || f.type === 'kms.failed', 200).catch(() => undefined);
    }
    // The slow node keeps what it got unanswered, so the fast one (always empty) takes the rest.
    assert.ok(slow.queue.frames.filter((f) => f.type === 'kms.request').length <= 1, 'the slow node got at most one batch');
    assert.ok(fast.requests.length >= 5);
    fast.send({ type: 'drain' });
    await until(async () => (await control(sim, 'GET', '/links')).body.links.some((l: any) => l.draining), 2000, 'drain');
    await call(sim, 'POST', '/kms/messages', { token, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('after-drain')] } });
    await slow.queue.next((f) => f.type === 'kms.request' && f.kmsMessages[0] === fakeKmsMessage('after-drain'));
    const again = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-slow', maxInFlight: 8 });
    assert.equal((await slow.closed).code, 4409);
    assert.deepEqual((await control(sim, 'GET', '/links')).body.links.map((l: any) => l.nodeId).sort(), ['node-fast', 'node-slow']);
    events.close();
    again.close();
    fast.close();
  });
});

describe('heartbeats', () => {
  let sim: CoreSim;
  before(async () => (sim = await startSim({ applianceCaPem: pki.applianceCa.certPem, limits: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1000 } })));
  after(() => sim.stop());

  it('drops a link that stops answering pings (4408) and keeps one that answers', async () => {
    const alive = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-alive' });
    const dead = await connectLink(sim, { cert: pki.applianceClient, nodeId: 'node-dead', answerPings: false });
    const started = Date.now();
    assert.equal((await dead.closed).code, 4408);
    assert.ok(Date.now() - started < 5000, 'dropped after about one heartbeat timeout');
    // The live link, answering every ping, outlives the dead one by more than a timeout.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual((await control(sim, 'GET', '/links')).body.links.map((l: any) => l.nodeId), ['node-alive']);
    alive.close();
  });
});

describe('shutdown', () => {
  it('closes appliance links with 1001 (going away) when the core stops', async () => {
    const sim = await startSim({ applianceCaPem: pki.applianceCa.certPem });
    const link = await connectLink(sim, { cert: pki.applianceClient });
    await sim.stop();
    assert.equal((await link.closed).code, 1001);
  });
});
