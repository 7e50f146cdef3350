/**
 * The OAuth 2.0 authorization server over real HTTPS in a real Nest app, on SQLite and PostgreSQL:
 * code + PKCE, silent re-authorization, the device grant, refresh rotation and reuse detection,
 * revocation, and a disabled principal's refresh token.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { testDatabases } from '@realm/testing';
import { KMS_SCOPE, type Principal } from '../src/index.js';
import { Agent, authorizePath, basic, callbackParams, NATIVE_REDIRECT, type OAuthFixture, openOAuthFixture, pkce, registerClient, WEB_REDIRECT } from './oauth-fixture.js';

for (const database of testDatabases()) {
  describe(`OAuth authorization server on ${database.name}`, () => {
    let t: OAuthFixture;
    let alice: Principal;

    before(async () => {
      t = await openOAuthFixture(database);
      alice = await t.fx.identity.principals.createUser({ userName: 'alice', email: 'alice@realm.test' });
    });
    after(async () => {
      await t.close();
    });

    /** Signs in (appliance session), authorizes with PKCE and returns the code's redirect. */
    async function authorize(agent: Agent, clientId: string, challenge: string) {
      const { final, hops } = await agent.follow(authorizePath(clientId, { code_challenge: challenge, code_challenge_method: 'S256' }));
      assert.equal(final.status, 303, final.body);
      assert.ok(final.location?.startsWith(`${NATIVE_REDIRECT}?`), final.location);
      return { params: callbackParams(final.location), hops };
    }

    async function exchange(agent: Agent, form: Record<string, string>, headers?: Record<string, string>) {
      return agent.request('POST', '/oauth/token', { form, ...(headers && { headers }) });
    }

    it('code + PKCE S256: the token endpoint returns an access token TokenService accepts for the KMS', async () => {
      const { client } = await registerClient(t, { name: 'desktop' });
      const browser = new Agent(t);
      await browser.signIn(alice);
      const { verifier, challenge } = pkce();
      const { params, hops } = await authorize(browser, client.clientId, challenge);
      assert.ok(hops.some((h) => h.startsWith('/oauth/interaction/')), 'the first authorization passes the login step');
      assert.equal(params.get('iss'), t.fx.identity.tokens.issuerUrl, 'RFC 9207 iss');
      const code = params.get('code')!;

      const app = new Agent(t);
      const reply = await exchange(app, { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: client.clientId });
      assert.equal(reply.status, 200, reply.body);
      const body = reply.json();
      assert.equal(body['token_type'], 'Bearer');
      assert.equal(body['scope'], KMS_SCOPE);
      assert.equal(body['expires_in'], t.fx.config.identity.accessTokenLifetimeSeconds);
      assert.equal(typeof body['refresh_token'], 'string');
      assert.equal(body['id_token'], undefined);
      const verified = await t.fx.identity.tokens.verifyAccessToken(body['access_token'], { audience: 'kms' });
      assert.equal(verified.principal.id, alice.id);
      assert.equal(verified.clientId, client.clientId);
      assert.equal(verified.claims.cep, alice.credentialEpoch);

      const audit = (await t.fx.auditBodies()).join('\n');
      assert.match(audit, /"action":"identity\.oauth\.token","actor":\{[^}]*\},"at":"[^"]+","details":\{"clientId":"[^"]+","grant":"[0-9a-f]{16}","grantType":"authorization_code","jti":"[^"]+","refresh":"issued"\}/);
      assert.match(audit, /"action":"identity\.token\.issue"/);
      for (const secret of [code, body['access_token'] as string, body['refresh_token'] as string, verifier]) assert.ok(!audit.includes(secret), 'no code, token or verifier in the audit log');
    });

    it('a second authorization with a live session comes straight back with a code (no page, no interaction)', async () => {
      const { client } = await registerClient(t, { name: 'silent' });
      const browser = new Agent(t);
      await browser.signIn(alice);
      await authorize(browser, client.clientId, pkce().challenge);

      const { verifier, challenge } = pkce();
      const reply = await browser.get(authorizePath(client.clientId, { code_challenge: challenge, code_challenge_method: 'S256' }));
      assert.equal(reply.status, 303);
      assert.ok(reply.location?.startsWith(`${NATIVE_REDIRECT}?`), `redirected straight to the client, got ${reply.location}`);
      const code = callbackParams(reply.location).get('code')!;
      const tokens = await exchange(new Agent(t), { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: client.clientId });
      assert.equal(tokens.status, 200, tokens.body);

      // Without the appliance session (logged out, timed out) it is not silent any more: SAML login.
      browser.dropCookie('__Host-realm_session');
      const { final } = await browser.follow(authorizePath(client.clientId, { code_challenge: challenge, code_challenge_method: 'S256' }));
      assert.equal(final.status, 303);
      assert.match(final.location ?? '', /^\/saml\/login\?returnTo=%2Foauth%2Finteraction%2F[A-Za-z0-9_-]+$/);
      // prompt=none answers login_required to the client instead.
      const none = await browser.follow(authorizePath(client.clientId, { code_challenge: challenge, code_challenge_method: 'S256', prompt: 'none' }));
      assert.equal(callbackParams(none.final.location).get('error'), 'login_required');
    });

    it('the device grant (RFC 8628): the user approves with their session, the device polls and gets a token', async () => {
      const { client } = await registerClient(t, { name: 'cli', redirectUris: [], grants: ['device_code', 'refresh_token'] });
      const device = new Agent(t);
      const started = await device.request('POST', '/oauth/device/auth', { form: { client_id: client.clientId, scope: KMS_SCOPE } });
      assert.equal(started.status, 200, started.body);
      const { device_code: deviceCode, user_code: userCode, verification_uri_complete: complete } = started.json() as Record<string, string>;
      const poll = () => device.request('POST', '/oauth/token', { form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode!, client_id: client.clientId } });
      assert.equal((await poll()).json()['error'], 'authorization_pending');

      const browser = new Agent(t);
      await browser.signIn(alice);
      // verification_uri_complete answers with oidc-provider's auto-submitting form: its one inline
      // script runs only because the page's CSP names its hash.
      const autoSubmit = await browser.get(new URL(complete!).pathname + new URL(complete!).search);
      assert.equal(autoSubmit.status, 200);
      const script = /<script>([\s\S]*?)<\/script>/.exec(autoSubmit.body)?.[1];
      assert.ok(script !== undefined);
      const csp = String(autoSubmit.headers['content-security-policy']);
      assert.match(csp, new RegExp(`script-src 'sha256-${createHash('sha256').update(script).digest('base64').replace(/[+/]/g, '\\$&')}'(;|$)`));
      assert.ok(!csp.includes('unsafe-inline'));
      assert.match(csp, /form-action 'self'(;|$)/);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(autoSubmit.body)?.[1];
      assert.ok(xsrf, 'the form carries its CSRF token');
      const page = await browser.request('POST', '/oauth/device', { form: { xsrf, user_code: userCode! } });
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, new RegExp(userCode!), 'the user checks the code before allowing');
      assert.ok(!page.body.includes('<script'), 'no script on the confirm page');
      assert.match(String(page.headers['content-security-policy']), /script-src 'none'/);
      const confirmed = await browser.request('POST', '/oauth/device', { form: { xsrf, user_code: userCode!, confirm: 'yes' } });
      assert.equal(confirmed.status, 303, confirmed.body);
      const { final } = await browser.follow(confirmed.location!);
      assert.equal(final.status, 200);
      assert.match(final.body, /Device signed in/);

      const granted = await poll();
      assert.equal(granted.status, 200, granted.body);
      const verified = await t.fx.identity.tokens.verifyAccessToken(granted.json()['access_token'], { audience: 'kms' });
      assert.equal(verified.principal.id, alice.id);
      assert.equal(typeof granted.json()['refresh_token'], 'string');
      assert.equal((await poll()).json()['error'], 'invalid_grant', 'a device code is used once');
    });

    it('refresh tokens rotate, and reusing a rotated one revokes the whole family', async () => {
      const { client } = await registerClient(t, { name: 'rotating' });
      const browser = new Agent(t);
      await browser.signIn(alice);
      const { verifier, challenge } = pkce();
      const code = (await authorize(browser, client.clientId, challenge)).params.get('code')!;
      const app = new Agent(t);
      const first = (await exchange(app, { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: client.clientId })).json();
      const rt1 = first['refresh_token'] as string;

      const second = await exchange(app, { grant_type: 'refresh_token', refresh_token: rt1, client_id: client.clientId });
      assert.equal(second.status, 200, second.body);
      const rt2 = second.json()['refresh_token'] as string;
      assert.notEqual(rt2, rt1, 'each use issues a new refresh token');
      assert.equal((await t.fx.identity.tokens.verifyAccessToken(second.json()['access_token'], { audience: 'kms' })).principal.id, alice.id);

      const replay = await exchange(app, { grant_type: 'refresh_token', refresh_token: rt1, client_id: client.clientId });
      assert.equal(replay.status, 400);
      assert.equal(replay.json()['error'], 'invalid_grant');
      const afterReplay = await exchange(app, { grant_type: 'refresh_token', refresh_token: rt2, client_id: client.clientId });
      assert.equal(afterReplay.json()['error'], 'invalid_grant', 'the newest token of the family died with it');
      assert.match((await t.fx.auditBodies()).join('\n'), /"action":"identity\.oauth\.grant\.revoke".*"reason":"a code or refresh token was used twice/);
    });

    it('form_post: the auto-submit page runs only its own hashed script and may post only to the client', async () => {
      const { client } = await t.oauth.clients.create({ name: 'form-post', redirectUris: [WEB_REDIRECT], grants: ['authorization_code'] });
      const browser = new Agent(t);
      await browser.signIn(alice);
      const { final } = await browser.follow(authorizePath(client.clientId, { redirect_uri: WEB_REDIRECT, response_mode: 'form_post', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
      assert.equal(final.status, 200, final.body);
      assert.match(final.body, new RegExp(`<form method="post" action="${WEB_REDIRECT}">`));
      assert.match(final.body, /name="code" value="[A-Za-z0-9_-]{43}"/);
      const script = /<script>([\s\S]*?)<\/script>/.exec(final.body)![1]!;
      const csp = String(final.headers['content-security-policy']);
      assert.ok(csp.includes(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}';`), csp);
      assert.match(csp, /form-action 'self' https:\/\/app\.example\.com(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
    });

    it('a confidential client authenticates with its secret (stored as a digest only)', async () => {
      const { client, clientSecret } = await t.oauth.clients.create({ name: 'web-app', redirectUris: [WEB_REDIRECT], grants: ['authorization_code'] });
      assert.ok(clientSecret && clientSecret.length >= 43);
      const rows = await t.fx.db.query<{ secret_sha256: string }[]>('SELECT secret_sha256 FROM identity_oauth_clients WHERE client_id = ' + (t.fx.db.driver === 'postgres' ? '$1' : '?'), [client.clientId]);
      assert.equal(rows[0]!.secret_sha256.length, 64);
      assert.ok(!rows[0]!.secret_sha256.includes(clientSecret));
      const browser = new Agent(t);
      await browser.signIn(alice);
      const { verifier, challenge } = pkce();
      const { final } = await browser.follow(authorizePath(client.clientId, { redirect_uri: WEB_REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' }));
      const code = callbackParams(final.location).get('code')!;
      const reply = await exchange(new Agent(t), { grant_type: 'authorization_code', code, redirect_uri: WEB_REDIRECT, code_verifier: verifier }, basic(client.clientId, clientSecret));
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.json()['refresh_token'], undefined, 'no refresh_token grant, no refresh token');
    });

    it('revocation (RFC 7009): a revoked refresh token is refused', async () => {
      const { client } = await registerClient(t, { name: 'revoking' });
      const browser = new Agent(t);
      await browser.signIn(alice);
      const { verifier, challenge } = pkce();
      const code = (await authorize(browser, client.clientId, challenge)).params.get('code')!;
      const app = new Agent(t);
      const rt = (await exchange(app, { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: client.clientId })).json()['refresh_token'] as string;
      const revoked = await app.request('POST', '/oauth/token/revocation', { form: { token: rt, token_type_hint: 'refresh_token', client_id: client.clientId } });
      assert.equal(revoked.status, 200, revoked.body);
      const refused = await exchange(app, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.clientId });
      assert.equal(refused.status, 400);
      assert.equal(refused.json()['error'], 'invalid_grant');
      assert.match((await t.fx.auditBodies()).join('\n'), /"action":"identity\.oauth\.revoke".*"revoked":"refresh_token"/);
    });

    it("a disabled principal's refresh token stops working, and the refusal is audited", async () => {
      const bob = await t.fx.identity.principals.createUser({ userName: 'bob' });
      const { client } = await registerClient(t, { name: 'bobs-app' });
      const browser = new Agent(t);
      await browser.signIn(bob);
      const { verifier, challenge } = pkce();
      const code = (await authorize(browser, client.clientId, challenge)).params.get('code')!;
      const app = new Agent(t);
      const rt = (await exchange(app, { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: client.clientId })).json()['refresh_token'] as string;
      await t.fx.identity.principals.disable(bob.id);
      const refused = await exchange(app, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.clientId });
      assert.equal(refused.status, 400);
      assert.equal(refused.json()['error'], 'invalid_grant');
      assert.match((await t.fx.auditBodies()).join('\n'), /"action":"identity\.oauth\.token",("actor":\{[^}]*\},)?"at":"[^"]+","details":\{"clientId":"[^"]+","grantType":"refresh_token"\},"outcome":"denied","reason":"the principal is disabled"/);
      // Re-enabling does not bring the family back: the credential epoch moved on.
      await t.fx.identity.principals.enable(bob.id);
      assert.equal((await exchange(app, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.clientId })).json()['error'], 'invalid_grant');
    });

    it('publishes RFC 8414 metadata: S256 only, code only, no registration, and the keys that verify its tokens', async () => {
      const agent = new Agent(t);
      const reply = await agent.get('/.well-known/oauth-authorization-server');
      assert.equal(reply.status, 200, reply.body);
      const metadata = reply.json();
      assert.equal(metadata['issuer'], t.fx.identity.tokens.issuerUrl);
      assert.deepEqual(metadata['code_challenge_methods_supported'], ['S256']);
      assert.deepEqual(metadata['response_types_supported'], ['code']);
      assert.equal(metadata['registration_endpoint'], undefined);
      assert.equal(metadata['token_endpoint'], `${t.base}/oauth/token`);
      assert.ok((metadata['grant_types_supported'] as string[]).includes('urn:ietf:params:oauth:grant-type:device_code'));
      assert.ok(!(metadata['grant_types_supported'] as string[]).includes('implicit'));
      const jwks = await agent.get(new URL(metadata['jwks_uri'] as string).pathname);
      assert.deepEqual(JSON.parse(jwks.body), await t.fx.identity.tokens.jwks());
    });

    it('purges expired artifacts', async () => {
      t.fx.clock.now += (t.fx.config.identity.oauth.refreshTokenLifetimeSeconds + 60) * 1000;
      try {
        assert.ok((await t.oauth.purgeExpired()) > 0);
        const rows = await t.fx.db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM identity_oauth_artifacts');
        assert.equal(Number(rows[0]!.n), 0);
      } finally {
        t.fx.clock.now -= (t.fx.config.identity.oauth.refreshTokenLifetimeSeconds + 60) * 1000;
      }
    });
  });
}
