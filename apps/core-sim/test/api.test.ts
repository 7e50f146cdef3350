import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CoreSim } from '../src/index.js';
import { call, CLUSTER, fakeContent, KEY_1, KEY_2, KRO, openEvents, signIn, startSim } from './support.js';

/** The client-facing API (docs/narrow-api.md §2): users, rooms, activities, listings, the blind index, validation. */

let sim: CoreSim;
let alice: string;
let bob: string;
let carol: string;
let indexer: string;
before(async () => {
  sim = await startSim();
  alice = await signIn(sim, 'alice@realm.test');
  bob = await signIn(sim, 'bob@realm.test');
  carol = await signIn(sim, 'carol@realm.test');
  indexer = await signIn(sim, 'indexer', 'org-bot');
});
after(() => sim.stop());

const tok = (i: number) => Buffer.alloc(32, i).toString('base64url');

async function newRoom(token: string, participants: string[]): Promise<any> {
  const reply = await call(sim, 'POST', '/rooms', { token, body: { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants } });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body;
}

async function post(token: string, roomId: string, label: string, keyUrl = KEY_1, clientActivityId?: string): Promise<any> {
  const reply = await call(sim, 'POST', `/rooms/${roomId}/activities`, {
    token,
    body: { encryptedContent: fakeContent(label), encryptionKeyUrl: keyUrl, ...(clientActivityId && { clientActivityId }) },
  });
  assert.ok(reply.status === 201 || reply.status === 200, JSON.stringify(reply.body));
  return reply.body;
}

describe('users', () => {
  it('signs a user in again with a new token, and refuses unknown tokens', async () => {
    const again = await call(sim, 'POST', '/users', { body: { userId: 'alice@realm.test' } });
    assert.equal(again.status, 200);
    assert.match(again.body.token, /^cst_/);
    assert.equal((await call(sim, 'GET', '/users/me', { token: again.body.token })).body.userId, 'alice@realm.test');
    assert.equal((await call(sim, 'GET', '/users/me', { token: alice })).status, 200);
    const refused = await call(sim, 'GET', '/users/me', { token: 'cst_forged' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="core"');
    assert.equal((await call(sim, 'POST', '/users', { body: { userId: 'alice@realm.test', kind: 'org-bot' } })).status, 400);
  });
});

describe('rooms', () => {
  it('creates a room with its KRO, default key and participants (creator included), visible to participants only', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    assert.equal(room.kmsResourceObjectUrl, KRO);
    assert.equal(room.defaultActivityEncryptionKeyUrl, KEY_1);
    assert.deepEqual(room.participants.sort(), ['alice@realm.test', 'bob@realm.test']);
    assert.equal(room.createdBy, 'alice@realm.test');
    assert.equal((await call(sim, 'GET', `/rooms/${room.id}`, { token: bob })).status, 200);
    assert.equal((await call(sim, 'GET', `/rooms/${room.id}`, { token: carol })).status, 404);
    assert.equal((await call(sim, 'GET', `/rooms/${room.id}`, { token: indexer })).status, 200, 'org-bots read every room');
    assert.ok((await call(sim, 'GET', '/rooms', { token: bob })).body.items.some((r: any) => r.id === room.id));
    assert.ok(!(await call(sim, 'GET', '/rooms', { token: carol })).body.items.some((r: any) => r.id === room.id));
  });

  it('adds and removes participants, rotates the default key, and refuses non-participants', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    let reply = await call(sim, 'POST', `/rooms/${room.id}/participants`, { token: bob, body: { userId: 'carol@realm.test' } });
    assert.deepEqual(reply.body.participants.sort(), ['alice@realm.test', 'bob@realm.test', 'carol@realm.test']);
    reply = await call(sim, 'DELETE', `/rooms/${room.id}/participants/${encodeURIComponent('bob@realm.test')}`, { token: alice });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.participants.sort(), ['alice@realm.test', 'carol@realm.test']);
    reply = await call(sim, 'PATCH', `/rooms/${room.id}`, { token: alice, body: { defaultActivityEncryptionKeyUrl: KEY_2 } });
    assert.equal(reply.body.defaultActivityEncryptionKeyUrl, KEY_2);
    assert.equal((await call(sim, 'PATCH', `/rooms/${room.id}`, { token: bob, body: { defaultActivityEncryptionKeyUrl: KEY_1 } })).status, 404);
    assert.equal((await call(sim, 'POST', `/rooms/${room.id}/activities`, { token: bob, body: { encryptedContent: fakeContent('x'), encryptionKeyUrl: KEY_2 } })).status, 404);
    assert.equal((await call(sim, 'DELETE', `/rooms/${room.id}/participants/bob%40realm.test`, { token: alice })).status, 404);
  });

  it('answers invalid input with a 400 naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, participants: ['bob@realm.test'] }, 'defaultActivityEncryptionKeyUrl'],
      ['POST', '/rooms', { kmsResourceObjectUrl: 'https://kms/resources/1', defaultActivityEncryptionKeyUrl: KEY_1, participants: [] }, 'kmsResourceObjectUrl'],
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KRO, participants: ['bob@realm.test'] }, 'defaultActivityEncryptionKeyUrl'],
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: [] }, 'participants'],
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: ['bob@realm.test', 'nobody@realm.test'] }, 'participants[1]'],
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: ['bob@realm.test', 'bob@realm.test'] }, 'participants[1]'],
      ['POST', '/rooms', { kmsResourceObjectUrl: 'kms://elsewhere.test/resources/1', defaultActivityEncryptionKeyUrl: KEY_1, participants: ['bob@realm.test'] }, 'kmsResourceObjectUrl'],
      ['POST', '/rooms', { kmsResourceObjectUrl: KRO, defaultActivityEncryptionKeyUrl: KEY_1, participants: ['bob@realm.test'], title: 'plain' }, 'title'],
      ['POST', '/users', { userId: '' }, 'userId'],
      ['POST', '/users', {}, 'userId'],
    ];
    for (const [method, path, body, field] of cases) {
      const reply = await call(sim, method, path, { token: alice, body });
      assert.equal(reply.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error.field, field, JSON.stringify(reply.body));
      assert.ok(reply.body.error.requestId);
    }
    const room = await newRoom(alice, ['bob@realm.test']);
    const activityCases: [unknown, string][] = [
      [{ encryptedContent: 'hello in clear', encryptionKeyUrl: KEY_1 }, 'encryptedContent'],
      [{ encryptedContent: `${Buffer.from('{"alg":"RSA-OAEP","enc":"A256GCM"}').toString('base64url')}..aXY.Y3Q.dGFn`, encryptionKeyUrl: KEY_1 }, 'encryptedContent'],
      [{ encryptedContent: fakeContent('x') }, 'encryptionKeyUrl'],
      [{ encryptedContent: fakeContent('x'), encryptionKeyUrl: KEY_1, text: 'leak' }, 'text'],
    ];
    for (const [body, field] of activityCases) {
      const reply = await call(sim, 'POST', `/rooms/${room.id}/activities`, { token: alice, body });
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.field, field);
    }
    assert.equal((await call(sim, 'PATCH', `/rooms/${room.id}`, { token: alice, body: {} })).status, 400);
    assert.equal((await call(sim, 'POST', '/rooms', { token: alice, rawBody: 'x', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.equal((await call(sim, 'GET', '/activities?colour=red', { token: alice })).body.error.field, 'colour');
    assert.equal((await call(sim, 'GET', '/activities?from=yesterday', { token: alice })).body.error.field, 'from');
    assert.equal((await call(sim, 'GET', '/activities?limit=0', { token: alice })).body.error.field, 'limit');
    assert.equal((await call(sim, 'GET', '/nothing', { token: alice })).status, 404);
    assert.equal((await call(sim, 'PUT', '/rooms', { token: alice })).status, 405);
  });
});

