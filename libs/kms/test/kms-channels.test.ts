/** ECDHE channels on every database: lifetime, deletion, and the shared replay cache. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { deriveChannelKey, generateEphemeralP256, importP256PublicJwk } from '@realm/crypto';
import { Database } from '@realm/persistence';
import { testConfig, testDatabases } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { KmsChannels } from '../src/channels/kms-channels.js';
import { KMS_ENTITIES } from '../src/kms.entities.js';
import { KMS_MIGRATIONS } from '../src/migrations/index.js';
import { KmsUris } from '../src/protocol/kms-uris.js';
import { KmsChannelRepository } from '../src/repositories/channel.repository.js';
import type { KmsError } from '../src/kms.error.js';

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
        ]);
        assert.equal(first, undefined);
        assert.equal(duplicate?.code, 'KMS_REPLAY', 'a requestId twice in one batch');
        assert.equal((await otherNode.recordRequests([{ channelUri: negotiated.uri, requestId: 'r1' }]))[0]?.code, 'KMS_REPLAY', 'and replayed to another node');

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
        assert.equal((await otherNode.recordRequests([{ channelUri: second.uri, requestId: randomUUID() }]))[0]?.code, 'KMS_CHANNEL_INVALID', 'a channel deleted on one node is refused on another');
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

    it('upgrades the replay cache to channel keys with every requestId already seen still refused', async () => {
      const created = await database.create();
      const config = testConfig({ ...created.env, REALM_KMS_CHANNEL_LIFETIME: '10m' });
      const entities = [...VAULT_ENTITIES, ...KMS_ENTITIES];
      // The schema before the upgrade, with two channels and the requestIds they had seen.
      const before = await Database.open(config.database, { entities, migrations: [...VAULT_MIGRATIONS, ...KMS_MIGRATIONS.slice(0, -1)] });
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
      try {
        assert.deepEqual(await db.migrate(), ['KmsReplayChannelKey1763800010000']);
        const keys = (await db.query<{ replay_key: number | string }[]>('SELECT replay_key FROM kms_channels ORDER BY uri')).map((r) => Number(r.replay_key));
        assert.equal(new Set(keys).size, 2, 'each channel has a key of its own');
        assert.ok(keys.every((k) => Number.isSafeInteger(k) && k >= 0));
        assert.equal((await db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM kms_replay'))[0]!.n.toString(), '4', 'every recorded requestId carried over');
        const repository = new KmsChannelRepository(db);
        const outcome = await db.write((tx) =>
          repository.recordRequests(
            [
              { channelUri: old[0]!, requestId: 'seen-1' },
              { channelUri: old[1]!, requestId: 'seen-2' },
              { channelUri: old[0]!, requestId: 'seen-2' },
              { channelUri: old[1]!, requestId: 'new-1' },
            ],
            new Date(),
            tx,
          ),
        );
        assert.deepEqual(outcome, ['replay', 'replay', 'replay', 'new']);
        // Deleting a channel still takes its replay rows with it (ON DELETE CASCADE on the new key).
        await db.write((tx) => repository.delete(old[1]!, tx));
        assert.equal((await db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM kms_replay'))[0]!.n.toString(), '2');
      } finally {
        await db.close();
        await created.drop();
      }
    });
  });
}
