/**
 * A hostile core (issue 5, "Hostile core and failures"; docs/narrow-api.md §5). The production
 * appliance dials out to the core simulator process over mutual TLS; two users reach the KMS only
 * through the core, with the SDK's KmsClient over CoreKmsTransport. The core then misbehaves with
 * everything a real malicious core holds (ciphertext, routing, the public static key), through the
 * simulator's test-control API: it replays captured batches, swaps two users' batches, builds
 * handshakes with its own or a forged token, serves a forged static key, drops and delays
 * messages, and cuts the link. In each case no key or plaintext leaks, the appliance's KMS state
 * is unchanged (or changed exactly once, for the clients' own operations), and the outcome is the
 * one the contract names. Afterwards the core's database and output and the appliance's output
 * hold no key, token or plaintext.
 *
 * SQLite: one appliance process. PostgreSQL: two appliance processes on one database, both linked.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { decryptDirA256Gcm, encryptDirA256Gcm, peekCompactHeader, verifyCompactJws } from '@realm/crypto';
import { CoreKmsTransport, CoreRelayError, type CoreRelayFailure, KmsClient, KmsClientError, type KmsKey, validateStaticKey } from '@realm/kms-client';
import { Database } from '@realm/persistence';
import { makeTempDir, realmctl, type RunningAppliance, startAppliance, testConfig, testDatabases } from '@realm/testing';
import { type CoreProcess, coreCall, eventually, startCoreProcess } from './core-support.js';
import { freePort } from './support.js';

const CONTROL = 'e2e-core-hostile-control';
const DOMAIN = 'kms.realm.test';
const CLUSTER = `kms://${DOMAIN}`;
/** The SDK's retry schedule, shortened so that a dropped or delayed message costs about a second. */
const TIMEOUTS = { initialMs: 1000, renegotiateAfterMs: 2500, giveUpAfterMs: 30_000 };
/** The KMS answers a replayed requestId with this reason (docs/kms.md, "Also beyond the draft"). */
const REPLAY_REASON = /requestId was already used on this channel/;

interface AuditRecord {
  readonly seq: number;
  readonly action: string;
  readonly outcome: string;
  readonly reason?: string;
  readonly requestId?: string;
  readonly actor?: { id: string; clientId?: string };
  readonly resources?: string[];
}

interface Frame {
  readonly seq: number;
  readonly channel: string;
  readonly direction: string;
  readonly type: string;
  readonly userId?: string;
  readonly batchId?: string;
  readonly messageCount?: number;
  readonly hostile?: string;
}

/** A user's device that reaches the KMS only through the core. */
interface RelayedClient {
  /** The user's id at the core. */
  readonly coreUserId: string;
  readonly coreToken: string;
  readonly client: KmsClient;
  readonly transport: CoreKmsTransport;
  /** Every `kms.failed` and refused POST the transport saw, with when it arrived. */
  readonly failures: (CoreRelayFailure & { at: number })[];
}