describe('activities', () => {
  it('stores ciphertext with its key URL, idempotently per clientActivityId, and notifies participants and org-bots', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    const bobEvents = await openEvents(sim, bob);
    const carolEvents = await openEvents(sim, carol);
    const botEvents = await openEvents(sim, indexer);
    const first = await post(alice, room.id, 'hello bob', KEY_1, 'client-1');
    assert.equal(first.encryptionKeyUrl, KEY_1);
    assert.equal(first.actorId, 'alice@realm.test');
    const retry = await call(sim, 'POST', `/rooms/${room.id}/activities`, { token: alice, body: { encryptedContent: fakeContent('hello bob'), encryptionKeyUrl: KEY_1, clientActivityId: 'client-1' } });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.id, first.id);
    assert.equal((await bobEvents.queue.next((f) => f.type === 'activity.created')).activity.id, first.id);
    assert.equal((await botEvents.queue.next((f) => f.type === 'activity.created')).activity.id, first.id);
    assert.ok(await carolEvents.queue.none((f) => f.type === 'activity.created', 150));
    assert.ok(await bobEvents.queue.none((f) => f.type === 'activity.created', 10), 'the retry is not a new activity');
    assert.deepEqual((await call(sim, 'GET', `/activities/${first.id}`, { token: bob })).body, first);
    assert.equal((await call(sim, 'GET', `/activities/${first.id}`, { token: carol })).status, 404);
    for (const c of [bobEvents, carolEvents, botEvents]) c.close();
  });

  it('replays activities after a cursor when an events socket opens (a bot catching up)', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    const a = await post(alice, room.id, 'one');
    const b = await post(bob, room.id, 'two');
    const events = await openEvents(sim, indexer, `?activitiesSince=${a.seq - 1}`);
    assert.equal((await events.queue.next((f) => f.type === 'activity.created')).activity.id, a.id);
    assert.equal((await events.queue.next((f) => f.type === 'activity.created')).activity.id, b.id);
    events.close();
  });

  it('lists activities by room, by user and by time range, page by page (eDiscovery)', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    const other = await newRoom(carol, ['alice@realm.test']);
    const a1 = await post(alice, room.id, 'a1');
    const b1 = await post(bob, room.id, 'b1');
    await new Promise((r) => setTimeout(r, 20));
    const middle = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const a2 = await post(alice, room.id, 'a2', KEY_2);
    const c1 = await post(carol, other.id, 'c1');

    const ids = (reply: any) => reply.body.items.map((x: any) => x.id);
    assert.deepEqual(ids(await call(sim, 'GET', `/rooms/${room.id}/activities`, { token: bob })), [a1.id, b1.id, a2.id]);
    assert.deepEqual(ids(await call(sim, 'GET', `/activities?roomId=${room.id}`, { token: indexer })), [a1.id, b1.id, a2.id]);
    assert.deepEqual(ids(await call(sim, 'GET', `/activities?roomId=${room.id}&actorId=alice%40realm.test`, { token: indexer })), [a1.id, a2.id]);
    assert.deepEqual(ids(await call(sim, 'GET', `/activities?roomId=${room.id}&to=${middle}`, { token: indexer })), [a1.id, b1.id]);
    assert.deepEqual(ids(await call(sim, 'GET', `/activities?actorId=carol%40realm.test&from=${middle}`, { token: indexer })), [c1.id]);
    // Persons see only rooms they are in.
    assert.ok(!ids(await call(sim, 'GET', `/activities?from=${middle}`, { token: bob })).includes(c1.id));
    assert.deepEqual(ids(await call(sim, 'GET', `/activities?roomId=${other.id}`, { token: bob })), []);
    // Paging: nextCursor → after.
    const page1 = await call(sim, 'GET', `/activities?roomId=${room.id}&limit=2`, { token: indexer });
    assert.deepEqual(ids(page1), [a1.id, b1.id]);
    const page2 = await call(sim, 'GET', `/activities?roomId=${room.id}&limit=2&after=${page1.body.nextCursor}`, { token: indexer });
    assert.deepEqual(ids(page2), [a2.id]);
    assert.equal(page2.body.nextCursor, null);
    assert.equal(page2.body.items[0].encryptionKeyUrl, KEY_2, 'each activity keeps the key it was encrypted with');
  });
});

