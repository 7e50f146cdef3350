/**
 * Appliance browser sessions over real HTTPS on every database: cookie attributes, a new id at
 * every login, CSRF on state-changing requests, logout, idle and absolute timeouts, a disabled
 * principal, only a hash of the id in the database, and any node serving any session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Request } from 'express';
import { testDatabases } from '@realm/testing';
import { SESSION_COOKIE, SessionService } from '../src/index.js';
import { errorCodeOf, openSamlApp, type SamlAppFixture, sessionCookieOf } from './fixtures/saml/saml-app.js';

for (const database of testDatabases()) {
  describe(`appliance sessions on ${database.name}`, () => {
    let app: SamlAppFixture;

    before(async () => {
      app = await openSamlApp(database, { session: { idleTimeoutSeconds: 900, absoluteTimeoutSeconds: 3600 } });
    });
    after(async () => {
      await app?.close();
    });

    /** A SAML login of `nameId`; returns the `name=value` session cookie. */
    async function signIn(nameId: string, cookie?: string): Promise<string> {
      const response = await app.request('GET', '/saml/login');
      const request = await app.idp.parseAuthnRequest(String(response.headers['location']));
      const issued = app.idp.issue(request, { nameId, groups: [] });
      const acs = await app.request('POST', '/saml/acs', { form: { SAMLResponse: issued.samlResponse }, ...(cookie !== undefined && { cookie }) });
      assert.equal(acs.status, 303, acs.body);
      return sessionCookieOf(acs)!;
    }
    const accountStatus = async (cookie: string) => (await app.request('GET', '/account', { cookie })).status;
    const csrfOf = async (cookie: string) => /name="_csrf" value="([^"]+)"/.exec((await app.request('GET', '/account', { cookie })).body)![1]!;
    const fakeRequest = (cookie: string) => ({ headers: { cookie } }) as unknown as Request;

    it('sets a __Host- cookie that is Secure, HttpOnly, SameSite=Lax, Path=/, and stores only a hash of the id', async () => {
      const cookie = await signIn('ann@realm.test');
      const [name, value] = cookie.split('=') as [string, string];
      assert.equal(name, SESSION_COOKIE);
      assert.match(value, /^[A-Za-z0-9_-]{43}$/);
      const rows = await app.fx.db.query<Record<string, unknown>[]>('SELECT * FROM identity_sessions');
      assert.ok(rows.length >= 1);
      assert.ok(!JSON.stringify(rows).includes(value), 'the session id is not in the database');
      assert.ok(!(await app.fx.auditBodies()).join('\n').includes(value), 'the session id is not in the audit log');
      assert.equal(await accountStatus(cookie), 200);
    });

    it('gives a new session id at every login and ends the one the browser had (no fixation)', async () => {
      const planted = await signIn('mallory@realm.test');
      const fresh = await signIn('ben@realm.test', planted);
      assert.notEqual(fresh, planted);
      assert.equal(await accountStatus(planted), 303, 'the previous session is gone');
      const page = await app.request('GET', '/account', { cookie: fresh });
      assert.ok(page.body.includes('ben@realm.test'));
    });

    it('refuses logout without the CSRF token, with a wrong one, or from another origin; logs out with it', async () => {
      const cookie = await signIn('cat@realm.test');
      const csrf = await csrfOf(cookie);
      const logout = (form: Record<string, string>, headers: Record<string, string> = {}) => app.request('POST', '/logout', { cookie, form, headers });

      const missing = await logout({});
      assert.equal(missing.status, 403);
      assert.equal(errorCodeOf(missing), 'IDENTITY_SESSION_CSRF');
      assert.equal(errorCodeOf(await logout({ _csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` })), 'IDENTITY_SESSION_CSRF');
      assert.equal(errorCodeOf(await logout({ _csrf: csrf }, { origin: 'https://evil.example' })), 'IDENTITY_SESSION_CSRF');
      assert.equal(errorCodeOf(await logout({ _csrf: csrf }, { 'sec-fetch-site': 'cross-site' })), 'IDENTITY_SESSION_CSRF');
      // `Origin: null` (a no-referrer page's form) passes only when the browser says same-origin (the browser test shows that case).
      assert.equal(errorCodeOf(await logout({ _csrf: csrf }, { origin: 'null' })), 'IDENTITY_SESSION_CSRF');
      assert.equal(errorCodeOf(await logout({ _csrf: csrf }, { origin: 'null', 'sec-fetch-site': 'same-site' })), 'IDENTITY_SESSION_CSRF');
      assert.equal(await accountStatus(cookie), 200, 'refused logouts leave the session alone');
      assert.equal(errorCodeOf(await app.request('POST', '/logout', { form: { _csrf: csrf } })), 'IDENTITY_SESSION_REQUIRED');

      const done = await logout({ _csrf: csrf }, { origin: app.baseUrl });
      assert.equal(done.status, 200, done.body);
      const cleared = ([] as string[]).concat(done.headers['set-cookie'] ?? []);
      assert.ok(cleared.some((c) => c.startsWith(`${SESSION_COOKIE}=;`) && c.includes('Max-Age=0')));
      assert.equal(await accountStatus(cookie), 303);
      const redirect = await app.request('GET', '/account', { cookie });
      assert.equal(redirect.headers['location'], '/saml/login?returnTo=%2Faccount');
      assert.ok((await app.fx.auditBodies()).some((b) => b.includes('"action":"identity.session.end"') && b.includes('"reason":"logout"')));
    });

    it('ends a session after the idle timeout and after the absolute timeout however active', async () => {
      const idleMs = app.config.identity.session.idleTimeoutSeconds * 1000;
      const absoluteMs = app.config.identity.session.absoluteTimeoutSeconds * 1000;
      const start = app.fx.clock.now;
      try {
        const idle = await signIn('dan@realm.test');
        app.fx.clock.now += idleMs - 1000;
        assert.equal(await accountStatus(idle), 200, 'used just before the idle timeout');
        app.fx.clock.now += idleMs - 1000;
        assert.equal(await accountStatus(idle), 200, 'each use moves the idle deadline');
        app.fx.clock.now += idleMs;
        assert.equal(await accountStatus(idle), 303, 'idle too long');

        const busy = await signIn('eve@realm.test');
        const loginAt = app.fx.clock.now;
        while (app.fx.clock.now + idleMs / 2 < loginAt + absoluteMs) {
          app.fx.clock.now += idleMs / 2;
          assert.equal(await accountStatus(busy), 200);
        }
        app.fx.clock.now = loginAt + absoluteMs;
        assert.equal(await accountStatus(busy), 303, 'the absolute timeout ends even a busy session');
      } finally {
        app.fx.clock.now = start;
      }
    });

    it('stops a session as soon as its principal is disabled, and does not revive it on re-enable', async () => {
      const cookie = await signIn('fay@realm.test');
      const fay = (await app.fx.identity.principals.findUserByName('fay@realm.test'))!;
      await app.fx.identity.principals.disable(fay.id);
      assert.equal(await accountStatus(cookie), 303);
      await app.fx.identity.principals.enable(fay.id);
      assert.equal(await accountStatus(cookie), 303);
    });

    it('serves a session on another node of the same database, and ignores malformed or doubled cookies', async () => {
      const cookie = await signIn('gil@realm.test');
      const node = await app.fx.openNode();
      const sessions = new SessionService(app.config, node.db, node.audit, node.identity.principals, { clock: () => app.fx.clock.now });
      const session = await sessions.current(fakeRequest(cookie));
      assert.ok(session);
      assert.equal(session.principalId, (await app.fx.identity.principals.findUserByName('gil@realm.test'))!.id);
      assert.equal(session.csrfToken, await csrfOf(cookie));
      assert.equal(await sessions.current(fakeRequest(`${cookie}; ${SESSION_COOKIE}=${'A'.repeat(43)}`)), undefined, 'two session cookies: none is trusted');
      assert.equal(await sessions.current(fakeRequest(`${SESSION_COOKIE}=${'A'.repeat(43)}`)), undefined);
      assert.equal(await sessions.current(fakeRequest(`${SESSION_COOKIE}=short`)), undefined);
      assert.equal(await sessions.current(fakeRequest(`realm_session=${cookie.split('=')[1]}`)), undefined, 'only the __Host- cookie counts');
    });
  });
}
