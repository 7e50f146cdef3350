import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { allSchemas, schemaId, validate } from '../src/index.js';
import { makeTestPki } from './test-certs.js';
import { call, CLUSTER, connectLink, fakeContent, fakeKmsMessage, KEY_1, KRO, openEvents, signIn, startSim, testStaticKey, until } from './support.js';

/** docs/narrow-api.md and the simulator agree: the printed schemas are the code's, and what the simulator sends conforms to them. */

const DOC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../docs/narrow-api.md');
const byName = (name: string) => allSchemas.find((s) => s.$id === schemaId(name))!;

function conforms(name: string, value: unknown): void {
  const violation = validate(byName(name), value);
  assert.equal(violation, undefined, `${name}: ${JSON.stringify(violation)} in ${JSON.stringify(value).slice(0, 300)}`);
}

describe('docs/narrow-api.md', () => {
  it('prints every schema of the code, unchanged (regenerate: node apps/core-sim/scripts/sync-doc-schemas.mjs)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const printed = new Map<string, unknown>();
    for (const [, name, json] of doc.matchAll(/<!-- schema:([a-z0-9.-]+) -->\n```json\n([\s\S]*?)```/g)) printed.set(name!, JSON.parse(json!));
    for (const schema of allSchemas) {
      const name = (schema.$id as string).replace(/^.*\/v1\/|\.json$/g, '');
      assert.deepEqual(printed.get(name), schema, `schema ${name} in docs/narrow-api.md`);
      assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    }
    assert.equal(printed.size, allSchemas.length);
  });
});

describe('the validator', () => {
  it('accepts each link frame through link.frame and names the first violation', () => {
    const frame = byName('link.frame');
    assert.equal(validate(frame, { type: 'hello', protocol: 1, nodeId: 'n1', kmsCluster: CLUSTER, maxInFlight: 4 }), undefined);
    assert.equal(validate(frame, { type: 'pong', nonce: 'x' }), undefined);
    assert.ok(validate(frame, { type: 'pong', nonce: 'x', extra: true }));
    assert.deepEqual(validate(byName('link.hello'), { type: 'hello', protocol: 1, nodeId: 'n1', kmsCluster: 'https://kms', maxInFlight: 4 })?.path, 'kmsCluster');
    assert.deepEqual(validate(byName('link.kms-response'), { type: 'kms.response', id: 'r1', kmsMessages: ['a.b.c', 'a.b'] })?.path, 'kmsMessages[1]');
    assert.deepEqual(validate(byName('link.hello'), { type: 'hello', protocol: 1, nodeId: 'n1', kmsCluster: CLUSTER, maxInFlight: 0 }), { path: 'maxInFlight', message: 'must be at least 1' });
    assert.deepEqual(validate(byName('kms-discovery'), { kmsCluster: CLUSTER, rsaPublicKey: testStaticKey().jwk }), undefined);
    assert.equal(validate(byName('kms-discovery'), { kmsCluster: CLUSTER, rsaPublicKey: { ...testStaticKey().jwk, d: 'private!' } })?.path, 'rsaPublicKey.d');
  });
});

describe('the simulator speaks the contract', () => {
  it('sends bodies, events and link frames that conform to their schemas', async () => {
    const pki = makeTestPki();
    const sim = await startSim({ applianceCaPem: pki.applianceCa.certPem, limits: { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 2000 } });
    try {
      const link = await connectLink(sim, { cert: pki.applianceClient, autoAnswer: false });
      const signedIn = await call(sim, 'POST', '/users', { body: { userId: 'alice@realm.test', displayName: 'Alice' } });
      conforms('user-create.response', signedIn.body);
      const alice = signedIn.body.token;
      const indexer = await signIn(sim, 'indexer', 'org-bot');
      conforms('user', (await call(sim, 'GET', '/users/me', { token: alice })).body);
      const events = await openEvents(sim, alice);
      conforms('event.ready', events.ready);
      await until(async () => (await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).status === 200, 3000, 'discovery');
      conforms('kms-discovery', (await call(sim, 'GET', '/kms/kms.realm.test', { token: alice })).body);

      const accepted = await call(sim, 'POST', '/kms/messages', { token: alice, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('c')] } });
      conforms('kms-messages.accepted', accepted.body);
      const request = await link.queue.next((f) => f.type === 'kms.request');
      link.send({ type: 'kms.response', id: request.id, kmsMessages: request.kmsMessages });
      conforms('event.kms-response', await events.queue.next((f) => f.type === 'kms.response'));
      await call(sim, 'POST', '/kms/messages', { token: alice, body: { destination: CLUSTER, kmsMessages: [fakeKmsMessage('d')] } });
      const second = await link.queue.next((f) => f.type === 'kms.request');
      link.send({ type: 'error', id: second.id, status: 503, code: 'SHUTTING_DOWN', message: 'bye' });
      conforms('event.kms-failed', await events.queue.next((f) => f.type === 'kms.failed'));
      // Every frame the core sent on the link (welcome, discovery request, pings, kms.request).
      link.send({ type: 'kms.response', id: 'nope', kmsMessages: ['a.b.c'] });
      await link.queue.next((f) => f.type === 'error');
      await link.queue.next((f) => f.type === 'kms.discovery.request').catch(() => undefined);
      for (const frame of [link.welcome, request, second, ...link.queue.frames]) conforms('link.frame', frame);
      conforms('link.welcome', link.welcome);

      const room = await call(sim, 'POST', '/rooms', { token: alice, body: { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: ['indexer'], encryptedTitle: fakeContent('title') } });
      conforms('room', room.body);
      conforms('room-list.response', (await call(sim, 'GET', '/rooms', { token: alice })).body);
      const activity = await call(sim, 'POST', `/rooms/${room.body.id}/activities`, { token: alice, body: { encryptedContent: fakeContent('hi'), encryptionKeyUrl: KEY_1, clientActivityId: 'c-1' } });
      conforms('activity', activity.body);
      conforms('event.activity-created', await events.queue.next((f) => f.type === 'activity.created'));
      conforms('activity-list.response', (await call(sim, 'GET', `/activities?roomId=${room.body.id}&limit=1`, { token: indexer })).body);
      const token = Buffer.alloc(32, 7).toString('base64url');
      conforms('blind-index-put.response', (await call(sim, 'POST', '/blind-index/tokens', { token: indexer, body: { activityId: activity.body.id, tokens: [token] } })).body);
      conforms('blind-index-match.response', (await call(sim, 'POST', '/blind-index/match', { token: indexer, body: { tokens: [token] } })).body);
      conforms('error.response', (await call(sim, 'POST', '/rooms', { token: alice, body: {} })).body);
      conforms('error.response', (await call(sim, 'GET', '/rooms', {})).body);
      events.close();
      link.close();
    } finally {
      await sim.stop();
    }
  });
});
