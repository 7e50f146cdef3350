/** The link identity on every database: issued by the service CA, sealed by the vault, shared by nodes, renewed before expiry. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { testDatabases } from '@realm/testing';
import { linkNodeId, LinkIdentity, linkKeyUri } from '../src/index.js';
import { openKmsNode } from './helpers.js';

const DAY = 86_400_000;

for (const database of testDatabases()) {
  describe(`link identity on ${database.name}`, () => {
    it('is certified by the service CA for clientAuth, kept sealed, shared by every node, and renewed when a third of it is left', async () => {
      const node = await openKmsNode(database);
      const clock = { now: Date.now() };
      try {
        const first = new LinkIdentity(node.db, node.vault, node.identity.serviceCa, { validityDays: 30, clock: () => clock.now });
        const credentials = await first.current();
        const [leafPem, caPem] = credentials.certificateChainPem.split(/(?<=-----END CERTIFICATE-----\n)/);
        const leaf = new X509Certificate(leafPem!);
        assert.ok(leaf.verify(new X509Certificate(caPem!).publicKey), 'signed by the service CA');
        assert.equal(new X509Certificate(caPem!).fingerprint256, new X509Certificate(node.caPem).fingerprint256);
        assert.ok(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'for TLS client authentication');
        assert.match(leaf.subjectAltName ?? '', /URI:.*core-link/);
        assert.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(credentials.privateKeyPem)));

        // Stored: the certificate, and the key sealed by the vault only.
        const rows = await node.db.query<Record<string, unknown>[]>('SELECT * FROM core_link_identities');
        assert.equal(rows.length, 1);
        assert.ok(!JSON.stringify(rows).includes('PRIVATE KEY'));
        const sealed = await node.db.query<{ sealed: Buffer | Uint8Array }[]>(node.db.driver === 'postgres' ? 'SELECT sealed FROM vault_keys WHERE uri = $1' : 'SELECT sealed FROM vault_keys WHERE uri = ?', [linkKeyUri(credentials.id)]);
        assert.equal(sealed.length, 1);
        const der = (await import('node:crypto')).createPrivateKey(credentials.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
        assert.ok(!Buffer.from(sealed[0]!.sealed).includes(der.subarray(-32)), 'the private key is not stored in clear');

        // Another node uses the same identity.
        const other = new LinkIdentity(node.db, node.vault, node.identity.serviceCa, { validityDays: 30, clock: () => clock.now });
        assert.equal((await other.current()).id, credentials.id);
        assert.equal((await first.current()).id, credentials.id, 'not renewed early');

        // Two thirds later both nodes want a new one: exactly one is kept, the loser's certificate is revoked.
        clock.now += 21 * DAY;
        const [a, b] = await Promise.all([first.current(), other.current()]);
        assert.equal(a.id, b.id);
        assert.notEqual(a.id, credentials.id);
        const active = await node.db.query<{ id: string }[]>("SELECT id FROM core_link_identities WHERE state = 'active'");
        assert.deepEqual(active.map((r) => r.id), [a.id]);
        assert.equal(await node.vault.getKey(linkKeyUri(credentials.id)), undefined, 'the retired key is gone from the vault');
        const principal = (await node.identity.principals.findServiceByName('core-link'))!;
        const certificates = await node.identity.serviceCa.certificatesOf(principal.id);
        assert.ok(certificates.filter((c) => !c.revoked).length <= 2 && certificates.some((c) => c.serialNumber === a.serial && !c.revoked));
      } finally {
        await node.close();
      }
    });
  });
}

describe('link node ids', () => {
  it('are the configured id or the host name, with -w<n> per worker process', () => {
    assert.equal(linkNodeId('edge-1'), 'edge-1');
    assert.equal(linkNodeId('edge-1', 2), 'edge-1-w2');
    assert.equal(linkNodeId(undefined, undefined, 'host name.example'), 'host-name.example');
    assert.throws(() => linkNodeId('x'.repeat(126), 12), /coreLink.nodeId/);
  });
});
