/**
 * Principals on every database: users and services, case-insensitive user names, upsert for
 * provisioning, the credential epoch bumped by every change that must revoke tokens, final
 * deletion, and an audit record for every change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDatabases } from '@realm/testing';
import { type IdentityFixture, identityError, openIdentityFixture } from './helpers.js';

for (const database of testDatabases()) {
  describe(`principals on ${database.name}`, () => {
    let fx: IdentityFixture;

    before(async () => {
      fx = await openIdentityFixture(database, { initializeServiceCa: false });
    });
    after(async () => {
      await fx.close();
    });

    it('creates users with stable ids, case-insensitive unique names and known roles only', async () => {
      const erin = await fx.identity.principals.createUser({ userName: 'Erin@Example.COM', email: 'erin@example.com', roles: ['user', 'auditor', 'user'] });
      assert.match(erin.id, /^user:[0-9a-f-]{36}$/);
      assert.equal(erin.kind, 'user');
      assert.equal(erin.name, 'erin@example.com');
      assert.equal(erin.status, 'active');
      assert.deepEqual(erin.roles, ['auditor', 'user']);
      assert.equal(erin.credentialEpoch, 0);
      assert.deepEqual(await fx.identity.principals.get(erin.id), erin);
      assert.deepEqual(await fx.identity.principals.findUserByName('ERIN@example.com'), erin);
      await assert.rejects(fx.identity.principals.createUser({ userName: 'erin@EXAMPLE.com' }), identityError('IDENTITY_PRINCIPAL_EXISTS'));
      await assert.rejects(fx.identity.principals.createUser({ userName: 'frank', roles: ['root' as 'user'] }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.principals.createUser({ userName: ' frank' }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.principals.createUser({ userName: 'frank', email: 'not an email' }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(fx.identity.principals.get('user:missing'), identityError('IDENTITY_PRINCIPAL_NOT_FOUND'));
    });

    it('creates services as service:<name>', async () => {
      const indexer = await fx.identity.principals.createService('indexer', { roles: ['service', 'org-agent'] });
      assert.equal(indexer.id, 'service:indexer');
      assert.deepEqual(indexer.roles, ['org-agent', 'service']);
      await assert.rejects(fx.identity.principals.createService('indexer'), identityError('IDENTITY_PRINCIPAL_EXISTS'));
      await assert.rejects(fx.identity.principals.createService('Bad Name'), identityError('IDENTITY_INVALID_ARGUMENT'));
      assert.deepEqual(await fx.identity.principals.ensureService('indexer'), indexer);
      const bot = await fx.identity.principals.ensureService('bot-1');
      assert.deepEqual(bot.roles, ['service']);
    });

    it('upserts users for provisioning without re-enabling them', async () => {
      const first = await fx.identity.principals.upsertUser({ userName: 'grace', email: 'grace@example.com' });
      assert.equal(first.created, true);
      const same = await fx.identity.principals.upsertUser({ userName: 'Grace' });
      assert.equal(same.created, false);
      assert.deepEqual(same.principal, first.principal);
      const moved = await fx.identity.principals.upsertUser({ userName: 'grace', email: 'grace@corp.example', roles: ['user', 'compliance-officer'] });
      assert.equal(moved.principal.id, first.principal.id);
      assert.equal(moved.principal.email, 'grace@corp.example');
      assert.equal(moved.principal.credentialEpoch, 1);
      await fx.identity.principals.disable(first.principal.id);
      const again = await fx.identity.principals.upsertUser({ userName: 'grace', email: 'grace@example.com' });
      assert.equal(again.principal.status, 'disabled');
    });

    it('bumps the credential epoch on disable, delete and role change, not on enable or no-ops', async () => {
      const heidi = await fx.identity.principals.createUser({ userName: 'heidi' });
      assert.equal((await fx.identity.principals.setRoles(heidi.id, ['user'])).credentialEpoch, 0);
      assert.equal((await fx.identity.principals.setRoles(heidi.id, ['user', 'realm-admin'])).credentialEpoch, 1);
      assert.equal((await fx.identity.principals.disable(heidi.id)).credentialEpoch, 2);
      assert.equal((await fx.identity.principals.disable(heidi.id)).credentialEpoch, 2);
      const enabled = await fx.identity.principals.enable(heidi.id);
      assert.equal(enabled.status, 'active');
      assert.equal(enabled.credentialEpoch, 2);
      assert.ok(enabled.updatedAt >= heidi.updatedAt);
      const deleted = await fx.identity.principals.delete(heidi.id);
      assert.equal(deleted.status, 'deleted');
      assert.equal(deleted.credentialEpoch, 3);
      assert.equal((await fx.identity.principals.delete(heidi.id)).credentialEpoch, 3);
    });

    it('makes deletion final, and frees a deleted user name for a new user with a new id', async () => {
      const ivan = await fx.identity.principals.createUser({ userName: 'ivan' });
      await fx.identity.principals.delete(ivan.id);
      await assert.rejects(fx.identity.principals.enable(ivan.id), identityError('IDENTITY_PRINCIPAL_DELETED'));
      await assert.rejects(fx.identity.principals.setRoles(ivan.id, ['realm-admin']), identityError('IDENTITY_PRINCIPAL_DELETED'));
      assert.equal(await fx.identity.principals.findUserByName('ivan'), undefined);
      const newIvan = await fx.identity.principals.createUser({ userName: 'ivan' });
      assert.notEqual(newIvan.id, ivan.id);
      assert.equal((await fx.identity.principals.get(ivan.id)).status, 'deleted');
      // A service's id is its name, so a deleted service's name stays taken.
      await fx.identity.principals.createService('old-bot');
      await fx.identity.principals.delete('service:old-bot');
      await assert.rejects(fx.identity.principals.createService('old-bot'), identityError('IDENTITY_PRINCIPAL_EXISTS'));
    });

    it('serialises concurrent changes across nodes', async () => {
      const peer = await fx.openPeer();
      const nodeB = { identity: peer };
      const judy = await fx.identity.principals.createUser({ userName: 'judy' });
      const roleSets = [['user'], ['user', 'auditor'], ['auditor'], ['compliance-officer'], ['user', 'realm-admin'], ['auditor', 'realm-admin']] as const;
      await Promise.all(roleSets.map((roles, i) => (i % 2 ? nodeB : fx).identity.principals.setRoles(judy.id, roles)));
      const [racedA, racedB] = await Promise.all([fx.identity.principals.upsertUser({ userName: 'kim' }), nodeB.identity.principals.upsertUser({ userName: 'KIM' })]);
      assert.equal(racedA.principal.id, racedB.principal.id);
      assert.equal([racedA.created, racedB.created].filter(Boolean).length, 1);
      // The six sets are distinct, so each applied set changes the roles, except ['user'] (judy's
      // roles at creation) when it happens to be applied first: 5 or 6 bumps, whatever the order,
      // and fewer would mean a lost update.
      const final = await fx.identity.principals.get(judy.id);
      const bumps = final.credentialEpoch - judy.credentialEpoch;
      assert.ok(bumps === 5 || bumps === 6, `${bumps} epoch bumps`);
    });

    it('audits every change', async () => {
      const bodies = await fx.auditBodies();
      const actions = bodies.map((b) => (JSON.parse(b) as { action: string }).action);
      for (const action of ['create', 'update', 'roles', 'disable', 'enable', 'delete']) assert.ok(actions.includes(`identity.principal.${action}`), action);
      const heidiDisables = bodies.filter((b) => b.includes('"action":"identity.principal.disable"'));
      assert.ok(heidiDisables.length >= 2);
      assert.ok(bodies.every((b) => !b.includes('grace@corp.example')), 'emails are not audited');
    });
  });
}
