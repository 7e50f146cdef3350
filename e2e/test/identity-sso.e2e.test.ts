/**
 * Single sign-on end to end against the production build of the appliance (a real process) on
 * every database: an independent SAML IdP (samlify, in process), a public client registered with
 * realmctl, a user who signs in through SAML and gets a KMS access token with authorization code +
 * PKCE (S256), driven hop by hop over HTTPS with a cookie jar; the token used with the KMS client
 * SDK; a silent second authorization; roles from IdP groups; SCIM deactivation that stops the
 * user's very next KMS request and their refresh token; and the audit log and the process log,
 * which record every step and carry no token, code or SAML response.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KmsClientError, type KmsClient } from '@realm/kms-client';
import { Database } from '@realm/persistence';
import { httpsRequest, type IssuedResponse, testConfig, testDatabases, TestSamlIdp, type TestIdpUser } from '@realm/testing';
import { type BrowserReply, HttpsBrowser, sdkClient, type SsoRealm, startSsoRealm } from './support.js';

/** A native app's private-use-scheme redirect (RFC 8252 §7.1): the code never reaches a web server. */
const REDIRECT_URI = 'com.example.realm:/oauth/callback';
const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SCIM_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const ALICE: TestIdpUser = { nameId: 'alice@realm.test', email: 'alice@realm.test', groups: ['staff'] };

interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

/** RFC 7636 §4.1-4.2: a 256-bit verifier and its S256 challenge. */
function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The user name and roles the appliance's /account page shows. */
function accountOf(page: BrowserReply): { user: string; roles: string[] } {
  assert.equal(page.status, 200, page.body);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const user = /<dd id="user">([^<]*)<\/dd>/.exec(page.body)?.[1];
  const roles = /<ul id="roles">(.*?)<\/ul>/s.exec(page.body)?.[1];
  assert.ok(user !== undefined && roles !== undefined, page.body);
  return { user, roles: [...roles.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1]!) };
}

