/**
 * The attack corpus against the authorization server, over real HTTPS: each request is refused
 * with its OAuth error, nothing is issued, and the refusal is in the audit log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDatabases } from '@realm/testing';
import type { Principal } from '../src/index.js';
import { Agent, authorizePath, basic, callbackParams, NATIVE_REDIRECT, type OAuthFixture, openOAuthFixture, pkce, registerClient, WEB_REDIRECT } from './oauth-fixture.js';
import { identityError } from './helpers.js';

for (const database of testDatabases()) {
  describe(`OAuth attack corpus on ${database.name}`, () => {
    let t: OAuthFixture;
    let alice: Principal;
    let browser: Agent;
    let clientId: string;
    let webClientId: string;
    let webSecret: string;

    before(async () => {
      t = await openOAuthFixture(database);
      alice = await t.fx.identity.principals.createUser({ userName: 'alice' });
      clientId = (await registerClient(t, { name: 'native' })).client.clientId;
      const web = await t.oauth.clients.create({ name: 'web', redirectUris: [WEB_REDIRECT], grants: ['authorization_code', 'refresh_token'] });
      webClientId = web.client.clientId;
      webSecret = web.clientSecret!;
      browser = new Agent(t);
      await browser.signIn(alice);
    });
    after(async () => {
      await t.close();
    });

    async function lastAudit(action: string): Promise<string> {
      const bodies = (await t.fx.auditBodies()).filter((b) => b.includes(`"action":"${action}"`));
      return bodies.at(-1) ?? '';
    }

    async function codeFor(id: string, redirectUri = NATIVE_REDIRECT) {
      const { verifier, challenge } = pkce();
      const { final } = await browser.follow(authorizePath(id, { redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' }));
      const code = callbackParams(final.location).get('code');
      assert.ok(code, final.location);
      return { code, verifier };
    }

    function token(form: Record<string, string>, headers?: Record<string, string>) {
      return new Agent(t).request('POST', '/oauth/token', { form, ...(headers && { headers }) });
    }

    it('refuses an authorization request without a PKCE challenge', async () => {
      const { final } = await browser.follow(authorizePath(clientId, {}));
      const params = callbackParams(final.location);
      assert.equal(params.get('error'), 'invalid_request');
      assert.equal(params.get('code'), null);
      assert.match(await lastAudit('identity.oauth.authorize'), /"outcome":"denied","reason":"invalid_request: Authorization Server policy requires PKCE/);
    });

    it('refuses the plain PKCE method (and any method but S256)', async () => {
      for (const method of ['plain', 'S512', 's256']) {
        const { final } = await browser.follow(authorizePath(clientId, { code_challenge: 'a'.repeat(43), code_challenge_method: method }));
        const params = callbackParams(final.location);
        assert.equal(params.get('error'), 'invalid_request', method);
        assert.equal(params.get('code'), null);
      }
      assert.match(await lastAudit('identity.oauth.authorize'), /"outcome":"denied","reason":"invalid_request: [^"]*code_challenge_method/);
    });

    it('refuses a code exchanged without its verifier, or with another', async () => {
      const missing = await codeFor(clientId);
      const noVerifier = await token({ grant_type: 'authorization_code', code: missing.code, redirect_uri: NATIVE_REDIRECT, client_id: clientId });
      assert.equal(noVerifier.json()['error'], 'invalid_grant');
      const wrong = await codeFor(clientId);
      const otherVerifier = await token({ grant_type: 'authorization_code', code: wrong.code, redirect_uri: NATIVE_REDIRECT, code_verifier: pkce().verifier, client_id: clientId });
      assert.equal(otherVerifier.status, 400);
      assert.equal(otherVerifier.json()['error'], 'invalid_grant');
      assert.equal(otherVerifier.json()['access_token'], undefined);
    });

    it('refuses redirect URIs that do not match exactly, without redirecting anywhere', async () => {
      const variants = [
        `${WEB_REDIRECT}/`,
        `${WEB_REDIRECT}?next=https://evil.example`,
        'https://evil.example/callback',
        'https://app.example.com.evil.example/callback',
        'https://APP.example.com/callback',
        'http://app.example.com/callback',
        `${WEB_REDIRECT}#frag`,
      ];
      for (const redirectUri of variants) {
        const reply = await browser.get(authorizePath(webClientId, { redirect_uri: redirectUri, code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
        assert.equal(reply.status, 400, `${redirectUri}: ${reply.status} ${reply.location}`);
        assert.equal(reply.location, undefined, `${redirectUri} must not be redirected to`);
        assert.match(String(reply.headers['content-type']), /text\/html/);
      }
      assert.match(await lastAudit('identity.oauth.authorize'), /"outcome":"denied","reason":"invalid_redirect_uri/);
      // The code's redirect_uri must also match at the token endpoint (RFC 6749 §4.1.3).
      const { code, verifier } = await codeFor(webClientId, WEB_REDIRECT);
      const mismatch = await token({ grant_type: 'authorization_code', code, redirect_uri: `${WEB_REDIRECT}/`, code_verifier: verifier }, basic(webClientId, webSecret));
      assert.equal(mismatch.json()['error'], 'invalid_grant');
    });

    it('refuses a reused code and revokes what the first exchange issued (RFC 6749 §4.1.2)', async () => {
      const { code, verifier } = await codeFor(clientId);
      const form = { grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: clientId };
      const first = await token(form);
      assert.equal(first.status, 200, first.body);
      const refreshToken = first.json()['refresh_token'] as string;
      const accessToken = first.json()['access_token'] as string;
      assert.equal((await t.fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' })).principal.id, alice.id);
      const second = await token(form);
      assert.equal(second.status, 400);
      assert.equal(second.json()['error'], 'invalid_grant');
      assert.equal(second.json()['access_token'], undefined);
      const refreshed = await token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
      assert.equal(refreshed.json()['error'], 'invalid_grant', "the first exchange's refresh token is revoked");
      assert.match(await lastAudit('identity.oauth.grant.revoke'), /"reason":"a code or refresh token was used twice/);
      // The access token of the first exchange is a self-contained JWT: the user's credential epoch
      // moved on, so it (and every other token of theirs) is refused from its next use.
      await assert.rejects(t.fx.identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' }), identityError('IDENTITY_TOKEN_REVOKED'));
      assert.match(await lastAudit('identity.principal.revoke-tokens'), new RegExp(`"resources":\\["${alice.id}"\\]`));
      // Her browser session ended with them: she signs in again for the next cases.
      await browser.signIn(alice);
    });

    it('refuses a refresh token after revocation, and one presented by another client', async () => {
      const { code, verifier } = await codeFor(clientId);
      const rt = (await token({ grant_type: 'authorization_code', code, redirect_uri: NATIVE_REDIRECT, code_verifier: verifier, client_id: clientId })).json()['refresh_token'] as string;
      const stolen = await token({ grant_type: 'refresh_token', refresh_token: rt }, basic(webClientId, webSecret));
      assert.equal(stolen.json()['error'], 'invalid_grant', 'a refresh token is bound to its client');
      const revoked = await new Agent(t).request('POST', '/oauth/token/revocation', { form: { token: rt, client_id: clientId } });
      assert.equal(revoked.status, 200);
      const after = await token({ grant_type: 'refresh_token', refresh_token: rt, client_id: clientId });
      assert.equal(after.status, 400);
      assert.equal(after.json()['error'], 'invalid_grant');
      assert.match(await lastAudit('identity.oauth.token'), /"outcome":"denied","reason":"invalid_grant/);
    });

    it('refuses an unknown client at both endpoints', async () => {
      const reply = await browser.get(authorizePath('00000000-0000-4000-8000-000000000000', { code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
      assert.equal(reply.status, 400);
      assert.equal(reply.location, undefined);
      const exchanged = await token({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: NATIVE_REDIRECT, code_verifier: pkce().verifier, client_id: 'no-such-client' });
      assert.equal(exchanged.status, 401);
      assert.equal(exchanged.json()['error'], 'invalid_client');
      assert.match(await lastAudit('identity.oauth.token'), /"outcome":"denied","reason":"invalid_client/);
    });

    it('refuses a wrong or missing client secret for a confidential client', async () => {
      const { code, verifier } = await codeFor(webClientId, WEB_REDIRECT);
      const form = { grant_type: 'authorization_code', code, redirect_uri: WEB_REDIRECT, code_verifier: verifier };
      const wrong = await token(form, basic(webClientId, `${webSecret.slice(0, -1)}${webSecret.endsWith('A') ? 'B' : 'A'}`));
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json()['error'], 'invalid_client');
      const digest = await t.fx.db.query<{ secret_sha256: string }[]>(`SELECT secret_sha256 FROM identity_oauth_clients WHERE client_id = ${t.fx.db.driver === 'postgres' ? '$1' : '?'}`, [webClientId]);
      const asDigest = await token(form, basic(webClientId, digest[0]!.secret_sha256));
      assert.equal(asDigest.json()['error'], 'invalid_client', 'the stored digest is not a secret that works');
      const none = await token({ ...form, client_id: webClientId });
      assert.equal(none.json()['error'], 'invalid_client');
      // The code was never redeemed by those attempts: the right secret still works.
      assert.equal((await token(form, basic(webClientId, webSecret))).status, 200);
    });

    it('offers no implicit flow, no password grant, no dynamic registration', async () => {
      const implicit = await browser.get(authorizePath(clientId, { response_type: 'token', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
      assert.equal(implicit.status, 303);
      // The error comes back in the fragment, response_type=token's default response mode.
      assert.equal(new URLSearchParams(new URL(implicit.location!).hash.slice(1)).get('error'), 'unsupported_response_type');
      assert.ok(!implicit.location!.includes('access_token'));
      const password = await token({ grant_type: 'password', username: 'alice', password: 'x', client_id: clientId });
      assert.equal(password.json()['error'], 'unsupported_grant_type');
      const registration = await new Agent(t).request('POST', '/oauth/reg', { headers: { 'content-type': 'application/json' } });
      assert.equal(registration.status, 404);
    });
  });
}
