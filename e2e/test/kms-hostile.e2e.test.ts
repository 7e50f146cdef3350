/**
 * A corpus of hostile messages against the running appliance. Each is answered with a clear KMS
 * error (status and reason, readable by the client: signed with the static key, or encrypted on
 * the channel when it is valid) or a plain 4xx for a malformed envelope; never a crash or a stack
 * trace; and the database is unchanged.
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, generateKeyPairSync, type JsonWebKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import {
  decryptDirA256Gcm,
  deriveChannelKey,
  encryptDirA256Gcm,
  encryptRsaOaepJwe,
  generateEphemeralP256,
  importP256PublicJwk,
  verifyCompactJws,
} from '@realm/crypto';
import { jwkThumbprint, validateStaticKey } from '@realm/kms-client';
import { httpsRequest, makeTempDir, testConfig } from '@realm/testing';
import { Database } from '@realm/persistence';
import { type Realm, serviceCredential, startRealm } from './support.js';

interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
  contentType?: string;
}

async function call(realm: Realm, method: string, path: string, raw?: string): Promise<Reply> {
  const reply = await httpsRequest(method, `${realm.app.url}${path}`, realm.tlsCa, raw);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(reply.body) as Record<string, unknown>;
  } catch {
    // Kept as text for the assertion message.
  }
  const contentType = reply.headers['content-type'];
  return { status: reply.status, body, text: reply.body, ...(typeof contentType === 'string' && { contentType }) };
}

describe('hostile input to the KMS', () => {
  let realm: Realm;
  let staticKey: { kid: string; publicKey: KeyObject };
  let db: Database;
  let alice: { id: string; token: () => Promise<string> };
  let bob: { id: string; token: () => Promise<string> };

  /** Row counts of every table the KMS writes, but the audit log (which records each refusal). */
  const state = async () => {
    const counts: Record<string, number> = {};
    for (const table of ['kms_keys', 'kms_resources', 'kms_authorizations', 'kms_channels', 'kms_replay_log', 'vault_keys', 'identity_principals']) {
      const [row] = await db.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM ${table}`);
      counts[table] = Number(row!.n);
    }
    // A refused bind changes no count: the bound keys are counted too.
    const [bound] = await db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM kms_keys WHERE resource_uri IS NOT NULL');
    counts.kms_keys_bound = Number(bound!.n);
    return counts;
  };

  const send = async (messages: unknown[]): Promise<string[]> => {
    const reply = await call(realm, 'POST', '/kms/messages', JSON.stringify({ destination: 'kms://kms.realm.test', kmsMessages: messages }));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.contentType, 'application/json; charset=utf-8');
    assert.equal((reply.body.kmsMessages as unknown[]).length, messages.length, 'one answer per message');
    return reply.body.kmsMessages as string[];
  };

  /** Reads a signed answer: it must verify with the static key. */
  const signed = (message: string) => JSON.parse(verifyCompactJws(message, staticKey.publicKey, { algorithms: ['PS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; reason: string; requestId?: string };

  const handshakeBody = async (credential: Record<string, unknown>, jwk: unknown, clientId = 'hostile-device') => ({
    client: { clientId, credential },
    method: 'create',
    uri: 'kms://kms.realm.test/ecdhe',
    requestId: randomUUID(),
    jwk,
  });

  /** A real handshake by the client `clientId`; returns the channel to send hostile requests on. */
  const openChannel = async (token: string, clientId = 'hostile-device') => {
    const ephemeral = generateEphemeralP256();
    const [answer] = await send([encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(await handshakeBody({ bearer: token }, ephemeral.publicJwk, clientId))))]);
    const body = signed(answer!) as unknown as { status: number; key: { uri: string; jwk: unknown } };
    assert.equal(body.status, 201);
    return { uri: body.key.uri, key: deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(body.key.jwk)), token, clientId };
  };

  const onChannel = (channel: { uri: string; key: Buffer; token: string; clientId: string }, fields: Record<string, unknown>) =>
    encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ client: { clientId: channel.clientId, credential: { bearer: channel.token } }, requestId: randomUUID(), ...fields })));

  const readOnChannel = (channel: { uri: string; key: Buffer }, message: string) => JSON.parse(decryptDirA256Gcm(channel.key, message).plaintext.toString('utf8')) as { status: number; reason?: string; requestId: string };

  before(async () => {
    realm = await startRealm();
    const discovery = await call(realm, 'GET', '/kms/discovery');
    staticKey = validateStaticKey(discovery.body.rsaPublicKey, { trustedRoots: [realm.caPem] });
    db = await Database.open(testConfig(realm.env).database, { entities: [], migrations: [] });
    [alice, bob] = await Promise.all([realm.user('alice'), realm.user('bob')]);
  });
  after(async () => {
    await db?.close();
    await realm.stop();
  });

  it('answers malformed envelopes with a plain 4xx JSON error and no stack trace', async () => {
    const before = await state();
    const cases: [string, string, string | undefined, number][] = [
      ['malformed JSON', 'POST', '{"kmsMessages": [', 400],
      ['kmsMessages missing', 'POST', '{"destination":"kms://kms.realm.test"}', 400],
      ['kmsMessages not strings', 'POST', '{"kmsMessages":[1,2]}', 400],
      ['an unknown property', 'POST', '{"kmsMessages":[],"extra":true}', 400],
      ['another KMS as destination', 'POST', '{"destination":"kms://evil.example","kmsMessages":[]}', 400],
      ['too many messages', 'POST', JSON.stringify({ kmsMessages: Array.from({ length: 101 }, () => 'x') }), 413],
      ['an oversized body', 'POST', JSON.stringify({ kmsMessages: ['x'.repeat(1_100_000)] }), 413],
    ];
    for (const [what, method, raw, status] of cases) {
      const reply = await call(realm, method, '/kms/messages', raw);
      assert.equal(reply.status, status, `${what}: ${reply.text}`);
      assert.ok((reply.body.error as { code?: string })?.code, `${what}: a JSON error body`);
      assert.equal(/\bat \S+ \(|node_modules|\.js:\d+/.test(reply.text), false, `${what}: no stack trace`);
    }
    // The field is named, and which rule it broke, whatever the position of the bad element.
    const mixed = await call(realm, 'POST', '/kms/messages', '{"kmsMessages":["a.b.c.d.e",{"alg":"none"}]}');
    assert.equal(mixed.status, 400, mixed.text);
    assert.match(mixed.text, /each value in kmsMessages must be a string/);
    assert.equal((await call(realm, 'GET', '/kms/messages')).status, 404, 'unknown method');
    assert.equal((await call(realm, 'POST', '/kms/nowhere', '{}')).status, 404, 'unknown route');
    assert.deepEqual(await state(), before);
  });

  it('answers undecodable, unknown-key and forged messages with a signed error the client can read', async () => {
    const before = await state();
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    const cases: [string, unknown, number, RegExp][] = [
      ['not a JWE at all', 'hello', 400, /not a compact JWE/],
      ['a JWS instead of a JWE', `${header({ alg: 'PS256' })}.${Buffer.from('{}').toString('base64url')}.c2ln`, 400, /must be JWE, not JWS/],
      ['alg none', `${header({ alg: 'none', enc: 'A256GCM', kid: 'x' })}..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`, 400, /unsupported alg/],
      ['an unknown alg', `${header({ alg: 'A128KW', enc: 'A256GCM' })}.AAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`, 400, /unsupported alg/],
      ['dir with an unknown kid', encryptDirA256Gcm(Buffer.alloc(32, 1), `kms://kms.realm.test/ecdhe/${randomUUID()}`, Buffer.from('{}')), 403, /unknown or expired: negotiate a new one/],
      ['RSA-OAEP to an unknown kid', encryptRsaOaepJwe(staticKey.publicKey, 'kms://kms.realm.test/statickeys/nope', Buffer.from('{}')), 400, /not encrypted to this KMS static key/],
      ['RSA-OAEP under another key', encryptRsaOaepJwe(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, staticKey.kid, Buffer.from('{}')), 400, /could not be decrypted/],
      ['a handshake that is not JSON', encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from('not json')), 400, /not JSON/],
      ['a handshake for another method', encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify({ ...(await handshakeBody({ bearer: 'x' }, {})), method: 'retrieve' }))), 400, /must be create \/ecdhe/],
    ];
    const answers = await send(cases.map((c) => c[1]));
    for (const [i, [what, , status, reason]] of cases.entries()) {
      const body = signed(answers[i]!);
      assert.equal(body.status, status, `${what}: ${body.reason}`);
      assert.match(body.reason, reason, what);
    }
    assert.deepEqual(await state(), before);
  });

  it('refuses every credential the appliance did not issue, and bad ephemeral keys, at the handshake', async () => {
    const before = await state();
    const good = await alice.token();
    const goodPayload = JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forge = (claims: Record<string, unknown>, key: KeyObject = foreign.privateKey, kid = 'foreign') =>
      new SignJWT({ ...goodPayload, ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(key);
    const jwks = (await call(realm, 'GET', '/.well-known/jwks.json')).body as { keys: { kid: string }[] };
    const realKid = (JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    assert.ok(jwks.keys.some((k) => k.kid === realKid), 'the JWKS publishes the signing key');
    const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: realKid })).toString('base64url');
    const hsPayload = Buffer.from(JSON.stringify(goodPayload)).toString('base64url');
    const confused = `${hsHeader}.${hsPayload}.${createHmac('sha256', JSON.stringify(await exportJWK(staticKey.publicKey))).update(`${hsHeader}.${hsPayload}`).digest('base64url')}`;
    const ephemeral = generateEphemeralP256().publicJwk;
    // The same x with y's lowest bit flipped: (x, y ^ 1) is not on P-256 (y and p - y are the only solutions).
    const y = Buffer.from(ephemeral.y, 'base64url');
    y[31]! ^= 1;
    const offCurve = { ...ephemeral, y: y.toString('base64url') };
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const cases: [string, Record<string, unknown>, unknown, number, RegExp][] = [
      ['a token from another issuer', { bearer: await forge({ iss: 'https://core.example' }) }, ephemeral, 401, /credential was refused/],
      ['a token signed by an unknown key', { bearer: await forge({}) }, ephemeral, 401, /credential was refused/],
      ['a token signed by another key under the real kid', { bearer: await forge({}, foreign.privateKey, realKid) }, ephemeral, 401, /credential was refused/],
      ['a token for another audience', { bearer: await forge({ aud: 'core' }) }, ephemeral, 401, /credential was refused/],
      ['an expired token', { bearer: await forge({ exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }) }, ephemeral, 401, /credential was refused|expired/],
      ['alg none', { bearer: `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${hsPayload}.` }, ephemeral, 401, /credential was refused/],
      ['HS256 keyed with the public key (algorithm confusion)', { bearer: confused }, ephemeral, 401, /credential was refused/],
      ['a service JWK without a chain', { jwk: await exportJWK(foreign.publicKey) }, ephemeral, 401, /credential was refused/],
      ['an off-curve ephemeral key', { bearer: good }, offCurve, 400, /P-256/],
      ['a P-384 ephemeral key', { bearer: good }, p384, 400, /P-256/],
      ['no ephemeral key', { bearer: good }, undefined, 400, /P-256/],
    ];
    const answers = await send(await Promise.all(cases.map(async ([, credential, jwk]) => encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(await handshakeBody(credential, jwk)))))));
    for (const [i, [what, , , status, reason]] of cases.entries()) {
      const body = signed(answers[i]!);
      assert.equal(body.status, status, `${what}: ${body.reason}`);
      assert.match(body.reason, reason, what);
      assert.ok(body.requestId, `${what}: the answer names the request`);
    }
    assert.deepEqual(await state(), before);
  });

  it('refuses a genuine service certificate without a valid proof of possession of its key', async () => {
    const dir = makeTempDir('realm-hostile-svc-');
    await realm.ctl(['principal', 'create-service', 'indexer', '--key-out', join(dir, 'svc.key'), '--cert-out', join(dir, 'svc.pem')]);
    const genuine = await serviceCredential(join(dir, 'svc.key'), join(dir, 'svc.pem'))();
    assert.ok('signProof' in genuine);
    const impostor = await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const signWith = async (jwk: Record<string, unknown>, payload: object) => {
      const header = Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url');
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
      return `${header}.${body}.${sign('sha256', Buffer.from(`${header}.${body}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const now = Math.floor(Date.now() / 1000);
    const attempt = async (proof: (requestId: string, ephemeral: string) => Promise<string | undefined>) => {
      const ephemeral = generateEphemeralP256().publicJwk;
      const body = await handshakeBody({ jwk: genuine.jwk }, ephemeral);
      const proofValue = await proof(body.requestId, jwkThumbprint(ephemeral));
      if (proofValue !== undefined) (body.client.credential as Record<string, unknown>).proof = proofValue;
      return encryptRsaOaepJwe(staticKey.publicKey, staticKey.kid, Buffer.from(JSON.stringify(body)));
    };
    const cases: [string, Awaited<ReturnType<typeof attempt>>, number, RegExp][] = [
      ['a valid proof (control)', await attempt((requestId, ephemeral) => genuine.signProof(Buffer.from(JSON.stringify({ aud: 'kms://kms.realm.test', requestId, ephemeral, iat: now })))), 201, /.*/],
      ['no proof', await attempt(async () => undefined), 401, /needs a proof of possession/],
      ['a proof signed by another key', await attempt((requestId, ephemeral) => signWith(impostor, { aud: 'kms://kms.realm.test', requestId, ephemeral, iat: now })), 401, /does not verify/],
      ['a proof for another ephemeral key', await attempt((requestId) => genuine.signProof(Buffer.from(JSON.stringify({ aud: 'kms://kms.realm.test', requestId, ephemeral: 'another-key', iat: now })))), 401, /another request, key or time/],
      ['a proof for another request', await attempt((_r, ephemeral) => genuine.signProof(Buffer.from(JSON.stringify({ aud: 'kms://kms.realm.test', requestId: randomUUID(), ephemeral, iat: now })))), 401, /another request, key or time/],
      ['a proof for another KMS', await attempt((requestId, ephemeral) => genuine.signProof(Buffer.from(JSON.stringify({ aud: 'kms://other.example', requestId, ephemeral, iat: now })))), 401, /another request, key or time/],
      ['a stale proof', await attempt((requestId, ephemeral) => genuine.signProof(Buffer.from(JSON.stringify({ aud: 'kms://kms.realm.test', requestId, ephemeral, iat: now - 3600 })))), 401, /another request, key or time/],
    ];
    const before = await state();
    const answers = await send(cases.map((c) => c[1]));
    for (const [i, [what, , status, reason]] of cases.entries()) {
      const body = signed(answers[i]!);
      assert.equal(body.status, status, `${what}: ${body.reason}`);
      if (status !== 201) assert.match(body.reason, reason, what);
    }
    const after = await state();
    assert.equal(after.kms_channels, before.kms_channels + 1, 'only the control opened a channel');
  });

  it('answers hostile requests on a valid channel with encrypted errors, and changes nothing', async () => {
    const channel = await openChannel(await alice.token());
    const bobChannel = await openChannel(await bob.token());
    // Alice on another device: her own unbound keys are not this client's (the draft's SHOULD).
    const alicePhone = await openChannel(await alice.token(), 'alice-phone');
    // Set the scene: alice's bound and unbound keys, bob's unbound key.
    const [setup] = await send([onChannel(channel, { method: 'create', uri: 'kms://kms.realm.test/keys', count: 2 })]);
    const [bound, unbound] = (readOnChannel(channel, setup!) as unknown as { keys: { uri: string }[] }).keys;
    const [kro] = await send([onChannel(channel, { method: 'create', uri: 'kms://kms.realm.test/resources', keyUris: [bound!.uri] })]);
    const resourceUri = (readOnChannel(channel, kro!) as unknown as { resource: { uri: string } }).resource.uri;
    const [bobKeys] = await send([onChannel(bobChannel, { method: 'create', uri: 'kms://kms.realm.test/keys', count: 1 })]);
    const bobKey = (readOnChannel(bobChannel, bobKeys!) as unknown as { keys: { uri: string }[] }).keys[0]!;

    const before = await state();
    const replayed = onChannel(channel, { method: 'update', uri: 'kms://kms.realm.test/ping' });
    const [first] = await send([replayed]);
    assert.equal(readOnChannel(channel, first!).status, 200);
    const afterPing = await state();
    assert.equal(afterPing.kms_replay_log, before.kms_replay_log + 1, 'the batch appended one row to its channel\'s replay log');

    const tampered = onChannel(channel, { method: 'update', uri: 'kms://kms.realm.test/ping' }).split('.');
    tampered[3] = Buffer.from(Buffer.from(tampered[3]!, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url');
    type Channel = typeof channel;
    // [what, message, status, reason, how the answer comes back: signed, or encrypted on which channel]
    const cases: [string, string, number, RegExp, 'signed' | Channel][] = [
      ['a replayed requestId', replayed, 409, /already used on this channel/, channel],
      ['a tampered ciphertext', tampered.join('.'), 400, /could not be decrypted/, 'signed'],
      ['a body that is not JSON', encryptDirA256Gcm(channel.key, channel.uri, Buffer.from('{{')), 400, /not JSON/, channel],
      ['an unknown method', onChannel(channel, { method: 'patch', uri: 'kms://kms.realm.test/ping' }), 400, /method must be one of/, channel],
      ['an unknown URI', onChannel(channel, { method: 'retrieve', uri: 'kms://kms.realm.test/secrets/1' }), 404, /unknown uri/, channel],
      ['another KMS domain', onChannel(channel, { method: 'retrieve', uri: `kms://evil.example/keys/${randomUUID()}` }), 404, /another KMS domain/, channel],
      ['an unsupported method on a URI', onChannel(channel, { method: 'update', uri: resourceUri }), 400, /not supported/, channel],
      ['binding an already bound key', onChannel(channel, { method: 'update', uri: bound!.uri, resourceUri }), 409, /bound once and never rebound/, channel],
      ["binding someone else's unbound key", onChannel(channel, { method: 'update', uri: bobKey.uri, resourceUri }), 404, /no such key, or not authorized/, channel],
      ["reading someone else's unbound key", onChannel(bobChannel, { method: 'retrieve', uri: unbound!.uri }), 404, /no such key, or not authorized/, bobChannel],
      ["reading one's unbound key from another client", onChannel(alicePhone, { method: 'retrieve', uri: unbound!.uri }), 404, /no such key, or not authorized/, alicePhone],
      ["binding one's unbound key from another client", onChannel(alicePhone, { method: 'update', uri: unbound!.uri, resourceUri }), 404, /no such key, or not authorized/, alicePhone],
      ["binding one's unbound key from another client in a new resource", onChannel(alicePhone, { method: 'create', uri: 'kms://kms.realm.test/resources', keyUris: [unbound!.uri] }), 409, /cannot be bound/, alicePhone],
      ['reading a resource one is not authorized on', onChannel(bobChannel, { method: 'retrieve', uri: resourceUri }), 404, /no such resource, or not authorized/, bobChannel],
      ['reading a resource that does not exist', onChannel(bobChannel, { method: 'retrieve', uri: `kms://kms.realm.test/resources/${randomUUID()}` }), 404, /no such resource, or not authorized/, bobChannel],
      ['too many keys', onChannel(channel, { method: 'create', uri: 'kms://kms.realm.test/keys', count: 10_000 }), 400, /count must be an integer/, channel],
      ["another user's token on this channel", encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ client: { clientId: 'hostile-device', credential: { bearer: bobChannel.token } }, requestId: randomUUID(), method: 'update', uri: 'kms://kms.realm.test/ping' }))), 401, /does not match the ephemeral key/, channel],
      ['onBehalfOf without the org-agent role', onChannel(channel, { method: 'retrieve', uri: bound!.uri, client: { clientId: 'hostile-device', credential: { bearer: channel.token, onBehalfOf: bob.id } } }), 403, /org-agent/, channel],
    ];
    const answers = await send(cases.map((c) => c[1]));
    for (const [i, [what, , status, reason, form]] of cases.entries()) {
      const body = form === 'signed' ? signed(answers[i]!) : readOnChannel(form, answers[i]!);
      assert.equal(body.status, status, `${what}: ${body.reason}`);
      assert.match(body.reason ?? '', reason, what);
    }
    // A batch of key retrievals only is answered first and then recorded, with its audit records, in
    // one commit: a replayed retrieval and a requestId repeated inside the batch are still refused.
    const retrieval = onChannel(channel, { method: 'retrieve', uri: bound!.uri });
    assert.equal(readOnChannel(channel, (await send([retrieval]))[0]!).status, 200);
    const repeated = onChannel(channel, { method: 'retrieve', uri: bound!.uri });
    const retrievals = (await send([retrieval, onChannel(channel, { method: 'retrieve', uri: bound!.uri }), repeated, repeated])).map((m) => readOnChannel(channel, m));
    assert.deepEqual(
      retrievals.map((a) => a.status),
      [409, 200, 200, 409],
    );
    assert.match(retrievals[0]!.reason ?? '', /already used on this channel/);
    assert.equal((retrievals[1] as unknown as { key: { uri: string } }).key.uri, bound!.uri);
    const afterCorpus = await state();
    // Only replay log rows were added (for the batches whose requests reached dispatch); no key, resource or authorization changed.
    assert.deepEqual({ ...afterCorpus, kms_replay_log: 0 }, { ...afterPing, kms_replay_log: 0 });
  });

  it('releases no key when the audit log cannot be written (fail closed), and serves the same request once it can', async () => {
    const channel = await openChannel(await alice.token());
    const [setup] = await send([onChannel(channel, { method: 'create', uri: 'kms://kms.realm.test/keys', count: 1 })]);
    const [key] = (readOnChannel(channel, setup!) as unknown as { keys: { uri: string }[] }).keys;
    await send([onChannel(channel, { method: 'create', uri: 'kms://kms.realm.test/resources', keyUris: [key!.uri] })]);
    const retrieval = onChannel(channel, { method: 'retrieve', uri: key!.uri });
    await db.query('ALTER TABLE audit_records RENAME TO audit_records_away');
    try {
      // A batch of retrievals only (one commit for its replay log row and audit records), and a mixed batch.
      const answers = [...(await send([retrieval, onChannel(channel, { method: 'retrieve', uri: key!.uri })])), ...(await send([onChannel(channel, { method: 'update', uri: 'kms://kms.realm.test/ping' }), onChannel(channel, { method: 'retrieve', uri: key!.uri })]))];
      for (const answer of answers) {
        const body = readOnChannel(channel, answer) as { status: number; reason?: string; key?: unknown };
        assert.equal(body.status, 503, body.reason);
        assert.match(body.reason ?? '', /temporarily unavailable/);
        assert.equal(body.key, undefined);
      }
    } finally {
      await db.query('ALTER TABLE audit_records_away RENAME TO audit_records');
    }
    // Nothing of the refused retrieval batch was recorded: the client's retry of the same request is served.
    const [retried] = await send([retrieval]);
    const body = readOnChannel(channel, retried!) as { status: number; key?: { uri: string } };
    assert.equal(body.status, 200);
    assert.equal(body.key?.uri, key!.uri);
  });
});
