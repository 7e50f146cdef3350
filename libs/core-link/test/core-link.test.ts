/**
 * The appliance's link to a real core (apps/core-sim) over mutual TLS, with the real KMS pipeline
 * behind it, on every database: a client that talks only to the core completes the ECDHE handshake
 * and key operations; the link survives the core cutting it, a network partition and shutdown,
 * and never processes a batch twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { selfSignedServerCertificate } from '@realm/core-sim';
import { serviceUri } from '@realm/identity';
import { CoreRelayError } from '@realm/kms-client';
import { testDatabases } from '@realm/testing';
import type { CoreLinkKms } from '../src/index.js';
import { clientThroughCore, control, eventually, FreezableProxy, type KmsNode, openKmsNode, openLink, startCore } from './helpers.js';

/** The appliance's KMS service with a gate in front of it: a test holds batches to act while they are in flight. */
function gated(node: KmsNode): { kms: CoreLinkKms; hold(): () => void } {
  let gate: Promise<void> | undefined;
  return {
    kms: {
      messages: async (body) => {
        await gate;
        return node.kms.service.messages(body);
      },
      discovery: () => node.kms.service.discovery(),
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

for (const database of testDatabases()) {
  describe(`core link on ${database.name}`, () => {
    let node: KmsNode;
    let sim: Awaited<ReturnType<typeof startCore>>;
    before(async () => {
      node = await openKmsNode(database);
      sim = await startCore(node);
    });
    after(async () => {
      await sim.stop();
      await node.close();
    });

    it('connects over TLS 1.3 with a service-CA client certificate, serves discovery, and relays a conversation through the pipeline', async () => {
      const { link, log } = openLink(node, sim, { nodeId: 'node-a' });
      const alice = await clientThroughCore(node, sim, 'alice');
      const bob = await clientThroughCore(node, sim, 'bob');
      try {
        link.start();
        await link.whenOpen(10_000);
        const links = (await control(sim, 'GET', '/links')).body.links as any[];
        assert.equal(links.length, 1);
        assert.equal(links[0].nodeId, 'node-a');
        assert.match(links[0].peerCertificate.issuer, /security realm service CA/);
        assert.ok(links[0].peerCertificate.subjectAltName.includes(`URI:${serviceUri('core-link')}`), 'the link certificate names the core-link service');

        // The core caches what the node answered to its discovery request: the static key with its chain.
        const ours = await node.kms.staticKey.publicJwk();
        const served = await eventually('discovery at the core', () => alice.transport.discovery().catch(() => undefined));
        assert.deepEqual(served, { kmsCluster: 'kms://kms.realm.test', rsaPublicKey: { kty: 'RSA', kid: ours.kid, n: ours.n, e: ours.e, x5c: ours.x5c } });

        const keys = await alice.client.createKeys(2);
        const resource = await alice.client.createResource({ authIds: [bob.principalId], keyUris: keys.map((k) => k.uri) });
        for (const key of keys) assert.deepEqual((await bob.client.retrieveKey(key.uri)).key, key.key);
        assert.equal((await bob.client.resourceKeys(resource.uri)).length, 2);
        assert.ok(link.status().batchesAnswered >= 6);

        // What the node put on the link: only the contract's frames.
        const frames = (await control(sim, 'GET', '/frames?limit=1000')).body.frames as any[];
        const sent = new Set(frames.filter((f) => f.direction === 'appliance→core').map((f) => f.type));
        assert.ok(sent.has('hello') && sent.has('kms.response') && sent.has('kms.discovery.response'));
        for (const type of sent) assert.ok(['hello', 'kms.response', 'kms.discovery.response', 'ping', 'pong', 'drain', 'error'].includes(type), type);
        assert.ok(!frames.some((f) => f.direction === 'appliance→core' && f.type === 'error'), 'no frame of the core was refused');
        assert.ok(!JSON.stringify(log.lines).includes('PRIVATE KEY'));
      } finally {
        await link.close();
        await Promise.all([alice.close(), bob.close()]);
      }
      const records = await node.auditRecords();
      const connect = records.find((r) => r.action === 'core-link.connect' && r.outcome === 'success' && r.details.nodeId === 'node-a');
      assert.ok(connect, 'the connection is audited');
      assert.equal(connect.details.tls, 'TLSv1.3');
      assert.ok(records.some((r) => r.action === 'core-link.disconnect' && r.outcome === 'success' && r.details.nodeId === 'node-a'), 'and the shutdown');
      await eventually('the core to see the link closed', async () => (await control(sim, 'GET', '/links')).body.links.length === 0);
    });

    it('comes back by itself after the core cuts it; the batch that was in flight fails at once for the client and is processed at most once', async () => {
      const gate = gated(node);
      const { link, log } = openLink(node, sim, { nodeId: 'node-cut', kms: gate.kms });
      const carol = await clientThroughCore(node, sim, 'carol');
      try {
        link.start();
        await link.whenOpen(10_000);
        const firstLink = link.status().linkId;
        const [key] = await carol.client.createKeys(1);
        const release = gate.hold();
        const retrieval = carol.client.retrieveKey(key!.uri);
        await eventually('the batch in flight', () => link.status().inFlight === 1);
        assert.equal((await control(sim, 'POST', '/links/close', { nodeId: 'node-cut', mode: 'terminate' })).status, 200);
        await eventually('LINK_LOST for the client', () => carol.failures.some((f) => f.code === 'LINK_LOST' && f.status === 503));
        release();
        await eventually('the dropped answer', () => log.lines.some((l) => l.msg.includes('answer dropped')));
        await link.whenOpen(10_000);
        await eventually('a new link', () => link.status().state === 'open' && link.status().linkId !== firstLink);
        // The KMS client retries under a new requestId once its timeout passes.
        assert.deepEqual((await retrieval).key, key!.key);
      } finally {
        await link.close();
        await carol.close();
      }
      const records = await node.auditRecords();
      const retrieved = records.filter((r) => r.action === 'kms.key.retrieve' && r.outcome === 'success' && r.actor?.id === carol.principalId);
      assert.ok(retrieved.length >= 2, 'the lost batch was processed once, and its retry once');
      assert.equal(new Set(retrieved.map((r) => r.requestId)).size, retrieved.length, 'no requestId was processed twice');
      assert.ok(records.some((r) => r.action === 'core-link.disconnect' && r.outcome === 'failure' && r.details.nodeId === 'node-cut'));
    });

    it('drains on shutdown: the core routes nothing new to it, the batch in flight is still answered, and clients get an error at once', async () => {
      const gate = gated(node);
      const { link } = openLink(node, sim, { nodeId: 'node-drain', kms: gate.kms });
      const dave = await clientThroughCore(node, sim, 'dave');
      const erin = await clientThroughCore(node, sim, 'erin');
      try {
        link.start();
        await link.whenOpen(10_000);
        const [key] = await dave.client.createKeys(1);
        const release = gate.hold();
        const retrieval = dave.client.retrieveKey(key!.uri);
        await eventually('the batch in flight', () => link.status().inFlight === 1);
        const closing = link.close();
        await eventually('draining at the core', async () => ((await control(sim, 'GET', '/links')).body.links as any[]).some((l) => l.nodeId === 'node-drain' && l.draining));
        // No node takes new batches: a new client is refused at once, not left waiting.
        await assert.rejects(erin.client.createKeys(1), (error: unknown) => error instanceof CoreRelayError && error.failure.status === 503 && error.failure.code === 'KMS_UNAVAILABLE');
        release();
        await closing;
        assert.deepEqual((await retrieval).key, key!.key, 'answered during the drain');
        assert.equal(link.state, 'closed');
        await eventually('the core to see the link closed', async () => (await control(sim, 'GET', '/links')).body.links.length === 0);
      } finally {
        await link.close();
        await Promise.all([dave.close(), erin.close()]);
      }
    });

    it('serves from two nodes connected at once', async () => {
      const a = openLink(node, sim, { nodeId: 'node-1' });
      const b = openLink(node, sim, { nodeId: 'node-2' });
      const frank = await clientThroughCore(node, sim, 'frank');
      try {
        a.link.start();
        b.link.start();
        await Promise.all([a.link.whenOpen(10_000), b.link.whenOpen(10_000)]);
        const keys = await frank.client.createKeys(1);
        for (let i = 0; i < 6; i++) await frank.client.retrieveKey(keys[0]!.uri);
        const links = (await control(sim, 'GET', '/links')).body.links as any[];
        assert.deepEqual(links.map((l) => l.nodeId).sort(), ['node-1', 'node-2']);
        for (const l of links) assert.ok(l.dispatched > 0, `${l.nodeId} answered batches`);
        assert.ok(a.link.status().batchesAnswered > 0 && b.link.status().batchesAnswered > 0);
      } finally {
        await Promise.all([a.link.close(), b.link.close()]);
        await frank.close();
      }
    });

    it('detects a partitioned link by its heartbeat and replaces it', async () => {
      const quiet = await startCore(node, { limits: { heartbeatIntervalMs: 600_000 } });
      const proxy = new FreezableProxy(quiet.linkPort);
      await proxy.listen();
      const { link, log } = openLink(node, quiet, { nodeId: 'node-hb', url: `wss://127.0.0.1:${proxy.port}/link/v1` });
      try {
        link.start();
        await link.whenOpen(10_000);
        const first = link.status().linkId;
        proxy.freeze();
        await eventually('the lost heartbeat', () => log.lines.some((l) => l.msg.includes('heartbeat lost')), 15_000);
        await eventually('a new link', () => link.status().state === 'open' && link.status().linkId !== first, 15_000);
      } finally {
        await link.close();
        await proxy.close();
        await quiet.stop();
      }
    });

    it("fails closed on the core's certificate and on a core that does not trust the appliance CA, auditing one failure per outage", async () => {
      const misnamed = Object.assign(await startCore(node, { tls: selfSignedServerCertificate('some other core', ['core.example']) }), { servername: 'core.example' });
      const stranger = await startCore(node, { applianceCaPem: sim.caPem });
      const cases = [
        { core: misnamed, nodeId: 'node-altname', reason: /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/ },
        { core: sim, nodeId: 'node-wrong-ca', caPem: node.caPem, reason: /self.signed|unable to verify|UNABLE_TO_VERIFY/i },
        // The core's link port refuses the certificate in the TLS handshake: the node sees the connection end.
        { core: stranger, nodeId: 'node-untrusted', reason: /ECONNRESET|socket hang up|alert|certificate/i },
      ];
      try {
        for (const c of cases) {
          const { link, log } = openLink(node, c.core, { nodeId: c.nodeId, ...(c.caPem && { caPem: c.caPem }) });
          link.start();
          try {
            await eventually(`${c.nodeId}: three refused attempts`, () => log.lines.filter((l) => l.msg === 'core link: cannot connect').length >= 3);
            for (const line of log.lines.filter((l) => l.msg === 'core link: cannot connect')) assert.match(String(line.reason), c.reason);
            assert.notEqual(link.state, 'open');
            assert.ok(!((await control(c.core, 'GET', '/links')).body.links as any[]).some((l) => l.nodeId === c.nodeId));
          } finally {
            await link.close();
          }
          const failures = (await node.auditRecords()).filter((r) => r.action === 'core-link.connect' && r.outcome === 'failure' && r.details.nodeId === c.nodeId);
          assert.equal(failures.length, 1, `${c.nodeId}: one audit record for the outage`);
        }
      } finally {
        await misnamed.stop();
        await stranger.stop();
      }
    });
  });
}
