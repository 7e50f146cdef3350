/**
 * The KMS end to end with the TypeScript SDK: a real appliance process, users and a service made
 * with realmctl, clients over HTTPS through the ECDHE channel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KmsClientError } from '@realm/kms-client';
import { makeTempDir } from '@realm/testing';
import { bearer, type Realm, sdkClient, serviceCredential, startRealm } from './support.js';

function refused(status: number, reason?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KmsClientError, String(error));
    assert.equal(error.status, status, error.message);
    if (reason) assert.match(error.message, reason);
    return true;
  };
}

describe('KMS end to end with the SDK', () => {
  let realm: Realm;
  before(async () => {
    realm = await startRealm();
  });
  after(() => realm.stop());

  it('creates, binds, shares and fetches conversation keys; non-members get nothing', async () => {
    const [alice, bob, carol] = await Promise.all([realm.user('alice'), realm.user('bob'), realm.user('carol')]);
    const aliceKms = sdkClient(realm, bearer(alice.token));
    const bobKms = sdkClient(realm, bearer(bob.token));
    const carolKms = sdkClient(realm, bearer(carol.token));
    try {
      const [k1, k2] = await aliceKms.createKeys(2);
      assert.equal(k1!.key.length, 32);
      const resource = await aliceKms.createResource({ authIds: [bob.id], keyUris: [k1!.uri] });
      const bound = await aliceKms.bindKey(k2!.uri, resource.uri);
      assert.equal(bound.resourceUri, resource.uri);
      assert.deepEqual((await bobKms.retrieveKey(k1!.uri)).key, k1!.key);
      assert.deepEqual((await bobKms.resourceKeys(resource.uri)).map((k) => k.uri), [k2!.uri, k1!.uri]);
      await assert.rejects(carolKms.retrieveKey(k1!.uri), refused(404, /no such key, or not authorized/));
      await bobKms.createAuthorizations(resource.uri, [carol.id]);
      assert.deepEqual((await carolKms.retrieveKey(k2!.uri)).key, k2!.key);
      await aliceKms.removeFromResource(resource.uri, carol.id);
      await assert.rejects(carolKms.retrieveKey(k2!.uri), refused(404));
      assert.deepEqual((await aliceKms.listAuthorizations(resource.uri)).map((a) => a.authId).sort(), [alice.id, bob.id].sort());
      // Bound once, never rebound.
      await assert.rejects(bobKms.bindKey(k1!.uri, (await bobKms.createResource({})).uri), refused(404));
      await aliceKms.ping();
    } finally {
      await Promise.all([aliceKms.close(), bobKms.close(), carolKms.close()]);
    }
  });

  it('authenticates a service with its certificate and a proof of possession, and honours onBehalfOf only for org-agents', async () => {
    const dir = makeTempDir('realm-svc-');
    await realm.ctl(['principal', 'create-service', 'compliance-bot', '--key-out', join(dir, 'bot.key'), '--cert-out', join(dir, 'bot.pem')]);
    const [dave, officer] = await Promise.all([realm.user('dave'), realm.user('officer', ['compliance-officer', 'org-agent'])]);
    const daveKms = sdkClient(realm, bearer(dave.token));
    const officerKms = sdkClient(realm, bearer(officer.token));
    const bot = sdkClient(realm, serviceCredential(join(dir, 'bot.key'), join(dir, 'bot.pem')));
    try {
      const [key] = await daveKms.createKeys(1);
      const resource = await daveKms.createResource({ keyUris: [key!.uri] });
      await assert.rejects(officerKms.retrieveKey(key!.uri), refused(404), 'no membership, no key');
      assert.deepEqual((await officerKms.retrieveKey(key!.uri, { onBehalfOf: dave.id })).key, key!.key, 'compliance retrieval on behalf of a member');
      await assert.rejects(daveKms.retrieveKey(key!.uri, { onBehalfOf: dave.id }), refused(403, /org-agent/));
      await bot.ping();
      await assert.rejects(bot.retrieveKey(key!.uri), refused(404));
      await daveKms.createAuthorizations(resource.uri, ['service:compliance-bot']);
      assert.deepEqual((await bot.retrieveKey(key!.uri)).key, key!.key);
    } finally {
      await Promise.all([daveKms.close(), officerKms.close(), bot.close()]);
    }
  });

  it('refuses a disabled principal on its very next request', async () => {
    const erin = await realm.user('erin');
    const kms = sdkClient(realm, bearer(erin.token));
    try {
      await kms.createKeys(1);
      await realm.ctl(['principal', 'disable', erin.id]);
      await assert.rejects(kms.createKeys(1), refused(401, /disabled or its credentials were revoked/));
    } finally {
      await kms.close().catch(() => undefined);
    }
  });

  it('fails closed on a KMS whose certificate does not chain to a trusted root', async () => {
    const frank = await realm.user('frank');
    const untrusting = sdkClient(realm, bearer(frank.token), { trustedRoots: [] });
    await assert.rejects(untrusting.createKeys(1), (error: unknown) => error instanceof KmsClientError && error.code === 'KMS_CLIENT_UNTRUSTED_KMS' && /no trusted roots/.test(error.message));
    const wrongRoot = sdkClient(realm, bearer(frank.token), { trustedRoots: [realm.tlsCa.toString()] });
    await assert.rejects(wrongRoot.createKeys(1), (error: unknown) => error instanceof KmsClientError && error.code === 'KMS_CLIENT_UNTRUSTED_KMS');
  });

  it('resets channels when the static key rotates; the SDK renegotiates by itself', async () => {
    const grace = await realm.user('grace');
    const kms = sdkClient(realm, bearer(grace.token));
    try {
      const [key] = await kms.createKeys(1);
      const before = kms.channelUri;
      await realm.ctl(['kms', 'rotate-static-key']);
      assert.deepEqual((await kms.retrieveKey(key!.uri)).key, key!.key);
      assert.notEqual(kms.channelUri, before, 'a new channel under the new static key');
      // The same for a request that is not a retrieval (it is refused before it is dispatched).
      const second = kms.channelUri;
      await realm.ctl(['kms', 'rotate-static-key']);
      assert.equal((await kms.createKeys(2)).length, 2);
      assert.notEqual(kms.channelUri, second, 'a new channel under the newer static key');
    } finally {
      await kms.close();
    }
  });
});
