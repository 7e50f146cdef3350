/**
 * Interop with Cisco's node-kms (npm), the reference client of this protocol, unchanged: the
 * handshake and every operation it can express, against the appliance over HTTPS; and our SDK's
 * codec and node-kms reading each other's messages in both directions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import KMS from 'node-kms';
import { decryptDirA256Gcm, encryptDirA256Gcm } from '@realm/crypto';
import { httpsRequest } from '@realm/testing';
import { bearer, type Realm, sdkClient, startRealm } from './support.js';

async function post(realm: Realm, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await httpsRequest('POST', `${realm.app.url}${path}`, realm.tlsCa, JSON.stringify(body));
  return { status: reply.status, body: JSON.parse(reply.body) as Record<string, unknown> };
}

/** A node-kms client: its own Context, Request.wrap and Response.unwrap, our HTTPS POST. */
class NodeKmsClient {
  readonly context = new KMS.Context();
  private cluster = '';

  constructor(
    private readonly realm: Realm,
    private readonly userId: string,
    private readonly token: string,
  ) {}

  async handshake(): Promise<void> {
    const discovery = JSON.parse((await httpsRequest('GET', `${this.realm.app.url}/kms/discovery`, this.realm.tlsCa)).body) as { kmsCluster: string; rsaPublicKey: Record<string, unknown> };
    this.cluster = discovery.kmsCluster;
    this.context.clientInfo = { clientId: 'node-kms-device', credential: { userId: this.userId, bearer: this.token } };
    this.context.serverInfo = { key: discovery.rsaPublicKey };
    const local = await this.context.createECDHKey();
    this.context.ephemeralKey = local;
    // As node-kms users do, the whole local JWK is sent (private 'd' included): the KMS must use only x and y.
    const req = new KMS.Request({ method: 'create', uri: `${this.cluster}/ecdhe`, jwk: local.jwk });
    const response = await this.exchange(await req.wrap(this.context, { serverKey: true }));
    assert.equal(response.status, 201, response.reason);
    this.context.ephemeralKey = await this.context.deriveEphemeralKey(response.body.key);
  }

  async call(body: Record<string, unknown>): Promise<InstanceType<typeof KMS.Response>> {
    const req = new KMS.Request({ ...body, uri: String(body.uri).startsWith('/') ? `${this.cluster}${String(body.uri)}` : body.uri });
    return this.exchange(await req.wrap(this.context));
  }

  private async exchange(wrapped: string): Promise<InstanceType<typeof KMS.Response>> {
    const { status, body } = await post(this.realm, '/kms/messages', { destination: this.cluster, kmsMessages: [wrapped] });
    assert.equal(status, 200);
    const response = new KMS.Response((body.kmsMessages as string[])[0]);
    await response.unwrap(this.context);
    return response;
  }
}