describe('blind index', () => {
  it('stores tokens per activity (org-bots only) and matches them, all or any, within what the caller may see', async () => {
    const room = await newRoom(alice, ['bob@realm.test']);
    const hidden = await newRoom(carol, ['carol@realm.test']);
    const x = await post(alice, room.id, 'x');
    const y = await post(bob, room.id, 'y');
    const z = await post(carol, hidden.id, 'z');
    const put = (token: string, activityId: string, tokens: string[]) => call(sim, 'POST', '/blind-index/tokens', { token, body: { activityId, tokens } });
    assert.equal((await put(alice, x.id, [tok(1)])).status, 403);
    assert.deepEqual((await put(indexer, x.id, [tok(1), tok(2)])).body, { activityId: x.id, tokenCount: 2 });
    await put(indexer, y.id, [tok(2), tok(3)]);
    await put(indexer, z.id, [tok(2)]);
    const match = async (token: string, body: unknown) => (await call(sim, 'POST', '/blind-index/match', { token, body })).body.activityIds;
    assert.deepEqual(await match(indexer, { tokens: [tok(2)] }), [z.id, y.id, x.id]);
    assert.deepEqual(await match(indexer, { tokens: [tok(1), tok(2)] }), [x.id]);
    assert.deepEqual(await match(indexer, { tokens: [tok(1), tok(3)], mode: 'any' }), [y.id, x.id]);
    assert.deepEqual(await match(indexer, { tokens: [tok(2)], roomId: room.id }), [y.id, x.id]);
    assert.deepEqual(await match(bob, { tokens: [tok(2)] }), [y.id, x.id], 'a person matches only in rooms they are in');
    // Replacing an activity's tokens.
    await put(indexer, x.id, [tok(3)]);
    assert.deepEqual(await match(indexer, { tokens: [tok(1)] }), []);
    // Validation.
    let reply = await put(indexer, x.id, ['short']);
    assert.equal(reply.body.error.field, 'tokens[0]');
    reply = await put(indexer, '00000000-0000-4000-8000-000000000000', [tok(1)]);
    assert.equal(reply.status, 404);
    reply = await call(sim, 'POST', '/blind-index/match', { token: indexer, body: { tokens: [] } });
    assert.equal(reply.body.error.field, 'tokens');
    reply = await call(sim, 'POST', '/blind-index/match', { token: indexer, body: { tokens: [tok(1)], mode: 'some' } });
    assert.equal(reply.body.error.field, 'mode');
  });
});

describe('health', () => {
  it('reports its cluster and how many appliance nodes are connected', async () => {
    const reply = await call(sim, 'GET', '/health');
    assert.deepEqual(reply.body, { status: 'ok', kmsCluster: CLUSTER, applianceLinks: 0 });
  });
});
