/** ECDHE channels on every database: lifetime, deletion, and the shared replay cache. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import { deriveChannelKey, generateEphemeralP256, importP256PublicJwk } from '@realm/crypto';
import { Database } from '@realm/persistence';
import { testConfig, testDatabases } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { KmsChannels } from '../src/channels/kms-channels.js';
import { SeenRequestIds } from '../src/channels/seen-request-ids.js';
import { KMS_ENTITIES } from '../src/kms.entities.js';
import { KMS_MIGRATIONS } from '../src/migrations/index.js';
import { KmsUris } from '../src/protocol/kms-uris.js';
import { KmsChannelRepository } from '../src/repositories/channel.repository.js';
import type { KmsError } from '../src/kms.error.js';

// The static key every channel of these tests is opened under, and the active one.
const STATIC_KEY = 'kms://kms.realm.test/statickeys/1';
const activeKey = async () => STATIC_KEY;

for (const database of testDatabases()) {
  describe(`KMS channels on ${database.name}`, () => {
    it('derives the same key on both sides, expires after kms.channelLifetime, and refuses replays and deleted channels on every node', async () => {
      const created = await database.create();
      const config = testConfig({ ...created.env, REALM_KMS_CHANNEL_LIFETIME: '10m' });
      const db = await Database.open(config.database, { entities: [...VAULT_ENTITIES, ...KMS_ENTITIES], migrations: [...VAULT_MIGRATIONS, ...KMS_MIGRATIONS] });
      await db.migrate();
      const vault = await KeyVault.open(config, db);
      await vault.initialize();
      let now = Date.UTC(2026, 10, 22, 12);
      const uris = new KmsUris(config.kms.domain);
      const channels = new KmsChannels(db, vault, new KmsChannelRepository(db), uris, config.kms, () => now);
      const otherNode = new KmsChannels(db, vault, new KmsChannelRepository(db), uris, config.kms, () => now);
      try {
        const client = generateEphemeralP256();
        const negotiated = await channels.negotiate('user:alice', 'laptop', { ...client.publicJwk, d: 'ignored-private-part' }, 'kms://kms.realm.test/statickeys/1', 'handshake-1');
        const clientKey = deriveChannelKey(client.privateKey, importP256PublicJwk(negotiated.jwk));
        const onOtherNode = await otherNode.find(negotiated.uri);
        assert.ok(onOtherNode, 'a channel negotiated on one node is found on another');
        assert.equal(onOtherNode.key.export().toString('hex'), clientKey.toString('hex'), 'both sides derive the same channel key');
        assert.equal(negotiated.expirationDate.getTime() - now, 10 * 60 * 1000);

        const [first, duplicate] = await channels.recordRequests([
          { channelUri: negotiated.uri, requestId: 'r1' },
          { channelUri: negotiated.uri, requestId: 'r1' },
        ], activeKey);
        assert.equal(first, undefined);
        assert.equal(duplicate?.code, 'KMS_REPLAY', 'a requestId twice in one batch');
        assert.equal((await otherNode.recordRequests([{ channelUri: negotiated.uri, requestId: 'r1' }], activeKey))[0]?.code, 'KMS_REPLAY', 'and replayed to another node');
        // A channel under a static key that is no longer the active one (read in the same transaction)
        // gets the reset, and nothing is recorded; so does every channel when no key is active.
        const rotated = await otherNode.recordRequests([{ channelUri: negotiated.uri, requestId: 'r2' }], async (tx) => {
          assert.ok(tx.manager, 'read in the recording transaction');
          return 'kms://kms.realm.test/statickeys/2';
        });
        assert.equal(rotated[0]?.code, 'KMS_RESET');
        assert.equal((await otherNode.recordRequests([{ channelUri: negotiated.uri, requestId: 'r2' }], async () => undefined))[0]?.code, 'KMS_RESET', 'no active static key');
        assert.deepEqual(await channels.recordRequests([{ channelUri: negotiated.uri, requestId: 'r2' }], activeKey), [undefined], 'r2 was not recorded by the refused batch');

        now += 10 * 60 * 1000 + 1;
        assert.equal(await channels.find(negotiated.uri), undefined, 'expired');
        assert.equal(await otherNode.find(negotiated.uri), undefined, 'expired on every node');
        assert.equal(await channels.purgeExpired(), 1);
        assert.equal(await vault.getKey(negotiated.uri), undefined, 'the sealed channel key is gone with it');

        now -= 10 * 60 * 1000;
        const second = await channels.negotiate('user:alice', 'laptop', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-2');
        // The same handshake again, on either node, opens nothing (a relay replaying what it captured).
        const channelsBefore = await db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM kms_channels');
        await assert.rejects(otherNode.negotiate('user:alice', 'laptop', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-2'), (error: KmsError) => error.code === 'KMS_REPLAY');
        await assert.rejects(channels.negotiate('user:alice', 'laptop', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-1'), (error: KmsError) => error.code === 'KMS_REPLAY');
        assert.deepEqual(await db.query('SELECT COUNT(*) AS n FROM kms_channels'), channelsBefore, 'no channel made by a replay');
        await assert.rejects(otherNode.delete(second.uri, 'user:mallory'), /no such ephemeral key, or not authorized/);
        await otherNode.find(second.uri);
        await channels.delete(second.uri, 'user:alice');
        assert.equal((await otherNode.recordRequests([{ channelUri: second.uri, requestId: randomUUID() }], activeKey))[0]?.code, 'KMS_CHANNEL_INVALID', 'a channel deleted on one node is refused on another');
        await assert.rejects(channels.negotiate('user:alice', 'laptop', { kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' }, 'x', 'handshake-3'), /P-256/);
        // Handshakes are forgotten once no credential they carry can be valid (two hours).
        now += 2 * 3600 * 1000 + 1;
        await channels.purgeExpired();
        assert.ok(await channels.negotiate('user:alice', 'laptop', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-1'));
      } finally {
        vault.close();
        await db.close();
        await created.drop();
      }
    });

    it('upgrades the replay cache to channel keys, then to a log, with every requestId already seen still refused', async () => {
      const created = await database.create();
      const config = testConfig({ ...created.env, REALM_KMS_CHANNEL_LIFETIME: '10m' });
      const entities = [...VAULT_ENTITIES, ...KMS_ENTITIES];
      // The schema before both upgrades, with two channels and the requestIds they had seen.
      const before = await Database.open(config.database, { entities, migrations: [...VAULT_MIGRATIONS, ...KMS_MIGRATIONS.slice(0, -2)] });
      await before.migrate();
      const now = Date.now();
      const p = (n: number) => (database.name === 'postgres' ? `$${n}` : '?');
      const at = (ms: number) => (database.name === 'postgres' ? new Date(ms) : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''));
      const old = ['kms://kms.realm.test/ecdhe/old-1', 'kms://kms.realm.test/ecdhe/old-2'];
      for (const uri of old) {
        await before.query(`INSERT INTO kms_channels (uri, principal_id, client_id, static_key_uri, create_date, expiration_date) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`, [uri, 'user:alice', 'laptop', 'kms://kms.realm.test/statickeys/1', at(now), at(now + 600_000)]);
        for (const requestId of ['seen-1', 'seen-2']) await before.query(`INSERT INTO kms_replay (channel_uri, request_id, seen_at) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [uri, requestId, at(now)]);
      }
      await before.close();

      const db = await Database.open(config.database, { entities, migrations: [...VAULT_MIGRATIONS, ...KMS_MIGRATIONS] });
      const vault = await KeyVault.open(config, db);
      try {
        assert.deepEqual(await db.migrate(), ['KmsReplayChannelKey1763800010000', 'KmsReplayLog1763800011000']);
        const keys = (await db.query<{ replay_key: number | string }[]>('SELECT replay_key FROM kms_channels ORDER BY uri')).map((r) => Number(r.replay_key));
        assert.equal(new Set(keys).size, 2, 'each channel has a key of its own');
        assert.ok(keys.every((k) => Number.isSafeInteger(k) && k >= 0));
        const logs = await db.query<{ channel_key: number | string; seq: number | string; request_ids: string }[]>('SELECT channel_key, seq, request_ids FROM kms_replay_log ORDER BY channel_key');
        assert.deepEqual(
          logs.map((l) => [Number(l.channel_key), Number(l.seq), JSON.parse(l.request_ids)]),
          [...keys].sort((a, b) => a - b).map((k) => [k, 1, ['seen-1', 'seen-2']]),
          'every recorded requestId carried over, as its channel\'s first log row',
        );
        const channels = new KmsChannels(db, vault, new KmsChannelRepository(db), new KmsUris(config.kms.domain), config.kms);
        const outcome = await channels.recordRequests([
          { channelUri: old[0]!, requestId: 'seen-1' },
          { channelUri: old[1]!, requestId: 'seen-2' },
          { channelUri: old[0]!, requestId: 'seen-2' },
          { channelUri: old[1]!, requestId: 'new-1' },
        ], activeKey);
        assert.deepEqual(
          outcome.map((o) => o?.code),
          ['KMS_REPLAY', 'KMS_REPLAY', 'KMS_REPLAY', undefined],
        );
        // Deleting a channel takes its replay log with it (ON DELETE CASCADE on the channel key).
        await db.write((tx) => new KmsChannelRepository(db).delete(old[1]!, tx));
        assert.equal((await db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM kms_replay_log'))[0]!.n.toString(), '1');
      } finally {
        vault.close();
        await db.close();
        await created.drop();
      }
    });

    it('keeps in memory only what committed: a rolled-back batch, or a channel forgotten for lack of room, never lets a replay through', async () => {
      const created = await database.create();
      const config = testConfig({ ...created.env, REALM_KMS_CHANNEL_LIFETIME: '10m' });
      const db = await Database.open(config.database, { entities: [...VAULT_ENTITIES, ...AUDIT_ENTITIES, ...KMS_ENTITIES], migrations: [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS, ...KMS_MIGRATIONS] });
      await db.migrate();
      const vault = await KeyVault.open(config, db);
      await vault.initialize();
      const uris = new KmsUris(config.kms.domain);
      // Room for three requestIds: a second channel pushes the first one's out of memory.
      const nodeA = new KmsChannels(db, vault, new KmsChannelRepository(db), uris, config.kms, Date.now, new SeenRequestIds(3));
      const nodeB = new KmsChannels(db, vault, new KmsChannelRepository(db), uris, config.kms);
      const auditOptions = { checkpointEvery: 1000, checkpointIntervalSeconds: 3600 };
      const auditA = await AuditLog.open(db, vault, auditOptions);
      const auditB = await AuditLog.open(db, vault, auditOptions);
      const codes = async (node: KmsChannels, channelUri: string, requestIds: string[]) => (await node.recordRequests(requestIds.map((requestId) => ({ channelUri, requestId })), activeKey)).map((o) => o?.code ?? 'new');
      try {
        const one = (await nodeA.negotiate('user:alice', 'laptop', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-a')).uri;
        const two = (await nodeA.negotiate('user:alice', 'phone', generateEphemeralP256().publicJwk, 'kms://kms.realm.test/statickeys/1', 'handshake-b')).uri;
        // Node A records x as the channel's log row 1, then its transaction fails and rolls back.
        await assert.rejects(
          db.write(async (tx) => {
            assert.deepEqual(await nodeA.recordRequestsIn([{ channelUri: one, requestId: 'x' }], tx, STATIC_KEY), [undefined]);
            throw new Error('the rest of the transaction failed');
          }),
          /the rest of the transaction failed/,
        );
        // Node B commits y as row 1. Had node A kept the row 1 it saw, it would skip B's and take y.
        assert.deepEqual(await codes(nodeB, one, ['y']), ['new']);
        assert.deepEqual(await codes(nodeA, one, ['y', 'x', 'x']), ['KMS_REPLAY', 'new', 'KMS_REPLAY']);
        assert.deepEqual(await codes(nodeB, one, ['x', 'z']), ['KMS_REPLAY', 'new'], 'what node A committed, node B reads');
        // A savepoint rolled back inside a committed write (as the audit log's group commit does)
        // drops what its part recorded, too.
        await db.write(async (tx) => {
          await assert.rejects(
            db.savepoint(tx, async () => {
              await nodeA.recordRequestsIn([{ channelUri: one, requestId: 'w' }], tx, STATIC_KEY);
              throw new Error('this operation failed');
            }),
          );
        });
        assert.deepEqual(await codes(nodeB, one, ['w']), ['new']);
        // Channel two fills node A's memory; channel one is read again from its log when next used.
        assert.deepEqual(await codes(nodeA, two, ['a', 'b', 'c']), ['new', 'new', 'new']);
        assert.deepEqual(await codes(nodeA, one, ['x', 'y', 'z', 'w', 'v']), ['KMS_REPLAY', 'KMS_REPLAY', 'KMS_REPLAY', 'KMS_REPLAY', 'new']);
        assert.deepEqual(await codes(nodeA, two, ['a', 'b', 'c']), ['KMS_REPLAY', 'KMS_REPLAY', 'KMS_REPLAY']);
        const rows = await db.query<{ seq: number | string }[]>('SELECT seq FROM kms_replay_log ORDER BY channel_key, seq');
        assert.equal(rows.length, 6, 'one log row per batch with new requestIds: y, x, z, w, v on channel one; a, b, c on channel two');

        // Two nodes recording the same requestIds at the same moment, on both channels: each is new
        // exactly once. Each node records as the pipeline does, through its audit log's group commit,
        // which runs several batches in one transaction (PostgreSQL: concurrent transactions, each
        // locking channel rows in several statements, in either order: no deadlock either).
        const ids = Array.from({ length: 12 }, () => randomUUID());
        const attempts = await Promise.all(
          ids.flatMap((requestId, i) => {
            const [first, second] = i % 2 === 0 ? [one, two] : [two, one];
            return [
              { node: nodeA, audit: auditA },
              { node: nodeB, audit: auditB },
            ].flatMap(({ node, audit }) =>
              [first, second].map((channelUri) =>
                KmsChannels.retryingRaces(() => audit.writeWithRecords(async (tx) => ({ value: await node.recordRequestsIn([{ channelUri, requestId }], tx, STATIC_KEY), events: [{ action: 'kms.test', outcome: 'success' as const }] }))),
              ),
            );
          }),
        );
        for (const [i, requestId] of ids.entries()) {
          const outcomes = attempts.slice(4 * i, 4 * i + 4).map(([o]) => o?.code ?? 'new');
          assert.deepEqual([...outcomes].sort(), ['KMS_REPLAY', 'KMS_REPLAY', 'new', 'new'], `${requestId}: new once on each channel`);
        }
        // Concurrent transactions appending to one channel's log wait for each other on the channel's
        // row (PostgreSQL) rather than collide on the row number: none fails, none needs a retry.
        const appends = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => db.write((tx) => (i % 2 === 0 ? nodeA : nodeB).recordRequestsIn([{ channelUri: one, requestId: randomUUID() }], tx, STATIC_KEY))));
        assert.deepEqual(
          appends.map((a) => (a.status === 'fulfilled' ? a.value[0]?.code ?? 'new' : String(a.reason))),
          Array.from({ length: 8 }, () => 'new'),
        );
        // And the cycle itself: node A's group records a batch on channel one, then one on channel two;
        // node B's, two then one, each pausing after its first until the other has taken its first
        // (or 300 ms). Were the groups to run at once, each would wait for the other's channel.
        let arrived = 0;
        let release!: () => void;
        const bothArrived = new Promise<void>((resolve) => (release = resolve));
        const meet = async () => {
          if (++arrived === 2) release();
          await Promise.race([bothArrived, new Promise((resolve) => setTimeout(resolve, 300))]);
        };
        const batch = (node: KmsChannels, audit: AuditLog, channelUri: string, pause: boolean) =>
          audit.writeWithRecords(async (tx) => {
            const value = await node.recordRequestsIn([{ channelUri, requestId: randomUUID() }], tx, STATIC_KEY);
            if (pause) await meet();
            return { value, events: [{ action: 'kms.test', outcome: 'success' as const }] };
          });
        const crossed = await Promise.allSettled([batch(nodeA, auditA, one, true), batch(nodeA, auditA, two, false), batch(nodeB, auditB, two, true), batch(nodeB, auditB, one, false)]);
        assert.deepEqual(
          crossed.map((c) => (c.status === 'fulfilled' ? c.value[0]?.code ?? 'new' : String(c.reason))),
          ['new', 'new', 'new', 'new'],
          'no batch failed (PostgreSQL: no deadlock)',
        );
      } finally {
        await auditA.close();
        await auditB.close();
        vault.close();
        await db.close();
        await created.drop();
      }
    });
  });
}