for (const database of testDatabases()) {
  describe(`single sign-on end to end on ${database.name}`, () => {
    let created: Awaited<ReturnType<typeof database.create>>;
    let idp: TestSamlIdp;
    let realm: SsoRealm;
    let clientId: string;
    /** The browser alice signs in with (it keeps the appliance session). */
    let browser: HttpsBrowser;
    let aliceId: string;
    let kms: KmsClient | undefined;
    /** Everything secret this test saw: none of it may reach the audit log or the process log. */
    const secrets: { what: string; value: string }[] = [];
    const issuedResponses: IssuedResponse[] = [];
    /** The refresh token of the second (silent) authorization, for the deactivation test. */
    let refreshToken = '';

    const authorizePath = (challenge: string, state: string) =>
      `/oauth/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'kms', redirect_uri: REDIRECT_URI, state, code_challenge: challenge, code_challenge_method: 'S256' })}`;

    /**
     * Follows every redirect by hand, as a browser would, and plays the IdP when one leads there:
     * the IdP parses the AuthnRequest from the redirect URL and answers it with a signed response
     * for `user`, which the browser posts to the ACS (HTTP-POST binding). Stops at the client's
     * redirect URI. Returns each hop, appliance paths as paths, the IdP as `IdP`, and the callback.
     */
    async function follow(agent: HttpsBrowser, start: string, user: TestIdpUser): Promise<{ hops: string[]; callback: URL }> {
      const hops: string[] = [];
      let reply = await agent.get(start);
      for (let hop = 0; hop < 12; hop++) {
        assert.ok(reply.status === 302 || reply.status === 303, `a redirect at hop ${hop}, got ${reply.status}: ${reply.body.slice(0, 300)}`);
        const next = reply.location!;
        if (next.startsWith(`${REDIRECT_URI}?`)) {
          hops.push('client');
          return { hops, callback: new URL(next) };
        }
        if (next.startsWith(`${idp.ssoUrl}?`)) {
          hops.push('IdP');
          const request = await idp.parseAuthnRequest(next);
          const issued = idp.issue(request, user);
          issuedResponses.push(issued);
          reply = await agent.request('POST', '/saml/acs', { form: { SAMLResponse: issued.samlResponse, ...(issued.relayState !== undefined && { RelayState: issued.relayState }) } });
          hops.push('POST /saml/acs');
          continue;
        }
        const url = new URL(next);
        assert.equal(url.origin, realm.issuer, `a redirect within the appliance: ${next}`);
        hops.push(`${url.pathname}${url.search}`);
        reply = await agent.get(next);
      }
      assert.fail(`no redirect to the client after 12 hops: ${hops.join(' -> ')}`);
    }

    /** POSTs to the token endpoint as the (public) client: no cookies, client_id in the form. */
    async function token(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
      const reply = await new HttpsBrowser(realm.issuer, realm.tlsCa).request('POST', '/oauth/token', { form: { client_id: clientId, ...form } });
      assert.match(String(reply.headers['cache-control']), /no-store/, 'RFC 6749 §5.1: token responses are not cached');
      return { status: reply.status, body: JSON.parse(reply.body) as Record<string, unknown> };
    }

    function scim(method: string, path: string, scimToken: string, body?: unknown) {
      return httpsRequest(method, `${realm.issuer}/scim/v2${path}`, realm.tlsCa, body === undefined ? undefined : JSON.stringify(body), {
        authorization: `Bearer ${scimToken}`,
        accept: 'application/scim+json',
        ...(body !== undefined && { 'content-type': 'application/scim+json' }),
      });
    }

    before(async () => {
      idp = TestSamlIdp.create();
      created = await database.create();
      realm = await startSsoRealm(idp, created.env, { complianceOfficer: 'compliance-officers' });
      const registered = await realm.ctl(['client', 'create', '--name', 'desktop', '--redirect-uri', REDIRECT_URI, '--grant', 'authorization_code', '--grant', 'refresh_token', '--public']);
      clientId = /^client_id: (\S+)$/m.exec(registered)![1]!;
      assert.match(registered, /created public client desktop/);
      assert.doesNotMatch(registered, /client_secret/, 'a public client has no secret');
      browser = new HttpsBrowser(realm.issuer, realm.tlsCa);
    });
    after(async () => {
      await kms?.close().catch(() => undefined);
      await realm?.stop();
      await idp?.close();
      await created?.drop();
    });

    it('signs a user in through SAML and issues a KMS access token with code + PKCE (S256), which the KMS SDK uses', async () => {
      const { verifier, challenge } = pkce();
      const state = randomBytes(16).toString('base64url');
      const { hops, callback } = await follow(browser, authorizePath(challenge, state), ALICE);
      // The whole round trip: authorize, the login step, SAML SP-initiated login at the IdP, back
      // to the login step with the new session, and the code to the client.
      assert.equal(hops.length, 7, hops.join(' -> '));
      assert.match(hops[0]!, /^\/oauth\/interaction\/[A-Za-z0-9_-]+$/);
      const interaction = hops[0]!;
      assert.equal(hops[1], `/saml/login?returnTo=${encodeURIComponent(interaction)}`);
      assert.deepEqual(hops.slice(2, 4), ['IdP', 'POST /saml/acs']);
      assert.equal(hops[4], interaction, 'the ACS returns to the interaction');
      assert.match(hops[5]!, /^\/oauth\/auth\/[A-Za-z0-9_-]+$/, 'the interaction resumes the authorization');
      const sessionId = browser.cookie('__Host-realm_session');
      assert.ok(sessionId, 'the SAML login started an appliance session');
      secrets.push({ what: 'session id', value: sessionId });
      assert.equal(hops[6], 'client');
      assert.equal(callback.searchParams.get('state'), state);
      assert.equal(callback.searchParams.get('iss'), realm.issuer, 'RFC 9207: the issuer names itself');
      const code = callback.searchParams.get('code')!;
      assert.match(code, /^[A-Za-z0-9_-]{20,}$/);
      secrets.push({ what: 'authorization code', value: code }, { what: 'PKCE verifier', value: verifier });

      // RFC 7636 §4.6: without the verifier the code is refused (and spent: codes are single use).
      const withoutVerifier = pkce();
      const spoiled = await follow(browser, authorizePath(withoutVerifier.challenge, 'x'), ALICE);
      const spoiledCode = spoiled.callback.searchParams.get('code')!;
      secrets.push({ what: 'spoiled authorization code', value: spoiledCode });
      const wrong = await token({ grant_type: 'authorization_code', code: spoiledCode, redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body['error'], 'invalid_grant');

      const granted = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.equal(granted.body['token_type'], 'Bearer');
      assert.equal(granted.body['scope'], 'kms');
      const accessToken = granted.body['access_token'] as string;
      const refreshToken = granted.body['refresh_token'] as string;
      assert.equal(typeof accessToken, 'string');
      assert.equal(typeof refreshToken, 'string');
      secrets.push({ what: 'access token', value: accessToken }, { what: 'refresh token', value: refreshToken });
      // The appliance's token for the KMS: audience kms, issued by the appliance, for alice.
      const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      assert.equal(claims['iss'], realm.issuer);
      assert.deepEqual([claims['aud']].flat(), ['kms']);
      aliceId = claims['sub'] as string;
      assert.equal(accountOf(await browser.get('/account')).user, 'alice@realm.test');

      kms = sdkClient(realm, async () => ({ bearer: accessToken }));
      const [k1, k2] = await kms.createKeys(2);
      assert.equal(k1!.key.length, 32);
      const resource = await kms.createResource({ keyUris: [k1!.uri] });
      await kms.bindKey(k2!.uri, resource.uri);
      assert.deepEqual((await kms.retrieveKey(k1!.uri)).key, k1!.key);
      assert.deepEqual((await kms.resourceKeys(resource.uri)).map((k) => k.uri).sort(), [k1!.uri, k2!.uri].sort());
      assert.deepEqual((await kms.listAuthorizations(resource.uri)).map((a) => a.authId), [aliceId], 'the resource belongs to the SAML user');

      // A code is used once; RFC 6749 §4.1.2: its reuse is refused and revokes what it was
      // exchanged for: the refresh token and, access tokens being self-contained, every token of
      // the user (her credential epoch moves on), on the KMS's very next request.
      const reused = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
      assert.equal(reused.body['error'], 'invalid_grant');
      assert.equal((await token({ grant_type: 'refresh_token', refresh_token: refreshToken })).body['error'], 'invalid_grant', 'the refresh token of a reused code is revoked');
      await assert.rejects(kms.retrieveKey(k1!.uri), (error: unknown) => error instanceof KmsClientError && error.status === 401);
      await kms.close();
      // She signs in again (her appliance session ended too) and carries on with a new token.
      const fresh = pkce();
      const relogin = await follow(browser, authorizePath(fresh.challenge, 'relogin'), ALICE);
      assert.ok(relogin.hops.includes('IdP'), 'the revoked session sends her back through the IdP');
      const regranted = await token({ grant_type: 'authorization_code', code: relogin.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: fresh.verifier });
      assert.equal(regranted.status, 200, JSON.stringify(regranted.body));
      const freshToken = regranted.body['access_token'] as string;
      secrets.push({ what: 'access token after re-login', value: freshToken }, { what: 'refresh token after re-login', value: regranted.body['refresh_token'] as string });
      kms = sdkClient(realm, async () => ({ bearer: freshToken }));
      assert.deepEqual((await kms.retrieveKey(k1!.uri)).key, k1!.key);
    });

    it('authorizes again with the live session at once: a code, no page and no IdP in between', async () => {
      const { verifier, challenge } = pkce();
      const reply = await browser.get(authorizePath(challenge, 'again'));
      assert.equal(reply.status, 303, reply.body);
      assert.ok(reply.location?.startsWith(`${REDIRECT_URI}?`), `straight back to the client, got ${reply.location}`);
      const code = new URL(reply.location!).searchParams.get('code')!;
      secrets.push({ what: 'second authorization code', value: code });
      const granted = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      refreshToken = granted.body['refresh_token'] as string;
      secrets.push({ what: 'second access token', value: granted.body['access_token'] as string }, { what: 'second refresh token', value: refreshToken });
      const second = sdkClient(realm, async () => ({ bearer: granted.body['access_token'] as string }));
      try {
        await second.ping();
      } finally {
        await second.close();
      }
    });

    it('maps IdP groups to roles at each login: the compliance officer group shows on /account', async () => {
      const officerBrowser = new HttpsBrowser(realm.issuer, realm.tlsCa);
      const signIn = async (groups: string[]) => {
        const start = await officerBrowser.get('/saml/login?returnTo=%2Faccount');
        assert.equal(start.status, 303);
        const issued = idp.issue(await idp.parseAuthnRequest(start.location!), { nameId: 'olivia@realm.test', email: 'olivia@realm.test', groups });
        issuedResponses.push(issued);
        const acs = await officerBrowser.request('POST', '/saml/acs', { form: { SAMLResponse: issued.samlResponse, RelayState: issued.relayState! } });
        assert.equal(acs.status, 303, acs.body);
        assert.equal(acs.location, `${realm.issuer}/account`);
        return accountOf(await officerBrowser.get('/account'));
      };
      assert.deepEqual(await signIn(['staff']), { user: 'olivia@realm.test', roles: ['user'] });
      assert.deepEqual(await signIn(['staff', 'compliance-officers']), { user: 'olivia@realm.test', roles: ['compliance-officer', 'user'] });
      assert.deepEqual(await signIn(['staff']), { user: 'olivia@realm.test', roles: ['user'] }, 'leaving the group takes the role away');
    });

    it("SCIM deactivation refuses the user's very next KMS request and their refresh token", async () => {
      // The refresh token works (and rotates) while alice is active.
      const rotated = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      refreshToken = rotated.body['refresh_token'] as string;
      secrets.push({ what: 'rotated refresh token', value: refreshToken }, { what: 'refreshed access token', value: rotated.body['access_token'] as string });

      const scimOut = await realm.ctl(['scim', 'token', 'create', '--name', 'idp-provisioning']);
      const scimToken = scimOut.split('\n').at(-1)!.trim();
      secrets.push({ what: 'SCIM token', value: scimToken });
      const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "alice@realm.test"')}`, scimToken);
      assert.equal(found.status, 200, found.body);
      const list = JSON.parse(found.body) as { totalResults: number; Resources: { id: string; userName: string; active: boolean }[] };
      assert.equal(list.totalResults, 1);
      assert.deepEqual({ userName: list.Resources[0]!.userName, active: list.Resources[0]!.active }, { userName: 'alice@realm.test', active: true });
      const scimId = list.Resources[0]!.id;

      const before = await kms!.createKeys(1);
      assert.equal(before.length, 1, 'alice still works right before the deactivation');
      const patched = await scim('PATCH', `/Users/${encodeURIComponent(scimId)}`, scimToken, { schemas: [SCIM_PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });
      assert.equal(patched.status, 200, patched.body);
      assert.equal((JSON.parse(patched.body) as { active: boolean; schemas: string[] }).active, false);

      await assert.rejects(kms!.createKeys(1), (error: unknown) => {
        assert.ok(error instanceof KmsClientError, String(error));
        assert.equal(error.status, 401, error.message);
        assert.match(error.message, /disabled or its credentials were revoked/);
        return true;
      });
      const refused = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body['error'], 'invalid_grant');
      // Her appliance session ends with her: the authorization goes back to SAML login, where
      // the IdP (which knows nothing of the deactivation) vouches for her and the SP refuses her.
      const again = await browser.get(authorizePath(pkce().challenge, 'after'));
      assert.equal(again.status, 303);
      const toLogin = await browser.get(again.location!);
      assert.equal(toLogin.status, 303);
      assert.ok(toLogin.location!.startsWith(`${realm.issuer}/saml/login?returnTo=`), `the deactivated user has no session any more: ${toLogin.location}`);
      const toIdp = await browser.get(toLogin.location!);
      const issued = idp.issue(await idp.parseAuthnRequest(toIdp.location!), ALICE);
      issuedResponses.push(issued);
      const acs = await browser.request('POST', '/saml/acs', { form: { SAMLResponse: issued.samlResponse, RelayState: issued.relayState! } });
      assert.equal(acs.status, 403, acs.body);
      assert.equal((JSON.parse(acs.body) as { error: { code: string } }).error.code, 'IDENTITY_PRINCIPAL_DISABLED');
      assert.equal(acs.headers['set-cookie'], undefined, 'no session');

      const reread = await scim('GET', `/Users/${encodeURIComponent(scimId)}`, scimToken);
      assert.equal((JSON.parse(reread.body) as { active: boolean }).active, false);
      assert.equal(JSON.parse(reread.body).schemas[0], SCIM_USER);
    });

    it('audits every login, token issue and SCIM change without a token, and logs no secret', async () => {
      const verified = JSON.parse(await realm.ctl(['audit', 'verify', '--json'])) as { ok: boolean; records: number };
      assert.equal(verified.ok, true, JSON.stringify(verified));

      const db = await Database.open(testConfig(realm.env).database, { entities: [], migrations: [] });
      let bodies: string[];
      try {
        bodies = (await db.query<{ body: string }[]>('SELECT body FROM audit_records ORDER BY seq')).map((r) => r.body);
      } finally {
        await db.close();
      }
      assert.equal(verified.records, bodies.length, 'realmctl verified every record');
      const records = bodies.map((b) => JSON.parse(b) as { action: string; outcome: string; reason?: string; resources?: string[]; details?: Record<string, unknown> });
      const count = (predicate: (r: (typeof records)[number]) => boolean) => records.filter(predicate).length;

      assert.equal(count((r) => r.action === 'identity.saml.login' && r.outcome === 'success'), 5, 'alice twice (again after the reused code revoked her session; the second authorization reuses it), olivia three times');
      assert.equal(count((r) => r.action === 'identity.saml.login' && r.outcome !== 'success' && r.reason === 'IDENTITY_PRINCIPAL_DISABLED'), 1, 'the refused login of the deactivated user');
      assert.equal(count((r) => r.action === 'identity.saml.login' && r.outcome === 'success' && (r.details?.['roles'] as string[]).includes('compliance-officer')), 1);
      assert.equal(count((r) => r.action === 'identity.session.start'), 5);
      assert.equal(count((r) => r.action === 'identity.principal.revoke-tokens' && r.resources?.includes(aliceId) === true), 1, 'the reused code revoked her tokens');
      assert.equal(count((r) => r.action === 'identity.oauth.token' && r.outcome === 'success' && r.details?.['grantType'] === 'authorization_code'), 3);
      assert.equal(count((r) => r.action === 'identity.oauth.token' && r.outcome === 'success' && r.details?.['grantType'] === 'refresh_token'), 1);
      assert.equal(count((r) => r.action === 'identity.oauth.token' && r.outcome === 'denied'), 4, 'wrong verifier, reused code, its refresh token, refresh after deactivation');
      assert.equal(count((r) => r.action === 'identity.token.issue' && r.outcome === 'success'), 4, 'three codes and one refresh exchanged');
      assert.equal(count((r) => r.action === 'identity.oauth.client.create' && r.outcome === 'success'), 1);
      assert.equal(count((r) => r.action === 'identity.scim.token.create'), 1);
      assert.equal(count((r) => r.action.startsWith('identity.scim.user.') && r.resources?.includes(aliceId) === true && r.details?.['active'] === false), 1);
      // Refused after the reused code (the SDK's one retry included) and after the deactivation.
      assert.ok(count((r) => r.action === 'kms.request' && r.outcome === 'denied' && /disabled/.test(r.reason ?? '')) >= 2, 'the refused KMS requests are audited');

      const auditText = bodies.join('\n');
      for (const path of ['/oauth/auth', '/saml/acs', '/oauth/token', '/scim/v2/Users']) {
        await realm.app.untilLogged(`of a request to ${path} (so the log is read below)`, (line) => line['msg'] === 'request completed' && line['path'] === path);
      }
      const logText = `${JSON.stringify(realm.app.logs)}\n${realm.app.stderr()}`;
      const samlSecrets = issuedResponses.flatMap((issued) => [
        { what: 'SAMLResponse', value: issued.samlResponse.slice(0, 60) },
        ...[...issued.xml.matchAll(/<ds:SignatureValue>([^<]+)<\/ds:SignatureValue>/g)].map((m) => ({ what: 'SAML signature', value: m[1]!.slice(0, 40) })),
      ]);
      assert.ok(samlSecrets.length >= 15 && secrets.length >= 12);
      for (const { what, value } of [...secrets, ...samlSecrets]) {
        assert.ok(value.length >= 20, what);
        assert.ok(!auditText.includes(value), `no ${what} in the audit log`);
        assert.ok(!logText.includes(value), `no ${what} in the appliance's log`);
      }
      assert.ok(!/SAMLResponse=/.test(logText), 'no posted SAML form in the log');
    });
  });
}
