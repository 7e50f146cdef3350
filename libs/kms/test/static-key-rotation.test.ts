/**
 * Rotating the static key on one node while others serve channels, on every database: KMS runtimes
 * over one database stand for appliance nodes, each with its own memory of which static key is
 * active. The serving nodes have just served a batch, so they still hold the old key as active
 * (for up to a second): the batch's recording transaction, not that memory, must decide the reset,
 * and a channel under a key they do not know as active must make them look again, not reset it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditLog } from '@realm/audit';
import { decryptDirA256Gcm, deriveChannelKey, encryptDirA256Gcm, encryptRsaOaepJwe, generateEphemeralP256, importP256PublicJwk, verifyCompactJws } from '@realm/crypto';
import { IDENTITY_ENTITIES, IDENTITY_MIGRATIONS, openIdentity } from '@realm/identity';
import { Database } from '@realm/persistence';
import { testConfig, testDatabases } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { IdentityAuthenticator } from '../src/authentication/identity-authenticator.js';
import { KMS_ENTITIES } from '../src/kms.entities.js';
import { createKmsRuntime, type KmsRuntime } from '../src/kms-runtime.js';
import { KMS_MIGRATIONS } from '../src/migrations/index.js';

for (const database of testDatabases()) {
  describe(`KMS static key rotation across nodes on ${database.name}`, () => {
    it('answers channels under the rotated key with the signed reset on a node that still holds the old key, for retrievals and other requests, and serves channels under the new key there', async () => {
      const created = await database.create();
      const config = testConfig(created.env);
      const db = await Database.open(config.database, { entities: [...VAULT_ENTITIES, ...AUDIT_ENTITIES, ...IDENTITY_ENTITIES, ...KMS_ENTITIES], migrations: [...VAULT_MIGRATIONS, ...AUDIT_MIGRATIONS, ...IDENTITY_MIGRATIONS, ...KMS_MIGRATIONS] });
      await db.migrate();
      const vault = await KeyVault.open(config, db);
      await vault.initialize();
      const audit = await AuditLog.open(db, vault, { checkpointEvery: 1000, checkpointIntervalSeconds: 3600 });
      const identity = await openIdentity(db, vault, audit, { tokens: { issuer: config.identity.issuer } });
      const node = (): KmsRuntime => createKmsRuntime(config, db, vault, audit, { authenticator: new IdentityAuthenticator(identity, `kms://${config.kms.domain}`) });
      const serving = node();
      const other = node();
      const another = node();
      const rotating = node();
      try {
        await serving.staticKey.ensure();
        const principal = await identity.principals.createUser({ userName: 'alice' });
        const token = (await identity.tokens.issueAccessToken(principal.id, { audience: 'kms', clientId: 'alice-laptop', scope: 'kms' })).accessToken;
        // A handshake to the static key `keyFrom` says is active (as discovery would tell the client), sent to `kms`.
        const handshake = async (kms: KmsRuntime, keyFrom = kms) => {
          const { uri: kid, publicKey } = await keyFrom.staticKey.current();
          const ephemeral = generateEphemeralP256();
          const body = { client: { clientId: 'alice-laptop', credential: { bearer: token } }, method: 'create', uri: `kms://${config.kms.domain}/ecdhe`, requestId: randomUUID(), jwk: ephemeral.publicJwk };
          const [answer] = await kms.pipeline.process([encryptRsaOaepJwe(publicKey, kid, Buffer.from(JSON.stringify(body)))]);
          const negotiated = JSON.parse(verifyCompactJws(answer!, publicKey, { algorithms: ['PS256'], expectedKid: kid }).payload.toString('utf8')) as { status: number; key: { uri: string; jwk: unknown } };
          assert.equal(negotiated.status, 201);
          const key = deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(negotiated.key.jwk));
          return {
            kid,
            publicKey,
            send: (fields: Record<string, unknown>) => encryptDirA256Gcm(key, negotiated.key.uri, Buffer.from(JSON.stringify({ client: { clientId: 'alice-laptop', credential: { bearer: token } }, requestId: randomUUID(), ...fields }))),
            read: (message: string) => JSON.parse(decryptDirA256Gcm(key, message).plaintext.toString('utf8')) as { status: number; keys?: { uri: string }[]; key?: { jwk: { k: string } } },
          };
        };
        const old = await handshake(serving);
        const [created] = await serving.pipeline.process([old.send({ method: 'create', uri: `kms://${config.kms.domain}/keys`, count: 1 })]);
        const keyUri = old.read(created!).keys![0]!.uri;
        const [bound] = await serving.pipeline.process([old.send({ method: 'create', uri: `kms://${config.kms.domain}/resources`, keyUris: [keyUri] })]);
        assert.equal(old.read(bound!).status, 201);
        const [retrieved] = await serving.pipeline.process([old.send({ method: 'retrieve', uri: keyUri })]);
        const material = old.read(retrieved!).key!.jwk.k;
        for (const kms of [other, another]) {
          const [answer] = await kms.pipeline.process([old.send({ method: 'retrieve', uri: keyUri })]);
          assert.equal(old.read(answer!).key!.jwk.k, material);
        }

        // A third node rotates, and negotiates a channel under the new key.
        await rotating.staticKey.rotate();
        const rotatedChannel = await handshake(rotating);
        assert.notEqual(rotatedChannel.kid, old.kid);
        // The serving node, which last saw the old key active a moment ago, serves the new channel.
        const [again] = await serving.pipeline.process([rotatedChannel.send({ method: 'retrieve', uri: keyUri })]);
        assert.equal(rotatedChannel.read(again!).key!.jwk.k, material);
        // The other node, likewise, answers the old channel with the signed reset, signed with the old key.
        const reset = (message: string) => JSON.parse(verifyCompactJws(message, old.publicKey, { algorithms: ['PS256'], expectedKid: old.kid }).payload.toString('utf8')) as { status: number; reason: string };
        const retrievals = await other.pipeline.process([old.send({ method: 'retrieve', uri: keyUri }), old.send({ method: 'retrieve', uri: keyUri })]);
        assert.deepEqual(retrievals.map((m) => reset(m).status), [499, 499], 'a batch of retrievals');
        const others = await other.pipeline.process([old.send({ method: 'create', uri: `kms://${config.kms.domain}/keys`, count: 1 }), old.send({ method: 'retrieve', uri: keyUri })]);
        assert.deepEqual(others.map((m) => reset(m).status), [499, 499], 'any other batch');
        assert.match(reset(others[0]!).reason, /static key was rotated/);
        // A handshake to the new key, sent to a node that last saw the old key active a moment ago.
        const lateChannel = await handshake(another, rotating);
        const [late] = await another.pipeline.process([lateChannel.send({ method: 'retrieve', uri: keyUri })]);
        assert.equal(lateChannel.read(late!).key!.jwk.k, material);
        const records = (await db.query<{ body: string }[]>('SELECT body FROM audit_records ORDER BY seq')).map((row) => JSON.parse(row.body) as { action: string });
        assert.equal(records.filter((r) => r.action === 'kms.key.create').length, 1, 'the create sent on the reset channel did nothing');
      } finally {
        serving.close();
        other.close();
        another.close();
        rotating.close();
        await audit.close();
        vault.close();
        await db.close();
        await created.drop();
      }
    });
  });
}