describe('interop with Cisco node-kms', () => {
  let realm: Realm;
  before(async () => {
    realm = await startRealm();
  });
  after(() => realm.stop());

  it('performs the handshake and every operation node-kms can express', async () => {
    const [alice, bob] = await Promise.all([realm.user('alice'), realm.user('bob')]);
    const client = new NodeKmsClient(realm, alice.id, await alice.token());
    await client.handshake();

    const ping = await client.call({ method: 'update', uri: '/ping' });
    assert.equal(ping.status, 200);

    const created = await client.call({ method: 'create', uri: '/keys', count: 3 });
    assert.equal(created.status, 201, created.reason);
    const [k1, k2, k3] = created.body.keys as { uri: string; jwk: { k: string } }[];
    assert.equal(Buffer.from(k1!.jwk.k, 'base64url').length, 32);

    const retrieved = await client.call({ method: 'retrieve', uri: k1!.uri });
    assert.equal((retrieved.body.key as { jwk: { k: string } }).jwk.k, k1!.jwk.k);

    const resource = await client.call({ method: 'create', uri: '/resources', userIds: [bob.id], keyUris: [k1!.uri] });
    assert.equal(resource.status, 201, resource.reason);
    const kro = (resource.body.resource as { uri: string }).uri;

    const bound = await client.call({ method: 'update', uri: k2!.uri, resourceUri: kro });
    assert.equal(bound.status, 200, bound.reason);
    assert.equal((bound.body.key as { resourceUri: string }).resourceUri, kro);
    const rebound = await client.call({ method: 'update', uri: k2!.uri, resourceUri: kro });
    assert.equal(rebound.status, 409);

    const fetched = await client.call({ method: 'retrieve', uri: kro });
    assert.deepEqual((fetched.body.resource as { keyUris: string[] }).keyUris.sort(), [k1!.uri, k2!.uri].sort());
    const keys = await client.call({ method: 'retrieve', uri: `${kro}/keys`, count: 1 });
    assert.deepEqual((keys.body.keys as { uri: string }[]).map((k) => k.uri), [k2!.uri]);

    const carol = await realm.user('carol');
    const authorized = await client.call({ method: 'create', uri: '/authorizations', resourceUri: kro, authIds: [carol.id] });
    assert.equal(authorized.status, 201, authorized.reason);
    const all = await client.call({ method: 'retrieve', uri: `${kro}/authorizations` });
    assert.equal((all.body.authorizations as unknown[]).length, 3);
    const one = await client.call({ method: 'retrieve', uri: `${kro}/authorizations?authId=${encodeURIComponent(carol.id)}` });
    assert.deepEqual((one.body.authorizations as { authId: string }[]).map((a) => a.authId), [carol.id]);
    const removed = await client.call({ method: 'delete', uri: `${kro}/authorizations?authId=${encodeURIComponent(carol.id)}` });
    assert.equal(removed.status, 200, removed.reason);
    const bobAuth = (all.body.authorizations as { uri: string; authId: string }[]).find((a) => a.authId === bob.id)!;
    const byUri = await client.call({ method: 'delete', uri: bobAuth.uri });
    assert.equal((byUri.body.authorization as { authId: string }).authId, bob.id);
    const bulk = await client.call({ method: 'delete', uri: '/authorizations', resourceUri: kro, authIds: [alice.id] });
    assert.equal((bulk.body.authorizations as unknown[]).length, 1);
    const gone = await client.call({ method: 'retrieve', uri: kro });
    assert.equal(gone.status, 404, 'with every authorization removed, nobody can read the resource');

    // A key created by node-kms is read by a member using our SDK.
    const resource2 = await client.call({ method: 'create', uri: '/resources', userIds: [bob.id], keyUris: [k3!.uri] });
    const bobSdk = sdkClient(realm, bearer(bob.token));
    try {
      assert.equal((await bobSdk.retrieveKey(k3!.uri)).jwk.k, k3!.jwk.k);
      assert.equal((await bobSdk.retrieveResource((resource2.body.resource as { uri: string }).uri)).keyUris[0], k3!.uri);
    } finally {
      await bobSdk.close();
    }

    const channelUri = (client.context.ephemeralKey as { uri: string }).uri;
    const deleted = await client.call({ method: 'delete', uri: channelUri });
    assert.equal(deleted.status, 204);
    // The channel is gone: the KMS answers with a signed error node-kms can still read.
    const after = await client.call({ method: 'update', uri: '/ping' });
    assert.equal(after.status, 403);
  });

  it('reads our SDK codec messages, and our codec reads node-kms messages, in both directions', async () => {
    const dave = await realm.user('dave');
    const client = new NodeKmsClient(realm, dave.id, await dave.token());
    await client.handshake();
    const channel = client.context.ephemeralKey as { uri: string; jwk: { k: string } };
    const key = Buffer.from(channel.jwk.k, 'base64url');

    // node-kms → our codec.
    const fromNodeKms = await new KMS.Request({ method: 'update', uri: 'kms://kms.realm.test/ping', requestId: 'from-node-kms' }).wrap(client.context);
    const decoded = JSON.parse(decryptDirA256Gcm(key, fromNodeKms, { expectedKid: channel.uri }).plaintext.toString('utf8')) as Record<string, unknown>;
    assert.equal(decoded.requestId, 'from-node-kms');
    assert.equal(decoded.method, 'update');

    // Our codec → node-kms.
    const fromSdk = encryptDirA256Gcm(key, channel.uri, Buffer.from(JSON.stringify({ status: 200, requestId: 'from-sdk', reason: 'ok' })));
    const response = new KMS.Response(fromSdk);
    await response.unwrap(client.context);
    assert.equal(response.requestId, 'from-sdk');
    assert.equal(response.status, 200);
  });
});
