/**
 * SCIM 2.0 (RFC 7643/7644) over real HTTPS on every database: a Nest app made by the platform's
 * createHttpsApp with ScimModule, driven by node:https trusting the development certificate.
 * Users map to principals (deactivation revokes their access tokens), groups grant roles through
 * identity.saml.roles.*, and every bad request is a SCIM error that changes nothing and is audited.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createHttpsApp, createLogger, defaultHttpErrorStatus, HTTP_ERROR_STATUS, loadTlsMaterial, MetricsModule } from '@realm/http';
import { testDatabases } from '@realm/testing';
import type { Server as HttpsServer } from 'node:https';
import { openScim, type Scim, ScimModule } from '../src/index.js';
import { type IdentityFixture, identityError, openIdentityFixture } from './helpers.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

type Resource = Record<string, unknown> & { id: string };

for (const database of testDatabases()) {
  describe(`SCIM over HTTPS on ${database.name}`, () => {
    let fx: IdentityFixture;
    let scim: Scim;
    let app: NestExpressApplication<HttpsServer>;
    let ca: string;
    let port: number;
    let token: string;

    before(async () => {
      fx = await openIdentityFixture(database, { initializeServiceCa: false });
      scim = openScim(fx.db, fx.audit, fx.identity.principals, fx.config, { clock: () => fx.clock.now });
      @Module({ imports: [MetricsModule, ScimModule.forRoot(scim)], providers: [{ provide: HTTP_ERROR_STATUS, useValue: defaultHttpErrorStatus }] })
      class ScimTestModule {}
      const logger = createLogger(fx.config, { name: 'scim-test' });
      const tls = await loadTlsMaterial(fx.config, logger);
      ca = tls.cert;
      app = await createHttpsApp(ScimTestModule, fx.config, logger, tls);
      await app.listen(0, '127.0.0.1');
      port = (app.getHttpServer().address() as AddressInfo).port;
      token = (await scim.tokens.create('entra-provisioning')).token;
    });
    after(async () => {
      await app?.close();
      await fx?.close();
    });

    function send(method: string, path: string, options: { body?: unknown; raw?: string | Buffer; contentType?: string; authorization?: string | null } = {}): Promise<Answer> {
      const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      const headers: Record<string, string> = { accept: 'application/scim+json' };
      if (options.authorization !== null) headers['authorization'] = options.authorization ?? `Bearer ${token}`;
      if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/scim+json';
      return new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, ca, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) });
          });
        });
        req.on('error', reject);
        req.end(payload);
      });
    }

    /** A SCIM error (RFC 7644 §3.12): status as a string, the scimType, a detail naming `field`. */
    function assertScimError(answer: Answer, status: number, scimType: string | undefined, field?: RegExp): void {
      assert.equal(answer.status, status, answer.text);
      assert.match(String(answer.headers['content-type']), /^application\/scim\+json/);
      assert.deepEqual(answer.body['schemas'], [ERROR]);
      assert.equal(answer.body['status'], String(status));
      assert.equal(answer.body['scimType'], scimType);
      assert.equal(typeof answer.body['detail'], 'string');
      if (field) assert.match(String(answer.body['detail']), field);
      assert.ok(!/\bat .+:\d+:\d+/.test(answer.text), 'no stack frame in the body');
    }

    async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<Resource> {
      const answer = await send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName, ...extra } });
      assert.equal(answer.status, 201, answer.text);
      return answer.body as Resource;
    }

    /** Everything SCIM and the principals hold, to show that a refused request changed nothing. */
    async function state(): Promise<string> {
      const tables = ['identity_principals', 'identity_scim_users', 'identity_scim_groups', 'identity_scim_group_members'];
      const rows = await Promise.all(tables.map((t) => fx.db.query<unknown[]>(`SELECT * FROM ${t} ORDER BY 1`)));
      return JSON.stringify(rows);
    }

    async function auditOf(action: string): Promise<Record<string, unknown>[]> {
      return (await fx.auditBodies()).map((b) => JSON.parse(b) as Record<string, unknown>).filter((r) => r['action'] === action);
    }

    it('refuses requests without a SCIM token, with a KMS access token, or with a revoked token (401, RFC 6750), and audits why', async () => {
      const none = await send('GET', '/scim/v2/Users', { authorization: null });
      assertScimError(none, 401, undefined);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="scim"');

      const alice = await fx.identity.principals.createUser({ userName: 'kms-user' });
      const { accessToken } = await fx.identity.tokens.issueAccessToken(alice.id, { audience: 'kms', clientId: 'test' });
      const kmsToken = await send('GET', '/scim/v2/Users', { authorization: `Bearer ${accessToken}` });
      assertScimError(kmsToken, 401, undefined);
      assert.equal(kmsToken.headers['www-authenticate'], 'Bearer realm="scim", error="invalid_token"');
      // And the other way round: the KMS refuses a SCIM token.
      await assert.rejects(fx.identity.tokens.verifyAccessToken(token, { audience: 'kms' }), identityError('IDENTITY_TOKEN_INVALID'));

      const forged = `${token.slice(0, -4)}AAAA`;
      assertScimError(await send('GET', '/scim/v2/Users', { authorization: `Bearer ${forged}` }), 401, undefined);
      assertScimError(await send('GET', '/scim/v2/Users', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401, undefined);

      fx.clock.now += 1000;
      const second = await scim.tokens.create('okta');
      assert.equal((await send('GET', '/scim/v2/Users', { authorization: `Bearer ${second.token}` })).status, 200);
      await scim.tokens.revoke(second.id);
      assertScimError(await send('GET', '/scim/v2/Users', { authorization: `Bearer ${second.token}` }), 401, undefined);
      assert.deepEqual(
        (await scim.tokens.list()).map((t) => [t.name, t.revokedAt !== null]),
        [
          ['entra-provisioning', false],
          ['okta', true],
        ],
      );

      const reasons = (await auditOf('identity.scim.refused')).map((r) => r['reason']);
      for (const reason of ['no Authorization header', 'a JWT (KMS access tokens are not SCIM credentials)', 'wrong secret for the token id', 'not a Bearer credential', 'revoked token']) {
        assert.ok(reasons.includes(reason), `a refusal audited with the reason "${reason}": ${JSON.stringify(reasons)}`);
      }
      const everything = (await fx.auditBodies()).join('\n');
      for (const secret of [token, second.token, accessToken, forged]) assert.equal(everything.includes(secret), false, 'no token in the audit log');
      assert.equal((await auditOf('identity.scim.token.create')).length, 2);
      assert.equal((await auditOf('identity.scim.token.revoke')).length, 1);
    });

    it('serves ServiceProviderConfig, ResourceTypes and Schemas as application/scim+json', async () => {
      const config = await send('GET', '/scim/v2/ServiceProviderConfig');
      assert.equal(config.status, 200);
      assert.match(String(config.headers['content-type']), /^application\/scim\+json/);
      assert.deepEqual(config.body['patch'], { supported: true });
      assert.deepEqual(config.body['filter'], { supported: true, maxResults: 200 });
      const types = await send('GET', '/scim/v2/ResourceTypes');
      assert.deepEqual((types.body['Resources'] as { id: string }[]).map((t) => t.id), ['User', 'Group']);
      assert.equal((await send('GET', '/scim/v2/ResourceTypes/Group')).body['schema'], GROUP);
      const schemas = await send('GET', '/scim/v2/Schemas');
      assert.deepEqual((schemas.body['Resources'] as { id: string }[]).map((s) => s.id), [USER, GROUP]);
      assert.equal((await send('GET', `/scim/v2/Schemas/${USER}`)).body['name'], 'User');
      assertScimError(await send('GET', '/scim/v2/Bulk'), 404, undefined);
      assertScimError(await send('GET', '/scim/v2/Schemas/urn:nope'), 404, undefined);
    });

    it('creates, reads, filters, pages, replaces and deletes users', async () => {
      const created = await send('POST', '/scim/v2/Users', {
        body: {
          schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
          UserName: 'Grace.Hopper@Realm.test',
          externalId: 'aad-0001',
          name: { givenName: 'Grace', familyName: 'Hopper' },
          displayName: 'Grace Hopper',
          emails: [
            { value: 'grace@home.test', type: 'home' },
            { value: 'grace.hopper@realm.test', type: 'work', primary: true },
          ],
          active: true,
          title: 'Rear Admiral',
          id: 'user:00000000-0000-0000-0000-000000000000',
          'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Navy' },
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.match(String(created.headers['content-type']), /^application\/scim\+json/);
      const grace = created.body as Resource;
      assert.match(grace.id, /^user:[0-9a-f-]{36}$/);
      assert.notEqual(grace.id, 'user:00000000-0000-0000-0000-000000000000', 'id is read-only');
      assert.equal(created.headers['location'], `${fx.config.identity.issuer}/scim/v2/Users/${grace.id}`);
      assert.equal(grace['userName'], 'grace.hopper@realm.test');
      assert.equal(grace['externalId'], 'aad-0001');
      assert.deepEqual(grace['name'], { givenName: 'Grace', familyName: 'Hopper' });
      assert.deepEqual(grace['emails'], [{ value: 'grace.hopper@realm.test', type: 'work', primary: true }]);
      assert.equal(grace['active'], true);
      assert.equal(grace['title'], undefined);
      const principal = await fx.identity.principals.get(grace.id);
      assert.equal(principal.email, 'grace.hopper@realm.test');
      assert.deepEqual(principal.roles, ['user'], "identity.saml.roles.user is '*': everyone is a user");

      assert.deepEqual((await send('GET', `/scim/v2/Users/${grace.id}`)).body, grace);
      const filtered = await send('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName eq "GRACE.HOPPER@realm.test"')}`);
      assert.equal(filtered.body['totalResults'], 1);
      assert.deepEqual((filtered.body['Resources'] as Resource[])[0], grace);
      const none = await send('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName eq "nobody@realm.test"')}`);
      assert.deepEqual([none.body['totalResults'], none.body['Resources']], [0, []]);

      const names = ['page-a', 'page-b', 'page-c'];
      for (const n of names) await createUser(n);
      const all = await send('GET', '/scim/v2/Users');
      const total = all.body['totalResults'] as number;
      const everyone = (all.body['Resources'] as Resource[]).map((r) => r['userName']);
      assert.equal(everyone.length, total);
      const page = await send('GET', '/scim/v2/Users?startIndex=2&count=2&attributes=userName');
      assert.deepEqual([page.body['totalResults'], page.body['startIndex'], page.body['itemsPerPage']], [total, 2, 2]);
      assert.deepEqual((page.body['Resources'] as Resource[]).map((r) => r['userName']), everyone.slice(1, 3));
      assert.deepEqual(Object.keys((page.body['Resources'] as Resource[])[0]!).sort(), ['id', 'schemas', 'userName']);
      const countOnly = await send('GET', '/scim/v2/Users?count=0');
      assert.deepEqual([countOnly.body['totalResults'], countOnly.body['Resources']], [total, []]);

      const replaced = await send('PUT', `/scim/v2/Users/${grace.id}`, {
        body: { schemas: [USER], userName: 'admiral.hopper@realm.test', displayName: 'Admiral Hopper', emails: [{ value: 'admiral@realm.test', primary: true }], meta: { version: 'ignored' } },
      });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(replaced.body['userName'], 'admiral.hopper@realm.test');
      assert.equal(replaced.body['externalId'], undefined, 'PUT clears what it does not send');
      assert.equal(replaced.body['name'], undefined);
      assert.equal(replaced.body['active'], true, 'a PUT without active leaves the status');
      assert.equal((await fx.identity.principals.get(grace.id)).name, 'admiral.hopper@realm.test');
      assert.equal((await fx.identity.principals.get(grace.id)).credentialEpoch, principal.credentialEpoch, 'a rename revokes nothing');

      const deleted = await send('DELETE', `/scim/v2/Users/${grace.id}`);
      assert.equal(deleted.status, 204);
      assert.equal((await fx.identity.principals.get(grace.id)).status, 'deleted');
      assertScimError(await send('GET', `/scim/v2/Users/${grace.id}`), 404, undefined);
      assertScimError(await send('DELETE', `/scim/v2/Users/${grace.id}`), 404, undefined);
      // The name is free again, for a new user with a new id.
      const again = await createUser('admiral.hopper@realm.test');
      assert.notEqual(again.id, grace.id);

      for (const action of ['identity.scim.user.create', 'identity.scim.user.replace', 'identity.scim.user.delete']) {
        assert.ok((await auditOf(action)).some((r) => (r['resources'] as string[]).includes(grace.id)), `${action} audited`);
      }
    });

    it('patches users (RFC 7644 §3.5.2); active:false disables the principal and its access tokens are refused', async () => {
      const ada = await createUser('ada@realm.test', { emails: [{ value: 'ada@realm.test', type: 'work', primary: true }] });
      const { accessToken } = await fx.identity.tokens.issueAccessToken(ada.id, { audience: 'kms', clientId: 'test' });
      assert.equal((await fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' })).principal.id, ada.id);

      const renamed = await send('PATCH', `/scim/v2/Users/${ada.id}`, {
        body: {
          schemas: [PATCH],
          Operations: [
            { op: 'Replace', path: 'displayName', value: 'Ada Lovelace' },
            { op: 'add', path: 'name.givenName', value: 'Ada' },
            { op: 'replace', path: 'emails[type eq "work"].value', value: 'countess@realm.test' },
            { op: 'replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Analytical Engines' },
            { op: 'replace', path: 'title', value: 'Countess' },
          ],
        },
      });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.body['displayName'], 'Ada Lovelace');
      assert.deepEqual(renamed.body['name'], { givenName: 'Ada' });
      assert.deepEqual(renamed.body['emails'], [{ value: 'countess@realm.test', type: 'work', primary: true }]);
      assert.equal((await fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' })).principal.id, ada.id, 'profile changes revoke nothing');

      const off = await send('PATCH', `/scim/v2/Users/${ada.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] } });
      assert.equal(off.status, 200, off.text);
      assert.equal(off.body['active'], false);
      assert.equal((await fx.identity.principals.get(ada.id)).status, 'disabled');
      await assert.rejects(fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' }), identityError('IDENTITY_PRINCIPAL_DISABLED'));

      const on = await send('PATCH', `/scim/v2/Users/${ada.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: true }] } });
      assert.equal(on.status, 200, on.text);
      assert.equal((await fx.identity.principals.get(ada.id)).status, 'active');
      await assert.rejects(fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' }), identityError('IDENTITY_TOKEN_REVOKED'), 'a token from before the deactivation stays dead');

      // A user an administrator disabled is not re-activated by the IdP.
      await fx.identity.principals.disable(ada.id);
      const before = await state();
      assertScimError(await send('PATCH', `/scim/v2/Users/${ada.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: true }] } }), 400, 'mutability', /active/);
      assert.equal(await state(), before);

      const removed = await send('PATCH', `/scim/v2/Users/${ada.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'remove', path: 'emails' }, { op: 'remove', path: 'displayName' }] } });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.body['emails'], undefined);
      assert.equal(removed.body['displayName'], undefined);
      assert.equal((await fx.identity.principals.get(ada.id)).email, null);
      assert.ok((await auditOf('identity.scim.user.patch')).length >= 3);
    });

    it('groups grant roles by displayName (identity.saml.roles.*), recomputed when memberships change, and only when they differ', async () => {
      const [ann, bob] = [await createUser('ann@realm.test'), await createUser('bob@realm.test')];
      const annToken = (await fx.identity.tokens.issueAccessToken(ann.id, { audience: 'kms', clientId: 'test' })).accessToken;
      const roles = async (user: Resource) => [...(await fx.identity.principals.get(user.id)).roles];

      const created = await send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], displayName: 'realm-admins', externalId: 'g-1', members: [{ value: ann.id, type: 'User' }] } });
      assert.equal(created.status, 201, created.text);
      const admins = created.body as Resource;
      assert.deepEqual(admins['members'], [{ value: ann.id, display: 'ann@realm.test', type: 'User', $ref: `${fx.config.identity.issuer}/scim/v2/Users/${ann.id}` }]);
      assert.deepEqual(await roles(ann), ['realm-admin', 'user']);
      assert.deepEqual(await roles(bob), ['user']);
      await assert.rejects(fx.identity.tokens.verifyAccessToken(annToken, { audience: 'kms' }), identityError('IDENTITY_TOKEN_REVOKED'), 'a role change revokes tokens');
      assert.deepEqual(((await send('GET', `/scim/v2/Users/${ann.id}`)).body['groups'] as { display: string }[]).map((g) => g.display), ['realm-admins']);

      // A group no role names changes no role, and so bumps no epoch.
      const bobEpoch = (await fx.identity.principals.get(bob.id)).credentialEpoch;
      const engineers = (await send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], displayName: 'engineering', members: [{ value: bob.id }] } })).body as Resource;
      assert.equal((await fx.identity.principals.get(bob.id)).credentialEpoch, bobEpoch);

      const added = await send('PATCH', `/scim/v2/Groups/${admins.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: bob.id }] }] } });
      assert.equal(added.status, 200, added.text);
      assert.deepEqual(await roles(bob), ['realm-admin', 'user']);
      const removed = await send('PATCH', `/scim/v2/Groups/${admins.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ann.id}"]` }] } });
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual(await roles(ann), ['user']);
      assert.deepEqual((removed.body['members'] as { value: string }[]).map((m) => m.value), [bob.id]);

      const byName = await send('GET', `/scim/v2/Groups?filter=${encodeURIComponent('displayName eq "realm-admins"')}&excludedAttributes=members`);
      assert.equal(byName.body['totalResults'], 1);
      assert.deepEqual(Object.keys((byName.body['Resources'] as Resource[])[0]!).sort(), ['displayName', 'externalId', 'id', 'meta', 'schemas']);

      // Renaming the group moves its members from one role to another.
      const renamed = await send('PUT', `/scim/v2/Groups/${admins.id}`, { body: { schemas: [GROUP], displayName: 'auditors', members: [{ value: bob.id }] } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.deepEqual(await roles(bob), ['auditor', 'user']);

      assertScimError(await send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], displayName: 'engineering' } }), 409, 'uniqueness', /displayName/);
      assertScimError(await send('PATCH', `/scim/v2/Groups/${engineers.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'auditors' }] } }), 409, 'uniqueness', /displayName/);

      assert.equal((await send('DELETE', `/scim/v2/Groups/${admins.id}`)).status, 204);
      assert.deepEqual(await roles(bob), ['user']);
      assertScimError(await send('GET', `/scim/v2/Groups/${admins.id}`), 404, undefined);
      for (const action of ['identity.scim.group.create', 'identity.scim.group.patch', 'identity.scim.group.replace', 'identity.scim.group.delete']) {
        assert.ok((await auditOf(action)).length > 0, `${action} audited`);
      }
    });

    it('refuses bad input with a SCIM error naming the field, changes nothing, and audits the refusal', async () => {
      const carol = await createUser('carol@realm.test');
      const group = (await send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], displayName: 'bad-input-group' } })).body as Resource;
      const refusedBefore = (await auditOf('identity.scim.refused')).length;
      const before = await state();
      const cases: [string, Promise<Answer>, number, string | undefined, RegExp?][] = [
        ['invalid JSON (scim+json)', send('POST', '/scim/v2/Users', { raw: '{"schemas": [' }), 400, 'invalidSyntax', /JSON/],
        ['invalid JSON (json)', send('POST', '/scim/v2/Users', { raw: '{"schemas": [', contentType: 'application/json' }), 400, 'invalidSyntax', /JSON/],
        ['not UTF-8', send('POST', '/scim/v2/Users', { raw: Buffer.from([0x7b, 0xff, 0x7d]) }), 400, 'invalidSyntax', /UTF-8/],
        ['oversized body (scim+json)', send('POST', '/scim/v2/Users', { raw: `{"x":"${'a'.repeat(fx.config.http.bodyLimitBytes)}"}` }), 413, undefined, /larger/],
        ['oversized body (json)', send('POST', '/scim/v2/Users', { raw: `{"x":"${'a'.repeat(fx.config.http.bodyLimitBytes)}"}`, contentType: 'application/json' }), 413, undefined, /larger/],
        ['wrong media type', send('POST', '/scim/v2/Users', { raw: 'userName=x', contentType: 'application/x-www-form-urlencoded' }), 415, undefined, /scim\+json/],
        ['not an object', send('POST', '/scim/v2/Users', { body: [USER] }), 400, 'invalidSyntax', /object/],
        ['no schemas', send('POST', '/scim/v2/Users', { body: { userName: 'x' } }), 400, 'invalidSyntax', /schemas/],
        ['unknown schema', send('POST', '/scim/v2/Users', { body: { schemas: [USER, 'urn:evil'], userName: 'x' } }), 400, 'invalidValue', /schemas/],
        ['no userName', send('POST', '/scim/v2/Users', { body: { schemas: [USER] } }), 400, 'invalidValue', /userName/],
        ['userName a number', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 5 } }), 400, 'invalidValue', /userName/],
        ['userName with a newline', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'a\nb' } }), 400, 'invalidValue', /userName/],
        ['active a string', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', active: 'false' } }), 400, 'invalidValue', /active/],
        ['emails a string', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', emails: [{ value: 7 }] } }), 400, 'invalidValue', /emails\[0\]\.value/],
        ['two primary emails', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', emails: [{ value: 'a@b.c', primary: true }, { value: 'd@e.f', primary: true }] } }), 400, 'invalidValue', /primary/],
        ['bad email', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', emails: [{ value: 'not an email' }] } }), 400, 'invalidValue', /emails/],
        ['unknown attribute', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', isAdmin: true } }), 400, 'invalidSyntax', /isAdmin/i],
        ['unknown name part', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', name: { nick: 'y' } } }), 400, 'invalidSyntax', /name\.nick/],
        ['attribute twice', send('POST', '/scim/v2/Users', { raw: JSON.stringify({ schemas: [USER], userName: 'x' }).replace('}', ',"USERNAME":"y"}') }), 400, 'invalidSyntax', /twice/],
        ['password', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'x', password: 'hunter2' } }), 400, 'mutability', /password/],
        ['duplicate userName', send('POST', '/scim/v2/Users', { body: { schemas: [USER], userName: 'CAROL@realm.test' } }), 409, 'uniqueness', /userName/],
        ['rename onto another user', send('PUT', `/scim/v2/Users/${carol.id}`, { body: { schemas: [USER], userName: 'ann@realm.test' } }), 409, 'uniqueness', /userName/],
        ['filter with co', send('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName co "a"')}`), 400, 'invalidFilter', /operator/],
        ['filter with and', send('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName eq "a" and active eq true')}`), 400, 'invalidFilter'],
        ['filter on another attribute', send('GET', `/scim/v2/Users?filter=${encodeURIComponent('emails eq "a@b.c"')}`), 400, 'invalidFilter', /userName/],
        ['filter not a comparison', send('GET', '/scim/v2/Users?filter=userName'), 400, 'invalidFilter'],
        ['group filter on members', send('GET', `/scim/v2/Groups?filter=${encodeURIComponent('members eq "x"')}`), 400, 'invalidFilter', /displayName/],
        ['startIndex not a number', send('GET', '/scim/v2/Users?startIndex=abc'), 400, 'invalidValue', /startIndex/],
        ['sortBy', send('GET', '/scim/v2/Users?sortBy=userName'), 400, 'invalidValue', /sortBy/],
        ['unknown user', send('GET', '/scim/v2/Users/user:00000000-0000-4000-8000-000000000000'), 404, undefined, /User/],
        ['not a user id', send('PATCH', '/scim/v2/Users/service:indexer', { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] } }), 404, undefined],
        ['patch without Operations', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH] } }), 400, 'invalidSyntax', /Operations/],
        ['patch op unknown', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'move', path: 'active', value: false }] } }), 400, 'invalidValue', /op/],
        ['patch path unknown', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'isAdmin', value: true }] } }), 400, 'invalidSyntax', /isAdmin/i],
        ['patch path malformed', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails[type eq "work"', value: 'x' }] } }), 400, 'invalidPath', /path/],
        ['patch remove without path', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'remove' }] } }), 400, 'noTarget'],
        ['patch active a string', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'False' }] } }), 400, 'invalidValue', /active/],
        ['patch read-only id', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'id', value: 'user:x' }] } }), 400, 'mutability', /id/],
        // All or nothing: the first operation is valid, the second is not.
        ['patch half valid', send('PATCH', `/scim/v2/Users/${carol.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }, { op: 'replace', path: 'userName', value: 7 }] } }), 400, 'invalidValue', /userName/],
        ['group without displayName', send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], members: [] } }), 400, 'invalidValue', /displayName/],
        ['group with an unknown member', send('POST', '/scim/v2/Groups', { body: { schemas: [GROUP], displayName: 'ghosts', members: [{ value: 'user:00000000-0000-4000-8000-000000000000' }] } }), 400, 'invalidValue', /members/],
        ['group with a nested group', send('PATCH', `/scim/v2/Groups/${group.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: carol.id, type: 'Group' }] }] } }), 400, 'invalidValue', /nested/],
        ['group member not an id', send('PATCH', `/scim/v2/Groups/${group.id}`, { body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: 'carol' }] }] } }), 400, 'invalidValue', /members/],
      ];
      for (const [name, pending, status, scimType, field] of cases) {
        const answer = await pending;
        try {
          assertScimError(answer, status, scimType, field);
        } catch (error) {
          throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
        }
      }
      assert.equal(await state(), before, 'no refused request changed anything');
      const refused = (await auditOf('identity.scim.refused')).slice(refusedBefore);
      assert.equal(refused.length, cases.length, 'every refusal is audited');
      assert.ok(refused.every((r) => r['outcome'] === 'denied' && typeof r['reason'] === 'string'));
      assert.ok(!refused.some((r) => JSON.stringify(r).includes('hunter2')), 'a refused password is not recorded');
    });
  });
}
