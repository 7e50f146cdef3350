/**
 * SAML SP-initiated login end to end over real HTTPS, against an independent IdP (samlify, keys by
 * node-forge), on every database: metadata, AuthnRequest, signed response, user provisioning with
 * roles from groups, the session cookie, IdP key rollover, and the IdP metadata rules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsRequest, testDatabases } from '@realm/testing';
import { parseIdpMetadata } from '../src/index.js';
import { identityError } from './helpers.js';
import { errorCodeOf, openSamlApp, type SamlAppFixture, sessionCookieOf } from './fixtures/saml/saml-app.js';

for (const database of testDatabases()) {
  describe(`SAML login on ${database.name}`, () => {
    let app: SamlAppFixture;

    before(async () => {
      app = await openSamlApp(database, {
        saml: { roleGroups: { 'realm-admin': ['realm-admins'], 'compliance-officer': ['compliance'], auditor: ['auditors'], user: ['*'] } },
      });
    });
    after(async () => {
      await app?.close();
    });

    it('publishes SP metadata with the entity id, the ACS and WantAssertionsSigned', async () => {
      const response = await app.request('GET', '/saml/metadata');
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /^application\/samlmetadata\+xml/);
      assert.ok(response.body.includes(`entityID="${app.config.identity.saml.spEntityId}"`));
      assert.ok(response.body.includes(`Location="${app.acsUrl}"`));
      assert.ok(response.body.includes('WantAssertionsSigned="true"'));
    });

    it('logs a user in: AuthnRequest, signed response, user created with roles from groups, session cookie, 303 to returnTo', async () => {
      const request = await app.startLogin('/account?tab=keys');
      assert.equal(request.issuer, app.config.identity.saml.spEntityId);
      assert.equal(request.relayState, '/account?tab=keys');
      const issued = app.idp.issue(request, { nameId: 'Alice@realm.test', email: 'alice@realm.test', groups: ['staff', 'compliance'] });
      const response = await app.postAcs(issued.samlResponse, issued.relayState);
      assert.equal(response.status, 303, response.body);
      assert.equal(response.headers['location'], '/account?tab=keys');
      const setCookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-realm_session='));
      assert.ok(setCookie);
      assert.match(setCookie, /; Path=\/; Secure; HttpOnly; SameSite=Lax$/);

      const alice = await app.fx.identity.principals.findUserByName('alice@realm.test');
      assert.ok(alice);
      assert.deepEqual(alice.roles, ['compliance-officer', 'user']);
      assert.equal(alice.email, 'alice@realm.test');

      const page = await app.request('GET', '/account', { cookie: sessionCookieOf(response)! });
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.ok(page.body.includes('alice@realm.test'));
      assert.ok(page.body.includes('<li>compliance-officer</li>'));
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; form-action 'self'/);
      assert.ok(!page.body.includes('<script'));

      const bodies = await app.fx.auditBodies();
      assert.ok(bodies.some((b) => b.includes('"action":"identity.saml.login"') && b.includes('"outcome":"success"') && b.includes(alice.id)));
      assert.ok(bodies.some((b) => b.includes('"action":"identity.session.start"') && b.includes(alice.id)));
      assert.ok(!bodies.join('\n').includes(issued.samlResponse.slice(0, 40)), 'no response in the audit log');
    });

    it('updates the user on the next login and changes roles (and the credential epoch) only when the groups changed', async () => {
      const login = async (groups: string[]) => {
        const request = await app.startLogin();
        const issued = app.idp.issue(request, { nameId: 'bob@realm.test', email: 'bob@realm.test', groups });
        const response = await app.postAcs(issued.samlResponse, issued.relayState);
        assert.equal(response.status, 303, response.body);
        assert.equal(response.headers['location'], '/account');
        return (await app.fx.identity.principals.findUserByName('bob@realm.test'))!;
      };
      const first = await login(['staff']);
      assert.deepEqual(first.roles, ['user']);
      const same = await login(['staff']);
      assert.equal(same.credentialEpoch, first.credentialEpoch);
      const promoted = await login(['staff', 'realm-admins', 'auditors']);
      assert.equal(promoted.id, first.id);
      assert.deepEqual(promoted.roles, ['realm-admin', 'auditor', 'user']);
      assert.equal(promoted.credentialEpoch, first.credentialEpoch + 1);
    });

    it('refuses a user whose groups map to no role, creating nothing', async () => {
      const strict = await openSamlApp(database, { saml: { roleGroups: { 'realm-admin': ['realm-admins'], 'compliance-officer': [], auditor: [], user: ['kms-users'] } } });
      try {
        const request = await strict.startLogin();
        const issued = strict.idp.issue(request, { nameId: 'carol@realm.test', groups: ['sales'] });
        const response = await strict.postAcs(issued.samlResponse, issued.relayState);
        assert.equal(response.status, 403);
        assert.equal(errorCodeOf(response), 'IDENTITY_SAML_NO_ROLE');
        assert.equal(sessionCookieOf(response), undefined);
        assert.equal(await strict.fx.identity.principals.findUserByName('carol@realm.test'), undefined);
        assert.ok((await strict.fx.auditBodies()).some((b) => b.includes('"reason":"IDENTITY_SAML_NO_ROLE"')));
      } finally {
        await strict.close();
      }
    });

    it('refuses a user an administrator disabled, without re-enabling them', async () => {
      const { principal } = await app.fx.identity.principals.upsertUser({ userName: 'dave@realm.test' });
      await app.fx.identity.principals.disable(principal.id);
      const request = await app.startLogin();
      const issued = app.idp.issue(request, { nameId: 'dave@realm.test', groups: [] });
      const response = await app.postAcs(issued.samlResponse, issued.relayState);
      assert.equal(errorCodeOf(response), 'IDENTITY_PRINCIPAL_DISABLED');
      assert.equal(sessionCookieOf(response), undefined);
      assert.equal((await app.fx.identity.principals.get(principal.id)).status, 'disabled');
    });
  });

  describe(`SAML IdP key rollover on ${database.name}`, () => {
    it('accepts responses signed by either certificate of the metadata, and no other', async () => {
      const app = await openSamlApp(database, { metadataKeys: (idp) => [idp.signingKey, idp.rolloverKey] });
      try {
        for (const key of [app.idp.signingKey, app.idp.rolloverKey]) {
          const request = await app.startLogin();
          const issued = app.idp.issue(request, { nameId: 'erin@realm.test', groups: [] }, { key });
          const response = await app.postAcs(issued.samlResponse, issued.relayState);
          assert.equal(response.status, 303, response.body);
          assert.ok(sessionCookieOf(response));
        }
        const request = await app.startLogin();
        const issued = app.idp.issue(request, { nameId: 'erin@realm.test', groups: [] }, { key: app.idp.untrustedKey });
        const response = await app.postAcs(issued.samlResponse, issued.relayState);
        assert.equal(errorCodeOf(response), 'IDENTITY_SAML_SIGNATURE_INVALID');
      } finally {
        await app.close();
      }
    });
  });
}

describe('the test IdP pages (for the browser test)', () => {
  it('shows a login form, auto-posts a response to the ACS, and signs in silently with its session cookie', async () => {
    const [database] = testDatabases();
    const app = await openSamlApp(database!, { serveIdp: true });
    try {
      app.idp.addUser('alice', { nameId: 'alice@realm.test', groups: [] });
      const start = await app.request('GET', '/saml/login?returnTo=%2Faccount');
      const sso = new URL(String(start.headers['location']));
      assert.equal(`${sso.origin}${sso.pathname}`, app.idp.ssoUrl);
      const idpCa = app.idp.tlsCertificatePem!;
      const form = await httpsRequest('GET', sso.toString(), idpCa);
      assert.match(form.body, /<input name="username"/);
      const query = /name="query" value="([^"]+)"/.exec(form.body)![1]!.replace(/&amp;/g, '&');
      const posted = await httpsRequest('POST', `${sso.origin}/login`, idpCa, new URLSearchParams({ username: 'alice', query }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
      const idpCookie = String(([] as string[]).concat(posted.headers['set-cookie'] ?? [])[0]).split(';')[0]!;
      const fields = (body: string) => ({
        action: /action="([^"]+)"/.exec(body)![1]!,
        samlResponse: /name="SAMLResponse" value="([^"]+)"/.exec(body)![1]!,
        relayState: /name="RelayState" value="([^"]+)"/.exec(body)?.[1],
      });
      const first = fields(posted.body);
      assert.equal(first.action, app.acsUrl);
      const acs = await app.postAcs(first.samlResponse, first.relayState);
      assert.equal(acs.status, 303, acs.body);
      assert.equal(acs.headers['location'], '/account');

      const again = await app.request('GET', '/saml/login');
      const silent = await httpsRequest('GET', String(again.headers['location']), idpCa, undefined, { cookie: idpCookie });
      assert.doesNotMatch(silent.body, /name="username"/, 'no login form with an IdP session');
      const second = await app.postAcs(fields(silent.body).samlResponse);
      assert.equal(second.status, 303, second.body);
    } finally {
      await app.close();
    }
  });
});

describe('IdP metadata', () => {
  const cert = 'MIIBszCCAVmgAwIBAgIUZ'; // not a certificate: refused even when the rest is right
  const metadata = (body: string) => `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example">${body}</md:EntityDescriptor>`;
  const sso = '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>';

  it('refuses a DOCTYPE, a missing SSO endpoint, plain http, and missing or broken certificates', () => {
    const code = identityError('IDENTITY_SAML_METADATA_INVALID');
    assert.throws(() => parseIdpMetadata(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${metadata(`<md:IDPSSODescriptor>${sso}</md:IDPSSODescriptor>`)}`), identityError('IDENTITY_SAML_METADATA_INVALID', /DOCTYPE/));
    assert.throws(() => parseIdpMetadata(metadata('<md:IDPSSODescriptor></md:IDPSSODescriptor>')), code);
    assert.throws(() => parseIdpMetadata(metadata(`<md:IDPSSODescriptor>${sso.replace('https:', 'http:')}</md:IDPSSODescriptor>`)), code);
    assert.throws(() => parseIdpMetadata(metadata(`<md:IDPSSODescriptor>${sso}</md:IDPSSODescriptor>`)), identityError('IDENTITY_SAML_METADATA_INVALID', /signing certificate/));
    const broken = `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
    assert.throws(() => parseIdpMetadata(metadata(`<md:IDPSSODescriptor>${broken}${sso}</md:IDPSSODescriptor>`)), code);
    assert.throws(() => parseIdpMetadata('<EntityDescriptor entityID="x"/>'), code);
  });
});
