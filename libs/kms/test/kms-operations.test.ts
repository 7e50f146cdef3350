/**
 * The KMS domain rules on every database: bind once, unbound keys are the creator's, atomic
 * resource and authorization creation, viral authorization with KRO-to-KRO inheritance, and
 * nothing about a resource leaks to someone not authorized on it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Database } from '@realm/persistence';
import { testConfig, testDatabases } from '@realm/testing';
import { KeyVault, VAULT_ENTITIES, VAULT_MIGRATIONS } from '@realm/vault';
import { AuthorizationPolicy } from '../src/domain/authorization-policy.js';
import { type KmsCaller, KmsOperations } from '../src/domain/kms-operations.js';
import { KmsError } from '../src/kms.error.js';
import { KMS_ENTITIES } from '../src/kms.entities.js';
import { KMS_MIGRATIONS } from '../src/migrations/index.js';
import { KmsUris } from '../src/protocol/kms-uris.js';
import { KmsKeyRepository } from '../src/repositories/key.repository.js';
import { KmsResourceRepository } from '../src/repositories/resource.repository.js';

const alice: KmsCaller = { principalId: 'user:alice', clientId: 'alice-laptop', roles: ['user'] };
const bob: KmsCaller = { principalId: 'user:bob', clientId: 'bob-phone', roles: ['user'] };
const carol: KmsCaller = { principalId: 'user:carol', clientId: 'carol-desk', roles: ['user'] };
const dave: KmsCaller = { principalId: 'user:dave', clientId: 'dave-desk', roles: ['user'] };
/** Alice on another device: the same user, another client. */
const alicePhone: KmsCaller = { ...alice, clientId: 'alice-phone' };

