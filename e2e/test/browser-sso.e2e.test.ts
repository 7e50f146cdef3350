/**
 * Single sign-on in a real browser: Debian's Chromium driven by playwright-core against the
 * appliance process and the test IdP's own HTTPS pages (samlify, in process). SP-initiated login
 * through the IdP's form lands on the appliance's /account page; then a client's authorization
 * request completes with no prompt and no page at all, ending at the client's loopback redirect URI
 * with a code that the token endpoint accepts; after logout, the IdP's session makes the next
 * authorization silent too (no login form).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserResponse, httpsRequest, launchTestBrowser, makeTempDir, type Page, type TestBrowser, TestSamlIdp } from '@realm/testing';
import { type SsoRealm, startSsoRealm } from './support.js';

/** What the browser received: every response, redirects included, and every committed navigation. */
interface Traffic {
  readonly responses: { url: string; status: number; contentType: string }[];
  readonly navigations: string[];
}

function record(page: Page): Traffic {
  const traffic: Traffic = { responses: [], navigations: [] };
  page.on('response', (response: BrowserResponse) => traffic.responses.push({ url: response.url(), status: response.status(), contentType: response.headers()['content-type'] ?? '' }));
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) traffic.navigations.push(frame.url());
  });
  return traffic;
}

describe('single sign-on in Chromium', () => {
  let idp: TestSamlIdp;
  let realm: SsoRealm;
  let browser: TestBrowser;
  let page: Page;
  /** The client's loopback redirect URI (RFC 8252 §7.3), served here: it records what reaches it. */
  let callbackServer: Server;
  let redirectUri: string;
  const callbacks: URLSearchParams[] = [];
  let clientId: string;

  before(async () => {
    idp = TestSamlIdp.create();
    // The IdP's pages listen first, so that the metadata the appliance reads names their address.
    await idp.listen();
    idp.addUser('alice', { nameId: 'alice@realm.test', email: 'alice@realm.test', groups: ['staff', 'compliance-officers'] });
    realm = await startSsoRealm(idp, {}, { complianceOfficer: 'compliance-officers' });

    callbackServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      // Chromium also asks this origin for /favicon.ico.
      if (url.pathname === '/callback') callbacks.push(url.searchParams);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('signed in: you may close this window');
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
    redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
    const registered = await realm.ctl(['client', 'create', '--name', 'browser-app', '--redirect-uri', redirectUri, '--grant', 'authorization_code', '--grant', 'refresh_token', '--public']);
    clientId = /^client_id: (\S+)$/m.exec(registered)![1]!;

    browser = await launchTestBrowser({ trust: [realm.tlsCa, idp.tlsCertificatePem!] });
    page = await browser.context.newPage();
    // Fail in seconds, not playwright's default 30 s: every step here is local.
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
    await realm?.stop();
    await idp?.close();
  });

  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const authorizeUrl = (challenge: string, state: string) =>
    `${realm.issuer}/oauth/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'kms', redirect_uri: redirectUri, state, code_challenge: challenge, code_challenge_method: 'S256' })}`;
  const idpOrigin = () => new URL(idp.ssoUrl).origin;

  /** The code of the last callback exchanged at the token endpoint, as the client would. */
  async function exchange(verifier: string): Promise<Record<string, unknown>> {
    const code = callbacks.at(-1)!.get('code')!;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId }).toString();
    const reply = await httpsRequest('POST', `${realm.issuer}/oauth/token`, realm.tlsCa, form, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(reply.status, 200, reply.body);
    return JSON.parse(reply.body) as Record<string, unknown>;
  }

  it("signs in through the IdP's login page and lands authenticated on /account", async () => {
    const traffic = record(page);
    await page.goto(`${realm.issuer}/account`);
    // No session: /account → /saml/login → the IdP's login form.
    assert.equal(new URL(page.url()).origin, idpOrigin(), `at the IdP, got ${page.url()}`);
    await page.fill('#username', 'alice');
    await Promise.all([page.waitForURL(`${realm.issuer}/account`), page.click('#login')]);

    assert.equal(await page.textContent('#user'), 'alice@realm.test');
    assert.equal(await page.textContent('#email'), 'alice@realm.test');
    assert.deepEqual(await page.locator('#roles li').allTextContents(), ['compliance-officer', 'user']);
    const acs = traffic.responses.find((r) => r.url === `${realm.issuer}/saml/acs`);
    assert.equal(acs?.status, 303, 'the IdP page posted the response to the ACS, which redirected');
    const cookies = await browser.context.cookies(realm.issuer);
    const session = cookies.find((c) => c.name === '__Host-realm_session');
    assert.ok(session, 'an appliance session cookie');
    assert.deepEqual({ httpOnly: session.httpOnly, secure: session.secure, sameSite: session.sameSite }, { httpOnly: true, secure: true, sameSite: 'Lax' });

    const screenshot = join(makeTempDir('realm-screenshot-'), 'account.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = readFileSync(screenshot);
    assert.ok(png.length > 1000, `a screenshot of some size, got ${png.length} bytes`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  });

  it('authorizes a client with the live session without any page: straight to the redirect URI with a code', async () => {
    const traffic = record(page);
    const { verifier, challenge } = pkce();
    const state = randomBytes(12).toString('base64url');
    const final = await page.goto(authorizeUrl(challenge, state));
    assert.ok(page.url().startsWith(`${redirectUri}?`), `ended at the client, got ${page.url()}`);
    assert.equal(final?.status(), 200);
    assert.match(final?.headers()['content-type'] ?? '', /^text\/plain/, "the only page is the client's own");

    // Nothing was rendered on the way: the appliance answered with redirects only, the IdP was not
    // asked at all, and the one committed navigation is the client's redirect URI.
    const appliance = traffic.responses.filter((r) => r.url.startsWith(`${realm.issuer}/`));
    assert.ok(appliance.length >= 2, `authorization and interaction hops: ${JSON.stringify(traffic.responses)}`);
    for (const response of appliance) assert.ok(response.status === 302 || response.status === 303, `a redirect, not a page: ${JSON.stringify(response)}`);
    assert.deepEqual(traffic.responses.filter((r) => r.url.startsWith(idpOrigin())), [], 'the IdP was not involved');
    assert.deepEqual(traffic.navigations, [page.url()], "no page committed before the client's");

    assert.equal(callbacks.length, 1);
    assert.equal(callbacks[0]!.get('state'), state);
    assert.equal(callbacks[0]!.get('iss'), realm.issuer);
    const tokens = await exchange(verifier);
    assert.equal(tokens['token_type'], 'Bearer');
    assert.equal(tokens['scope'], 'kms');
  });

  it("after logout, the IdP's session signs the user in again without a login form", async () => {
    await page.goto(`${realm.issuer}/account`);
    await Promise.all([page.waitForURL(`${realm.issuer}/logout`), page.click('button[type=submit]')]);
    assert.equal(await page.textContent('h1'), 'Signed out');
    assert.equal((await browser.context.cookies(realm.issuer)).some((c) => c.name === '__Host-realm_session'), false, 'the session cookie is gone');

    const traffic = record(page);
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(challenge, 'after-logout'));
    await page.waitForURL((url) => url.toString().startsWith(`${redirectUri}?`));
    // The way back goes through the IdP once: its SSO endpoint answers with the page that posts
    // the response by itself; the login form (which only a POST /login gets past) never shows.
    const idpPages = traffic.responses.filter((r) => r.url.startsWith(idpOrigin()));
    assert.deepEqual(idpPages.map((r) => [new URL(r.url).pathname, r.status]), [['/sso', 200]], JSON.stringify(traffic.responses));
    assert.ok(traffic.navigations.every((url) => !url.startsWith(`${realm.issuer}/`)), `no appliance page: ${traffic.navigations.join(', ')}`);
    assert.equal(callbacks.length, 2);
    assert.equal(callbacks[1]!.get('state'), 'after-logout');
    assert.equal((await exchange(verifier))['token_type'], 'Bearer');
  });
});
