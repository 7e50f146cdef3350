/**
 * The reference client against real parts: the appliance (a process, SQLite), the core simulator
 * (a process) that the appliance dials out to, and a samlify IdP with HTTPS login pages. Sign-in
 * goes through SAML and OAuth code + PKCE S256 with a cookie jar; KMS messages go through the core.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreApi, type Message, OAuthSession, type RealmClient, RealmClientError, type UnreadableMessage } from '../src/index.js';
import { HeadlessBrowser } from '../src/index.js';
import { REDIRECT_URI, startTestStack, type TestStack } from './support.js';

function isMessage(m: Message | UnreadableMessage): m is Message {
  return 'text' in m;
}

async function refused(promise: Promise<unknown>, code: RealmClientError['code']): Promise<RealmClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RealmClientError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** The next message from `senderId` on the client's events socket. */
function nextFrom(client: RealmClient, senderId: string): Promise<Message | UnreadableMessage> {
  return new Promise((resolve) => {
    const off = client.onMessage((m) => {
      if (('text' in m ? m.senderId : m.activity.actorId) !== senderId) return;
      off();
      resolve(m);
    });
  });
}

describe('the reference client', () => {
  let stack: TestStack;
  let alice: RealmClient;
  let bob: RealmClient;
  let carol: RealmClient;
  const clients: RealmClient[] = [];

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stack?.stop();
  });

  it('signs users in through SAML and OAuth code + PKCE: the principal id is their KMS authId and core user id', async () => {
    alice = await stack.signIn('alice');
    bob = await stack.signIn('bob');
    carol = await stack.signIn('carol');
    clients.push(alice, bob, carol);
    for (const c of [alice, bob, carol]) assert.match(c.userId, /^user:[0-9a-f-]{36}$/);
    assert.equal(new Set([alice.userId, bob.userId, carol.userId]).size, 3);
  });

  it('refuses an authorization answer with another state, another issuer or an error', async () => {
    const server = stack.options().authorizationServer;
    const answer = (make: (state: string) => string) => (url: string) => Promise.resolve(make(new URL(url).searchParams.get('state')!));
    const wrongState = await refused(OAuthSession.signIn(server, answer(() => `${REDIRECT_URI}?code=abc&state=forged`)), 'REALM_CLIENT_SIGN_IN_FAILED');
    assert.match(wrongState.message, /state/);
    const mixUp = await refused(OAuthSession.signIn(server, answer((s) => `${REDIRECT_URI}?code=abc&state=${s}&iss=${encodeURIComponent('https://evil.example')}`)), 'REALM_CLIENT_SIGN_IN_FAILED');
    assert.match(mixUp.message, /issuer/);
    const denied = await refused(OAuthSession.signIn(server, answer((s) => `${REDIRECT_URI}?error=access_denied&state=${s}`)), 'REALM_CLIENT_SIGN_IN_FAILED');
    assert.match(denied.message, /access_denied/);
    const badCode = await refused(OAuthSession.signIn(server, answer((s) => `${REDIRECT_URI}?code=not-a-code&state=${s}`)), 'REALM_CLIENT_SIGN_IN_FAILED');
    assert.match(badCode.message, /invalid_grant/);
    await refused(OAuthSession.signIn(server, answer((s) => `https://elsewhere.example/cb?code=abc&state=${s}`)), 'REALM_CLIENT_SIGN_IN_FAILED');
  });

  it('refreshes the access token with the rotating refresh token, and signing out revokes it', async () => {
    const browser = new HeadlessBrowser({ ca: [stack.applianceTlsCa, stack.idp.tlsCertificatePem!] });
    const session = await OAuthSession.signIn(stack.options().authorizationServer, browser.authorizer(REDIRECT_URI, 'dave'));
    const first = await session.accessToken();
    const [, firstRefresh] = session.secretsForLeakScan();
    const second = await session.refresh();
    assert.notEqual(second, first);
    assert.notEqual(session.secretsForLeakScan()[1], firstRefresh, 'the refresh token rotated');
    assert.equal(await session.accessToken(), second, 'a fresh token is reused');
    await session.signOut();
    await refused(session.refresh(), 'REALM_CLIENT_SESSION_EXPIRED');
  });

  let roomId = '';
  let firstActivity: Message;

  it('creates a room and exchanges messages through the core, which holds only ciphertext', async () => {
    const room = await alice.createRoom({ members: [bob.userId] });
    roomId = room.id;
    assert.deepEqual([...room.participants].sort(), [alice.userId, bob.userId].sort());
    assert.match(room.kmsResourceObjectUrl, /^kms:\/\/kms\.realm\.test\/resources\//);
    assert.match(room.currentKeyUrl, /^kms:\/\/kms\.realm\.test\/keys\//);

    const arriving = nextFrom(bob, alice.userId);
    const sent = await alice.send(roomId, 'first: the plan is on');
    const received = await arriving;
    assert.ok(isMessage(received), 'bob decrypts it');
    assert.equal(received.text, 'first: the plan is on');
    assert.equal(received.id, sent.id);
    firstActivity = received;
    // Compact JWE dir + A256GCM whose kid is the key URI (as Webex encrypts activities).
    const header = JSON.parse(Buffer.from(sent.activity.encryptedContent.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(header, { alg: 'dir', enc: 'A256GCM', kid: room.currentKeyUrl });
    assert.equal(sent.activity.encryptedContent.split('.')[1], '', 'no encrypted key segment');
    assert.ok(!sent.activity.encryptedContent.includes(Buffer.from('the plan').toString('base64url')));

    const replying = nextFrom(alice, bob.userId);
    await bob.send(roomId, 'second: agreed');
    assert.equal(((await replying) as Message).text, 'second: agreed');
    const history = await bob.history(roomId);
    assert.deepEqual(history.map((m) => (isMessage(m) ? m.text : m.error.code)), ['first: the plan is on', 'second: agreed']);

    // The KMS traffic went through the core's link, not to the appliance directly.
    const frames = ((await stack.control('GET', '/frames?limit=20000')).body as { frames: { channel: string; type: string }[] }).frames;
    assert.ok(frames.some((f) => f.channel === 'link' && f.type === 'kms.request'), 'KMS batches were relayed over the link');
  });

  it('refuses a non-member the room at the core and the key at the KMS', async () => {
    const hidden = await refused(carol.room(roomId), 'REALM_CLIENT_CORE_REFUSED');
    assert.equal(hidden.status, 404);
    const key = await refused(carol.decrypt(firstActivity.activity), 'REALM_CLIENT_KEY_REFUSED');
    assert.equal(key.status, 404);
  });

  it('adds a member, who reads the history; removing one rotates the key: they keep the old messages, not the new', async () => {
    const added = await alice.addMember(roomId, carol.userId);
    assert.ok(added.participants.includes(carol.userId));
    const carolHistory = await carol.history(roomId);
    assert.deepEqual(carolHistory.map((m) => (isMessage(m) ? m.text : m.error.code)), ['first: the plan is on', 'second: agreed']);

    const before = await alice.room(roomId);
    const rotated = await alice.removeMember(roomId, bob.userId);
    assert.ok(!rotated.participants.includes(bob.userId));
    assert.notEqual(rotated.currentKeyUrl, before.currentKeyUrl);
    assert.equal(rotated.kmsResourceObjectUrl, before.kmsResourceObjectUrl);

    const carolGets = nextFrom(carol, alice.userId);
    const after = await alice.send(roomId, 'third: bob is gone');
    assert.equal(after.keyUrl, rotated.currentKeyUrl);
    assert.equal(((await carolGets) as Message).text, 'third: bob is gone', 'a remaining member fetches the new key');

    assert.equal((await bob.decrypt(firstActivity.activity)).text, 'first: the plan is on', 'bob keeps the key he held');
    const gone = await refused(bob.history(roomId), 'REALM_CLIENT_CORE_REFUSED');
    assert.equal(gone.status, 404);
    await refused(bob.decrypt(after.activity), 'REALM_CLIENT_KEY_REFUSED');
    await refused(bob.send(roomId, 'still here?'), 'REALM_CLIENT_CORE_REFUSED');
    await refused(alice.removeMember(roomId, alice.userId), 'REALM_CLIENT_INVALID_ARGUMENT');
  });

  it('refuses to encrypt under a key the core swapped in, or to a room whose resource the core changed', async () => {
    // Another room alice is in, with another audience: its key is one she can fetch.
    const other = await carol.createRoom({ members: [alice.userId] });
    // Whoever holds a participant's core token (the core itself) may rewrite the room.
    const hostile = new CoreApi(stack.options().core);
    await hostile.signIn(carol.userId);
    await hostile.call('PATCH', `/rooms/${roomId}`, { defaultActivityEncryptionKeyUrl: other.currentKeyUrl });
    const swapped = await refused(alice.send(roomId, 'to the wrong audience?'), 'REALM_CLIENT_UNTRUSTED_ROOM_KEY');
    assert.match(swapped.message, /not bound to the room's KMS resource/);
    await hostile.call('PATCH', `/rooms/${roomId}`, { kmsResourceObjectUrl: other.kmsResourceObjectUrl });
    await refused(alice.room(roomId), 'REALM_CLIENT_UNTRUSTED_ROOM_KEY');
  });

  it('refuses tampered content', async () => {
    const parts = firstActivity.activity.encryptedContent.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0]! ^= 1;
    parts[3] = ciphertext.toString('base64url');
    await refused(alice.decrypt({ ...firstActivity.activity, encryptedContent: parts.join('.') }), 'REALM_CLIENT_UNDECRYPTABLE');
  });

  it('refuses a KMS whose static key the core forged, and sends it nothing', async () => {
    const forged = await stack.control('PUT', '/discovery', { generate: true });
    assert.equal(forged.status, 200);
    try {
      const dave = await stack.signIn('dave');
      clients.push(dave);
      const error = await refused(dave.createRoom({ members: [] }), 'REALM_CLIENT_UNTRUSTED_KMS');
      assert.match(error.message, /not trusted/);
    } finally {
      await stack.control('DELETE', '/discovery');
    }
  });

  it('keeps tokens and keys out of the appliance and core logs', async () => {
    const secrets = await Promise.all(clients.map((c) => c.secretsForLeakScan()));
    const values = secrets.flatMap((s) => [...s.keys, ...s.tokens]);
    assert.ok(values.length >= 8);
    const applianceLog = `${JSON.stringify(stack.realm.logs)}\n${stack.realm.stderr()}`;
    const coreLog = stack.core.log.join('\n');
    for (const value of values) {
      assert.ok(!applianceLog.includes(value), 'no key or token in the appliance log');
      assert.ok(!coreLog.includes(value), 'no key or token in the core log');
    }
    for (const text of ['first: the plan is on', 'second: agreed', 'third: bob is gone']) assert.ok(!coreLog.includes(text));
  });
});