function kmsError(code: KmsError['code'], reason?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KmsError, `expected KmsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (reason) assert.match(error.message, reason);
    return true;
  };
}

for (const database of testDatabases()) {
  describe(`KMS operations on ${database.name}`, () => {
    let db: Database;
    let vault: KeyVault;
    let ops: KmsOperations;
    let drop: () => Promise<void>;
    let now = Date.UTC(2026, 10, 22, 12);
    const uris = new KmsUris('kms.realm.test');

    before(async () => {
      const created = await database.create();
      drop = created.drop;
      const config = testConfig({ ...created.env, REALM_KMS_MAX_KEYS_PER_REQUEST: '20' });
      db = await Database.open(config.database, { entities: [...VAULT_ENTITIES, ...KMS_ENTITIES], migrations: [...VAULT_MIGRATIONS, ...KMS_MIGRATIONS] });
      await db.migrate();
      vault = await KeyVault.open(config, db);
      await vault.initialize();
      const resources = new KmsResourceRepository(db);
      ops = new KmsOperations(db, vault, new KmsKeyRepository(db), resources, new AuthorizationPolicy(resources, `${uris.base}/resources/`), uris, config.kms, () => now);
    });
    after(async () => {
      vault.close();
      await db.close();
      await drop();
    });

    it('creates unbound 256-bit keys for their creator only, with count limits', async () => {
      const keys = await ops.createUnboundKeys(alice, 3);
      assert.equal(keys.length, 3);
      for (const key of keys) {
        assert.match(key.uri, /^kms:\/\/kms\.realm\.test\/keys\/[0-9a-f-]{36}$/);
        assert.equal(Buffer.from(key.jwk.k, 'base64url').length, 32);
        assert.equal(key.jwk.kid, key.uri);
        assert.equal(key.userId, 'user:alice');
        assert.equal(key.resourceUri, undefined);
      }
      assert.deepEqual((await ops.retrieveKey(alice, keys[0]!.uri)).jwk, keys[0]!.jwk);
      await assert.rejects(ops.retrieveKey(bob, keys[0]!.uri), kmsError('KMS_NOT_FOUND', /no such key, or not authorized/));
      // The draft's SHOULD: the creating client too. Alice's phone gets what Bob gets.
      await assert.rejects(ops.retrieveKey(alicePhone, keys[0]!.uri), kmsError('KMS_NOT_FOUND', /no such key, or not authorized/));
      const [phoneFirst, laptopSecond] = await ops.retrieveKeys([{ caller: alicePhone, uri: keys[1]!.uri }, { caller: alice, uri: keys[1]!.uri }]);
      assert.ok(phoneFirst instanceof KmsError && phoneFirst.code === 'KMS_NOT_FOUND', 'in a batch too');
      assert.ok(!(laptopSecond instanceof KmsError) && laptopSecond?.jwk.k === keys[1]!.jwk.k, 'while the creating client in the same batch gets the key');
      await assert.rejects(ops.retrieveKey(alice, uris.of('keys', randomUUID())), kmsError('KMS_NOT_FOUND', /no such key, or not authorized/));
      for (const count of [0, 21, 1.5, '3', undefined]) await assert.rejects(ops.createUnboundKeys(alice, count), kmsError('KMS_BAD_REQUEST', /count must be an integer from 1 to 20/));
    });

    it('creates a resource with its members and keys atomically; members retrieve the keys', async () => {
      const [k1, k2] = await ops.createUnboundKeys(alice, 2);
      const resource = await ops.createResource(alice, { userIds: ['user:bob'], keyUris: [k1!.uri, k2!.uri] });
      assert.equal(resource.authorizationUris.length, 2, 'alice (creator) and bob');
      assert.deepEqual(resource.keyUris, [k1!.uri, k2!.uri]);
      const fetched = await ops.retrieveKey(bob, k1!.uri);
      assert.equal(fetched.jwk.k, k1!.jwk.k);
      assert.equal(fetched.resourceUri, resource.uri);
      await assert.rejects(ops.retrieveKey(carol, k1!.uri), kmsError('KMS_NOT_FOUND'));

      // All or nothing: one bad key URI leaves no resource and binds nothing.
      const [k3] = await ops.createUnboundKeys(alice, 1);
      const [bobKey] = await ops.createUnboundKeys(bob, 1);
      await assert.rejects(ops.createResource(alice, { authIds: ['user:carol'], keyUris: [k3!.uri, bobKey!.uri] }), kmsError('KMS_CONFLICT'));
      assert.equal((await ops.retrieveKey(alice, k3!.uri)).resourceUri, undefined, 'k3 is still unbound');
      const [row] = await db.query<{ n: number | string }[]>("SELECT COUNT(*) AS n FROM kms_authorizations WHERE auth_id = 'user:carol'");
      assert.equal(Number(row!.n), 0);
      await assert.rejects(ops.createResource(alice, { authIds: ['x'], userIds: ['y'] }), kmsError('KMS_BAD_REQUEST', /not both/));
    });

    it('binds a key once, by its creator, to a resource the creator is authorized on', async () => {
      const resource = await ops.createResource(alice, { userIds: ['user:bob'] });
      const [key] = await ops.createUnboundKeys(bob, 1);
      await assert.rejects(ops.bindKey(alice, key!.uri, resource.uri), kmsError('KMS_NOT_FOUND'), "alice cannot bind bob's key");
      const bobTablet: KmsCaller = { ...bob, clientId: 'bob-tablet' };
      await assert.rejects(ops.bindKey(bobTablet, key!.uri, resource.uri), kmsError('KMS_NOT_FOUND'), "bob's other client cannot bind it");
      await assert.rejects(ops.createResource(bobTablet, { keyUris: [key!.uri] }), kmsError('KMS_CONFLICT', /not an unbound, unexpired key this client of the caller created/), 'nor bind it in a new resource');
      assert.equal((await ops.retrieveKey(bob, key!.uri)).resourceUri, undefined, 'still unbound');
      const bound = await ops.bindKey(bob, key!.uri, resource.uri);
      assert.equal(bound.resourceUri, resource.uri);
      assert.ok(bound.bindDate);
      await assert.rejects(ops.bindKey(bob, key!.uri, resource.uri), kmsError('KMS_CONFLICT', /bound once and never rebound/));
      const other = await ops.createResource(bob, {});
      await assert.rejects(ops.bindKey(bob, key!.uri, other.uri), kmsError('KMS_CONFLICT'));
      const [carolKey] = await ops.createUnboundKeys(carol, 1);
      await assert.rejects(ops.bindKey(carol, carolKey!.uri, resource.uri), kmsError('KMS_NOT_FOUND', /no such resource, or not authorized/));
      // An unbound key past its expirationDate can no longer be bound.
      const [late] = await ops.createUnboundKeys(bob, 1);
      now += 8 * 86400 * 1000;
      await assert.rejects(ops.bindKey(bob, late!.uri, resource.uri), kmsError('KMS_CONFLICT', /expired/));
      // ...but bound keys stay retrievable (the draft limits encryption, not decryption).
      assert.equal((await ops.retrieveKey(alice, key!.uri)).jwk.k, key!.jwk.k);
      await assert.rejects(ops.bindKey(bob, key!.uri, 'kms://other.example/resources/x'), kmsError('KMS_BAD_REQUEST', /resourceUri must be a resources URI/));
    });

    it("retrieves a resource's keys newest first, within bounds", async () => {
      const resource = await ops.createResource(alice, {});
      const bound: string[] = [];
      for (let i = 0; i < 4; i++) {
        const [key] = await ops.createUnboundKeys(alice, 1);
        now += 1000;
        await ops.bindKey(alice, key!.uri, resource.uri);
        bound.push(key!.uri);
      }
      const all = await ops.retrieveResourceKeys(alice, resource.uri, {});
      assert.deepEqual(all.map((k) => k.uri), [...bound].reverse());
      const two = await ops.retrieveResourceKeys(alice, resource.uri, { count: 2 });
      assert.deepEqual(two.map((k) => k.uri), [bound[3], bound[2]]);
      const middle = await ops.retrieveResourceKeys(alice, resource.uri, { boundAfter: all[3]!.bindDate, boundBefore: all[0]!.bindDate });
      assert.deepEqual(middle.map((k) => k.uri), [bound[2], bound[1]]);
      await assert.rejects(ops.retrieveResourceKeys(alice, resource.uri, { boundAfter: 'yesterday' }), kmsError('KMS_BAD_REQUEST', /boundAfter/));
    });

    it('lets any member add and remove members (viral), atomically, and lists them', async () => {
      const resource = await ops.createResource(alice, { userIds: ['user:bob'] });
      const added = await ops.createAuthorizations(bob, { resourceUri: resource.uri, authIds: ['user:carol', 'user:alice'] });
      assert.deepEqual(added.map((a) => a.authId), ['user:carol', 'user:alice'], 'existing authorizations are returned as they are');
      assert.deepEqual((await ops.listAuthorizations(carol, resource.uri)).map((a) => a.authId).sort(), ['user:alice', 'user:bob', 'user:carol']);
      assert.deepEqual((await ops.listAuthorizations(carol, resource.uri, 'user:bob')).map((a) => a.authId), ['user:bob']);
      assert.deepEqual(await ops.listAuthorizations(carol, resource.uri, 'user:nobody'), []);
      const removed = await ops.deleteAuthorizations(carol, { resourceUri: resource.uri, authIds: ['user:bob'] });
      assert.deepEqual(removed.map((a) => a.authId), ['user:bob']);
      await assert.rejects(ops.listAuthorizations(bob, resource.uri), kmsError('KMS_NOT_FOUND'), 'bob was removed');
      const aliceAuth = (await ops.listAuthorizations(alice, resource.uri, 'user:alice'))[0]!;
      await assert.rejects(ops.deleteAuthorizations(bob, { uri: aliceAuth.uri }), kmsError('KMS_NOT_FOUND'));
      assert.deepEqual((await ops.deleteAuthorizations(alice, { uri: aliceAuth.uri })).map((a) => a.authId), ['user:alice']);
      await assert.rejects(ops.createAuthorizations(alice, { resourceUri: resource.uri, authIds: [] }), kmsError('KMS_BAD_REQUEST'));
    });

    it('extends a resource to the members of another resource that it authorizes (KRO to KRO), one way only', async () => {
      const conversation = await ops.createResource(alice, { userIds: ['user:bob'] });
      const meeting = await ops.createResource(carol, {});
      const [meetingKey] = await ops.createUnboundKeys(carol, 1);
      await ops.bindKey(carol, meetingKey!.uri, meeting.uri);
      await ops.createAuthorizations(carol, { resourceUri: meeting.uri, authIds: [conversation.uri] });
      assert.equal((await ops.retrieveKey(bob, meetingKey!.uri)).jwk.k, meetingKey!.jwk.k, 'bob inherits the meeting through the conversation');
      const [conversationKey] = await ops.createUnboundKeys(alice, 1);
      await ops.bindKey(alice, conversationKey!.uri, conversation.uri);
      await assert.rejects(ops.retrieveKey(carol, conversationKey!.uri), kmsError('KMS_NOT_FOUND'), 'not the other way round');
      await assert.rejects(ops.createAuthorizations(carol, { resourceUri: meeting.uri, authIds: [uris.of('resources', randomUUID())] }), kmsError('KMS_BAD_REQUEST', /does not exist/));
    });

    it('gives a user who is not authorized on a resource no way to its keys, and does not reveal that it exists', async () => {
      const secret = await ops.createResource(alice, { userIds: ['user:bob'] });
      const [secretKey] = await ops.createUnboundKeys(alice, 1);
      await ops.bindKey(alice, secretKey!.uri, secret.uri);
      const missing = uris.of('resources', randomUUID());
      const attempts: [string, (target: string) => Promise<unknown>][] = [
        ['retrieve the key', () => ops.retrieveKey(dave, secretKey!.uri)],
        ['retrieve the resource', (t) => ops.retrieveResource(dave, t)],
        ["retrieve the resource's keys", (t) => ops.retrieveResourceKeys(dave, t, {})],
        ['list its authorizations', (t) => ops.listAuthorizations(dave, t)],
        ['authorize themselves', (t) => ops.createAuthorizations(dave, { resourceUri: t, authIds: ['user:dave'] })],
        ['remove a member', (t) => ops.deleteAuthorizations(dave, { resourceUri: t, authIds: ['user:alice'] })],
        ['bind their own key to it', async (t) => ops.bindKey(dave, (await ops.createUnboundKeys(dave, 1))[0]!.uri, t)],
        ['retrieve on behalf of nobody in particular', () => ops.retrieveKey({ ...dave, onBehalfOf: 'user:dave' }, secretKey!.uri)],
      ];
      for (const [what, attempt] of attempts) {
        let existing: unknown;
        let absent: unknown;
        await attempt(secret.uri).catch((e: unknown) => (existing = e));
        await attempt(missing).catch((e: unknown) => (absent = e));
        assert.ok(existing instanceof KmsError && existing.code === 'KMS_NOT_FOUND', `${what}: ${String(existing)}`);
        assert.ok(absent instanceof KmsError, `${what} on a missing resource`);
        assert.equal((existing as KmsError).message, (absent as KmsError).message, `${what}: the same answer whether the resource exists or not`);
      }
      // A resource of dave's own that authorizes the secret one gives the secret's members access to dave's, not dave to the secret's.
      await ops.createResource(dave, { authIds: [secret.uri] });
      await assert.rejects(ops.retrieveKey(dave, secretKey!.uri), kmsError('KMS_NOT_FOUND'));
      await assert.rejects(ops.retrieveResourceKeys(dave, secret.uri, {}), kmsError('KMS_NOT_FOUND'));
    });
  });
}