for (const database of testDatabases()) {
  const twoNodes = database.name === 'postgres';
  describe(`a hostile core (${database.name}, ${twoNodes ? 'two appliance processes' : 'one appliance process'})`, () => {
    const coreOutput: string[] = [];
    /** What must never reach the core or a log: access tokens, key material in every encoding, plaintexts. */
    const tokens = new Set<string>();
    const keyMaterial = new Set<string>();
    const plaintexts: string[] = [];
    let created: Awaited<ReturnType<(typeof database)['create']>>;
    let env: Record<string, string>;
    let applianceCa: string;
    let coreEnv: Record<string, string>;
    let core: CoreProcess;
    let appliances: RunningAppliance[] = [];
    let db: Database;
    let staticKey: { kid: string; publicKey: KeyObject };
    let alice: { id: string; token: string };
    let bob: { id: string; token: string };
    const opened: RelayedClient[] = [];

    const control = async (method: string, path: string, body?: unknown) => {
      const reply = await coreCall(core, method, `/control${path}`, body, { 'x-control-token': CONTROL });
      assert.ok(reply.status >= 200 && reply.status < 300, `${method} /control${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body;
    };
    const links = async () => (await control('GET', '/links')).links as { linkId: string; nodeId: string; dispatched: number }[];
    const frames = async (afterSeq: number) => (await control('GET', `/frames?after=${afterSeq}&limit=20000`)).frames as Frame[];
    const lastFrame = async () => (await frames(0)).at(-1)?.seq ?? 0;
    const captured = async () => (await control('GET', '/captured')).batches as { batchId: string; userId: string; messageCount: number }[];

    const ctl = async (args: string[]) => {
      const result = await realmctl(args, env);
      if (result.code !== 0) throw new Error(`realmctl ${args.join(' ')}: ${result.stderr}`);
      return result.stdout.trim();
    };

    /** A user of the appliance with one access token (realmctl), kept for the final scan. */
    const principal = async (name: string) => {
      const id = /created user (\S+)/.exec(await ctl(['principal', 'create-user', name]))![1]!;
      const token = await ctl(['token', 'issue', id, '--client-id', `${name}-device`]);
      tokens.add(token);
      return { id, token };
    };

    /** A new device of `user`, known to the core as `coreUserId`, with a KMS client that trusts only the appliance CA. */
    const relayed = async (coreUserId: string, user: { token: string }, clientId: string): Promise<RelayedClient> => {
      const signIn = await coreCall(core, 'POST', '/users', { userId: coreUserId });
      assert.ok(signIn.status === 200 || signIn.status === 201, JSON.stringify(signIn.body));
      const coreToken = signIn.body.token as string;
      const transport = new CoreKmsTransport({ url: core.url, ca: core.caPem, coreToken: () => coreToken });
      const failures: RelayedClient['failures'] = [];
      transport.onFailure((failure) => failures.push({ ...failure, at: Date.now() }));
      const client = new KmsClient({
        clientId,
        discovery: () => transport.discovery(DOMAIN),
        transport,
        credential: async () => ({ bearer: user.token }),
        trustedRoots: [applianceCa],
        expectedDomain: DOMAIN,
        batching: { debounceMs: 5, maxBatch: 50 },
        timeouts: TIMEOUTS,
      });
      const device = { coreUserId, coreToken, client, transport, failures };
      opened.push(device);
      return device;
    };
    let aliceDevice: RelayedClient;
    let bobDevice: RelayedClient;

    const keep = (...keys: KmsKey[]) => {
      for (const key of keys) for (const text of [key.jwk.k, key.key.toString('base64'), key.key.toString('hex')]) keyMaterial.add(text);
    };

    /** The KMS state a hostile core must not change: keys, resources and authorizations row by row, channels and sealed keys by count. */
    const snapshot = async () => {
      const rows = (table: string) => db.query<Record<string, unknown>[]>(`SELECT * FROM ${table} ORDER BY uri`);
      const count = async (table: string) => Number((await db.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
      return {
        kms_keys: await rows('kms_keys'),
        kms_resources: await rows('kms_resources'),
        kms_authorizations: await rows('kms_authorizations'),
        kms_channels: await count('kms_channels'),
        vault_keys: await count('vault_keys'),
      };
    };

    const auditRecords = async (afterSeq = 0): Promise<AuditRecord[]> => {
      const rows = await db.query<{ seq: number | string; body: string }[]>('SELECT seq, body FROM audit_records ORDER BY seq');
      return rows.map((r) => ({ ...(JSON.parse(r.body) as Omit<AuditRecord, 'seq'>), seq: Number(r.seq) })).filter((r) => r.seq > afterSeq);
    };
    const lastAudit = async () => (await auditRecords()).at(-1)?.seq ?? 0;

    /** Reads a signed KMS answer: it must verify with the genuine static key. */
    const signedAnswer = (message: string) => JSON.parse(verifyCompactJws(message, staticKey.publicKey, { algorithms: ['PS256', 'RS256'], expectedKid: staticKey.kid }).payload.toString('utf8')) as { status: number; reason?: string };

    /** Two unbound keys of `device`'s user and a resource binding them, authorized for `members`. */
    const conversation = async (device: RelayedClient, members: string[]) => {
      const keys = await device.client.createKeys(2);
      keep(...keys);
      const resource = await device.client.createResource({ authIds: members, keyUris: keys.map((k) => k.uri) });
      return { keys, resource };
    };

    const freeze = (signal: 'SIGSTOP' | 'SIGCONT') => {
      for (const appliance of appliances) process.kill(appliance.child.pid!, signal);
    };

    before(async () => {
      created = await database.create();
      const dataDir = makeTempDir('realm-core-hostile-');
      env = { ...created.env, REALM_DATA_DIR: dataDir };
      await ctl(['init']);
      applianceCa = await ctl(['ca', 'certificate']);
      const caFile = join(dataDir, 'appliance-ca.pem');
      writeFileSync(caFile, `${applianceCa}\n`);
      coreEnv = {
        CORE_SIM_DATA_DIR: makeTempDir('core-sim-hostile-'),
        CORE_SIM_PORT: String(await freePort()),
        // Fixed too: the appliance keeps its link URL when the core restarts.
        CORE_SIM_LINK_PORT: String(await freePort()),
        CORE_SIM_APPLIANCE_CA_FILE: caFile,
        CORE_SIM_CONTROL_TOKEN: CONTROL,
        // Long enough that only the control API takes links down in this suite.
        CORE_SIM_HEARTBEAT_INTERVAL_MS: '15000',
        CORE_SIM_HEARTBEAT_TIMEOUT_MS: '10000',
        CORE_SIM_KMS_TIMEOUT_MS: '15000',
      };
      core = await startCoreProcess(coreEnv, coreOutput);
      const link = { REALM_CORE_LINK_URL: core.linkUrl, REALM_CORE_LINK_CA_FILE: core.caFile, REALM_CORE_LINK_RECONNECT_BASE_MS: '100', REALM_CORE_LINK_RECONNECT_MAX_MS: '1000' };
      const nodeIds = twoNodes ? ['node-a', 'node-b'] : ['appliance'];
      appliances = await Promise.all(nodeIds.map((nodeId) => startAppliance({ ...env, ...link, REALM_CORE_LINK_NODE_ID: nodeId })));
      db = await Database.open(testConfig(created.env).database, { entities: [], migrations: [] });
      await eventually('every node linked to the core', async () => (await links()).length === nodeIds.length);
      [alice, bob] = await Promise.all([principal('alice'), principal('bob')]);
      aliceDevice = await relayed('alice', alice, 'alice-device');
      bobDevice = await relayed('bob', bob, 'bob-device');
      // The genuine static key, as the core serves it: the test reads the KMS's signed answers with it.
      staticKey = validateStaticKey((await aliceDevice.transport.discovery(DOMAIN)).rsaPublicKey, { trustedRoots: [applianceCa], expectedDomain: DOMAIN });
    });

    after(async () => {
      for (const device of opened) device.transport.close();
      await db?.close();
      for (const appliance of appliances) await appliance.stop();
      await core?.stop();
      await created?.drop();
    });

    it('relays a conversation: keys, a resource for both, and a message only the members can read', async () => {
      const { keys, resource } = await conversation(aliceDevice, [bob.id]);
      const [first] = keys;
      assert.deepEqual((await bobDevice.client.retrieveKey(first!.uri)).key, first!.key);
      // The content goes to the core as compact JWE under the room's key; the core stores it as it is.
      const plaintext = `hostile-core plaintext ${randomUUID()}`;
      plaintexts.push(plaintext);
      const room = await coreCall(core, 'POST', '/rooms', { kmsResourceObjectUrl: resource.uri, defaultActivityEncryptionKeyUrl: first!.uri, participants: ['bob'] }, { authorization: `Bearer ${aliceDevice.coreToken}` });
      assert.equal(room.status, 201, JSON.stringify(room.body));
      const posted = await coreCall(core, 'POST', `/rooms/${room.body.id}/activities`, { encryptedContent: encryptDirA256Gcm(first!.key, first!.uri, Buffer.from(plaintext)), encryptionKeyUrl: first!.uri }, { authorization: `Bearer ${aliceDevice.coreToken}` });
      assert.equal(posted.status, 201, JSON.stringify(posted.body));
      const listed = await coreCall(core, 'GET', `/rooms/${room.body.id}/activities`, undefined, { authorization: `Bearer ${bobDevice.coreToken}` });
      const [activity] = listed.body.items as { encryptedContent: string; encryptionKeyUrl: string }[];
      const key = await bobDevice.client.retrieveKey(activity!.encryptionKeyUrl);
      assert.equal(decryptDirA256Gcm(key.key, activity!.encryptedContent).plaintext.toString('utf8'), plaintext);
    });

    it('replays captured batches: the KMS refuses each requestId as a replay and applies nothing twice', async () => {
      await aliceDevice.client.ping();
      const channelUri = aliceDevice.client.channelUri!;
      const earlier = new Set((await captured()).map((b) => b.batchId));
      const { keys, resource } = await conversation(aliceDevice, [bob.id]);
      assert.deepEqual((await aliceDevice.client.retrieveKey(keys[1]!.uri)).key, keys[1]!.key);
      // What the core captured of those three operations: create keys, create the resource, retrieve.
      const batches = (await captured()).filter((b) => b.userId === 'alice' && !earlier.has(b.batchId));
      assert.ok(batches.length >= 3, `captured ${batches.length} batches of alice`);

      const before = await snapshot();
      const auditMark = await lastAudit();
      let replayed = 0;
      for (const batch of batches) {
        const answer = (await control('POST', '/replay', { batchId: batch.batchId, deliverToOriginal: true })) as { kmsMessages?: string[]; failure?: unknown };
        assert.ok(answer.kmsMessages, `the KMS answered the replay: ${JSON.stringify(answer.failure)}`);
        assert.equal(answer.kmsMessages.length, batch.messageCount);
        for (const message of answer.kmsMessages) {
          // Encrypted on alice's channel: all the core can read is the protected header.
          const { kind, header } = peekCompactHeader(message);
          assert.equal(kind, 'jwe');
          assert.deepEqual([header.alg, header.enc, header.kid], ['dir', 'A256GCM', channelUri]);
        }
        replayed += batch.messageCount;
      }
      // The answers reached alice's client too (deliverToOriginal): it matched none of them and carries on.
      assert.deepEqual((await aliceDevice.client.retrieveKey(keys[0]!.uri)).key, keys[0]!.key);
      assert.deepEqual((await aliceDevice.client.retrieveResource(resource.uri)).keyUris.sort(), keys.map((k) => k.uri).sort());
      assert.deepEqual(await snapshot(), before, 'a replay changed the KMS state');

      const records = await auditRecords(auditMark);
      const refused = records.filter((r) => REPLAY_REASON.test(r.reason ?? ''));
      assert.equal(refused.length, replayed, 'every replayed message was refused as a replay');
      const originals = new Map((await auditRecords()).filter((r) => r.seq <= auditMark && r.outcome === 'success').map((r) => [r.requestId, r]));
      for (const record of refused) {
        assert.match(record.action, /^kms\./);
        assert.equal(record.outcome, 'failure');
        assert.equal(record.actor?.id, alice.id);
        assert.ok(originals.has(record.requestId), 'the refused requestId is one alice’s client used before');
      }
      assert.equal(records.filter((r) => r.outcome === 'success' && (r.action === 'kms.key.create' || r.action === 'kms.resource.create')).length, 0, 'nothing was created again');
      // With two nodes, both served (the replay cache is shared through the database).
      for (const l of await links()) assert.ok(l.dispatched > 0, `${l.nodeId} served relayed batches`);
    });

    it('replays a captured handshake: the KMS opens no channel for it and answers with a signed 409', async () => {
      const before = await snapshot();
      const handshakeAnswers: string[] = [];
      for (const batch of (await captured()).filter((b) => b.userId === 'alice' && b.messageCount === 1)) {
        const answer = (await control('POST', '/replay', { batchId: batch.batchId })) as { kmsMessages?: string[] };
        const [message] = answer.kmsMessages ?? [];
        // A handshake is answered by a JWS signed with the static key; requests on a channel by a JWE.
        if (message !== undefined && peekCompactHeader(message).kind === 'jws') handshakeAnswers.push(message);
      }
      assert.ok(handshakeAnswers.length >= 1, 'the core captured at least one of alice’s handshakes');
      for (const message of handshakeAnswers) {
        const answer = signedAnswer(message);
        assert.equal(answer.status, 409);
        assert.match(answer.reason ?? '', /handshake was already used/);
      }
      assert.deepEqual(await snapshot(), before, 'a replayed handshake changed the KMS state (a channel, a sealed key)');
    });

    it('swaps two users’ batches: answers nobody can use are ignored, the clients retry, and each operation applies once', async () => {
      await Promise.all([aliceDevice.client.ping(), bobDevice.client.ping()]);
      const [aliceKey] = await aliceDevice.client.createKeys(1);
      const [bobKey] = await bobDevice.client.createKeys(1);
      keep(aliceKey!, bobKey!);
      const before = await snapshot();
      const auditMark = await lastAudit();
      const frameMark = await lastFrame();
      await control('POST', '/swap', { userA: 'alice', userB: 'bob', holdMs: 10_000 });
      const [aliceRoom, bobRoom] = await Promise.all([
        aliceDevice.client.createResource({ authIds: [bob.id], keyUris: [aliceKey!.uri] }),
        bobDevice.client.createResource({ authIds: [alice.id], keyUris: [bobKey!.uri] }),
      ]);
      assert.deepEqual(aliceRoom.keyUris, [aliceKey!.uri]);
      assert.deepEqual(bobRoom.keyUris, [bobKey!.uri]);
      assert.notEqual(aliceRoom.uri, bobRoom.uri);
      // The core did swap them, and each client had to send its request again.
      const swapped = (await frames(frameMark)).filter((f) => f.type === 'kms.request' && f.hostile === 'swap');
      assert.deepEqual(swapped.map((f) => f.userId).sort(), ['alice', 'bob']);
      const posts = (await frames(frameMark)).filter((f) => f.type === 'POST /kms/messages');
      for (const user of ['alice', 'bob']) assert.ok(posts.filter((f) => f.userId === user).length >= 2, `${user} retried`);
      // Each is a member of the other's resource and reads its key.
      assert.deepEqual((await bobDevice.client.retrieveKey(aliceKey!.uri)).key, aliceKey!.key);
      assert.deepEqual((await aliceDevice.client.retrieveKey(bobKey!.uri)).key, bobKey!.key);

      const after = await snapshot();
      const added = after.kms_resources.filter((r) => !before.kms_resources.some((b) => b.uri === r.uri));
      assert.deepEqual(added.map((r) => r.uri).sort(), [aliceRoom.uri, bobRoom.uri].sort(), 'exactly one resource per user');
      const creations = (await auditRecords(auditMark)).filter((r) => r.action === 'kms.resource.create' && r.outcome === 'success');
      assert.deepEqual(creations.map((r) => r.actor?.id).sort(), [alice.id, bob.id].sort(), 'each creation applied once, under its sender’s credential');
    });

    it('presents the core’s own token, or a forged JWT, in a handshake it builds: refused with a signed 401, no channel', async () => {
      const genuinePayload = JSON.parse(Buffer.from(alice.token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      const genuineKid = (JSON.parse(Buffer.from(alice.token.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
      const now = Math.floor(Date.now() / 1000);
      // Alice's claims and the appliance's issuer and key id, signed with a key of the test's making.
      const forged = await new SignJWT({ ...genuinePayload, iat: now, exp: now + 600, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: genuineKid })
        .sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      assert.ok(typeof genuinePayload.iss === 'string' && genuinePayload.iss.startsWith('https://'), 'the forgery names the appliance’s issuer');
      const before = await snapshot();
      for (const [what, bearer] of [
        ['the core’s own token', aliceDevice.coreToken],
        ['a forged JWT', forged],
      ] as const) {
        const answer = (await control('POST', '/inject', { handshake: { bearer, clientId: 'alice-device' }, deliverTo: 'alice' })) as { kmsMessages?: string[] };
        assert.equal(answer.kmsMessages?.length, 1, what);
        assert.equal(peekCompactHeader(answer.kmsMessages![0]!).kind, 'jws', `${what}: a signed answer`);
        const body = signedAnswer(answer.kmsMessages![0]!);
        assert.equal(body.status, 401, `${what}: ${body.reason}`);
        assert.match(body.reason ?? '', /credential was refused/, what);
        assert.equal('key' in body, false, `${what}: no channel key in the answer`);
      }
      assert.deepEqual(await snapshot(), before, 'a channel was created for the core');
      // Alice's client was sent both answers and is unaffected by them.
      await aliceDevice.client.ping();
    });

    it('serves a forged static key in discovery: a fresh client refuses the chain and sends nothing to it', async () => {
      // A bound key: alice's other devices read it as a member (an unbound one is its creating client's only).
      const { keys: [key] } = await conversation(aliceDevice, []);
      const before = await snapshot();
      const mark = await lastFrame();
      const genuine = (await aliceDevice.transport.discovery(DOMAIN)).rsaPublicKey as Record<string, unknown>;
      const own = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
      const forgeries: [string, Record<string, unknown>, RegExp][] = [
        ['a generated key with a self-signed certificate naming the KMS', { generate: true }, /does not lead to a trusted root/],
        ['the test’s own key under the genuine kid and x5c', { rsaPublicKey: { ...genuine, n: own.n, e: own.e } }, /carries another public key/],
      ];
      const refusedDevices: string[] = [];
      for (const [i, [what, forgery, reason]] of forgeries.entries()) {
        await control('PUT', '/discovery', forgery);
        const fresh = await relayed(`alice-fresh-${i}`, alice, `alice-fresh-${i}`);
        refusedDevices.push(fresh.coreUserId);
        await assert.rejects(fresh.client.retrieveKey(key!.uri), (e: unknown) => e instanceof KmsClientError && e.code === 'KMS_CLIENT_UNTRUSTED_KMS' && reason.test(e.message), what);
      }
      await control('DELETE', '/discovery');
      const seen = (await frames(mark)).filter((f) => f.userId !== undefined && refusedDevices.includes(f.userId));
      // The core saw each of them ask for discovery, and nothing else: no batch, nothing relayed.
      assert.deepEqual(seen.map((f) => `${f.userId} ${f.type}`).sort(), refusedDevices.map((id) => `${id} GET /kms/{id}`).sort());
      assert.deepEqual(await snapshot(), before, 'the refused clients changed the KMS state');
      // With the genuine key served again, a fresh client works: the refusal was the forgery's doing.
      const genuineDevice = await relayed('alice-fresh-genuine', alice, 'alice-fresh-genuine');
      assert.deepEqual((await genuineDevice.client.retrieveKey(key!.uri)).key, key!.key);
    });

    it('drops and delays messages: the client retries and renegotiates, results are right, nothing applies twice', async () => {
      const { keys } = await conversation(aliceDevice, [bob.id]);
      const [key] = keys;
      const auditMark = await lastAudit();
      const frameMark = await lastFrame();

      // 1. The core drops alice's next two batches: she retries, then renegotiates, and gets the key.
      const channelsBefore = (await snapshot()).kms_channels;
      const channelBefore = aliceDevice.client.channelUri;
      await control('PUT', '/faults', { dropRequests: 2, userId: 'alice' });
      assert.deepEqual((await aliceDevice.client.retrieveKey(key!.uri)).key, key!.key);
      assert.notEqual(aliceDevice.client.channelUri, channelBefore, 'a new channel was negotiated');
      assert.equal((await snapshot()).kms_channels, channelsBefore + 1);
      assert.equal((await frames(frameMark)).filter((f) => f.hostile === 'drop' && f.userId === 'alice').length, 2);

      // 2. The core drops the answer to alice's resource creation: the KMS applied it, the retry meets bind-once.
      const [loose] = await aliceDevice.client.createKeys(1);
      keep(loose!);
      const resourcesBefore = (await snapshot()).kms_resources.length;
      await control('PUT', '/faults', { dropResponses: 1, userId: 'alice' });
      const dropped = await aliceDevice.client.createResource({ authIds: [bob.id], keyUris: [loose!.uri] });
      assert.deepEqual(dropped.keyUris, [loose!.uri]);
      assert.equal((await snapshot()).kms_resources.length, resourcesBefore + 1, 'one resource, not two');

      // 3. A fresh device whose handshake answer is dropped negotiates again.
      const fresh = await relayed('alice-fresh-drop', alice, 'alice-fresh-drop');
      await control('PUT', '/faults', { dropResponses: 1, userId: 'alice-fresh-drop' });
      assert.deepEqual((await fresh.client.retrieveKey(key!.uri)).key, key!.key);

      // 4. The core delays the answer to alice's resource creation past her client's timeout; the late answer is ignored.
      const [late] = await aliceDevice.client.createKeys(1);
      keep(late!);
      const delayMark = await lastFrame();
      await control('PUT', '/faults', { delayResponsesMs: TIMEOUTS.initialMs * 3, userId: 'alice' });
      const delayed = aliceDevice.client.createResource({ authIds: [bob.id], keyUris: [late!.uri] });
      // Once the client has retried, answers go through on time again.
      await eventually('alice’s retry', async () => (await frames(delayMark)).filter((f) => f.type === 'POST /kms/messages' && f.userId === 'alice').length >= 2);
      await control('DELETE', '/faults');
      assert.deepEqual((await delayed).keyUris, [late!.uri]);
      assert.equal((await snapshot()).kms_resources.length, resourcesBefore + 2, 'one resource, not two');

      const records = await auditRecords(auditMark);
      const creations = records.filter((r) => r.action === 'kms.resource.create' && r.outcome === 'success');
      assert.equal(creations.length, 2, 'each resource creation applied once');
      const succeeded = records.filter((r) => r.outcome === 'success' && r.requestId !== undefined);
      assert.equal(new Set(succeeded.map((r) => r.requestId)).size, succeeded.length, 'no requestId was processed twice');
    });

    it('loses the link: the relayed client gets a timely error, the link comes back by itself, the retry succeeds once', async () => {
      const { keys } = await conversation(aliceDevice, [bob.id]);
      const [key] = keys;
      const before = new Set((await links()).map((l) => l.linkId));
      const auditMark = await lastAudit();
      const frameMark = await lastFrame();
      const failuresBefore = aliceDevice.failures.length;
      let retrieval: Promise<KmsKey | unknown> | undefined;
      let fresh: RelayedClient | undefined;
      // Frozen, the nodes hold alice's batch unanswered, so it is in flight when the core cuts the links.
      freeze('SIGSTOP');
      try {
        retrieval = aliceDevice.client.retrieveKey(key!.uri).catch((error: unknown) => error);
        await eventually('alice’s batch in flight at a node', async () => (await frames(frameMark)).some((f) => f.type === 'kms.request' && f.userId === 'alice'));
        const cut = Date.now();
        await control('POST', '/links/close', { mode: 'terminate' });
        const lost = await eventually('kms.failed for the batch in flight', async () => aliceDevice.failures.slice(failuresBefore).find((f) => f.code === 'LINK_LOST'), 5000);
        assert.equal(lost.status, 503);
        assert.ok(lost.at - cut < 5000, `LINK_LOST after ${lost.at - cut} ms`);
        // With no node connected, a new device's first request is refused at once.
        fresh = await relayed('alice-fresh-outage', alice, 'alice-fresh-outage');
        const started = Date.now();
        await assert.rejects(fresh.client.retrieveKey(key!.uri), (e: unknown) => e instanceof CoreRelayError && e.failure.status === 503 && e.failure.code === 'KMS_UNAVAILABLE');
        assert.ok(Date.now() - started < 5000, `refused after ${Date.now() - started} ms`);
        // The outage outlasts alice's renegotiation deadline: her retry on the channel and then her
        // new handshake are both refused by the core, and the request keeps its retry schedule.
        await eventually('two refused retries of alice’s request', async () => aliceDevice.failures.slice(failuresBefore).filter((f) => f.code === 'KMS_UNAVAILABLE').length >= 2);
      } finally {
        freeze('SIGCONT');
      }
      await eventually('new links from every node', async () => {
        const now = await links();
        return now.length === appliances.length && now.every((l) => !before.has(l.linkId));
      });
      assert.deepEqual(((await retrieval) as KmsKey).key, key!.key, 'alice’s client retried by itself, renegotiated, and got the key');
      assert.deepEqual((await fresh.client.retrieveKey(key!.uri)).key, key!.key, 'the new device’s retry succeeds');
      const records = await auditRecords(auditMark);
      const succeeded = records.filter((r) => r.outcome === 'success' && r.requestId !== undefined);
      assert.equal(new Set(succeeded.map((r) => r.requestId)).size, succeeded.length, 'no requestId was processed twice');
      assert.ok(records.filter((r) => r.action === 'core-link.connect' && r.outcome === 'success').length >= appliances.length, 'the reconnections are audited');
    });

    it('leaves no key, token or plaintext in the core’s database or output, and no key or token in the appliance’s output', async () => {
      // The appliances first, so that no node reconnects while the core shuts down.
      for (const appliance of appliances) await appliance.stop();
      assert.equal(await core.stop(), 0);
      assert.ok(tokens.size >= 2 && keyMaterial.size >= 30 && plaintexts.length >= 1);
      const dir = coreEnv.CORE_SIM_DATA_DIR!;
      const files = readdirSync(dir).filter((f) => f.startsWith('core-sim.db'));
      assert.ok(files.includes('core-sim.db'));
      const haystacks = [...files.map((f) => readFileSync(join(dir, f)).toString('latin1')), coreOutput.join('\n')];
      // The core did store the ciphertexts and the key URIs, which is what it may hold.
      assert.ok(haystacks.some((text) => text.includes(CLUSTER)), 'the scan reads the core’s data');
      for (const secret of [...tokens, ...keyMaterial, ...plaintexts]) {
        assert.ok(secret.length > 20);
        for (const text of haystacks) assert.ok(!text.includes(secret), 'a token, key or plaintext reached the core');
      }
      const applianceOutput = appliances.map((a) => `${JSON.stringify(a.logs)}\n${a.stderr()}`).join('\n');
      for (const secret of [...tokens, ...keyMaterial]) assert.ok(!applianceOutput.includes(secret), 'a token or key in the appliance’s output');
    });
  });
}
