/**
 * IdP metadata from a URL (identity.saml.idpMetadataUrl): fetched over HTTPS trusting only the
 * configured CA, refused on anything but a 200 with well-formed metadata, and replaceable at run
 * time for a key rollover (the same IdP only).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeTestKeyPair, type TestKeyPair, TestSamlIdp, testDatabases } from '@realm/testing';
import { fetchIdpMetadata, parseIdpMetadata, SamlServiceProvider } from '../src/index.js';
import { type IdentityFixture, identityError, openIdentityFixture } from './helpers.js';

describe('IdP metadata from a URL', () => {
  const idp = TestSamlIdp.create();
  let tls: TestKeyPair;
  let server: Server;
  let base: string;
  const routes = new Map<string, { status: number; body: string; headers?: Record<string, string> }>();

  before(async () => {
    tls = makeTestKeyPair('localhost', { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    server = createServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) => {
      const route = routes.get(req.url ?? '');
      res.writeHead(route?.status ?? 404, { 'content-type': 'application/samlmetadata+xml', ...route?.headers });
      res.end(route?.body ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
    routes.set('/metadata', { status: 200, body: idp.metadataXml([idp.signingKey, idp.rolloverKey]) });
    routes.set('/moved', { status: 302, body: '', headers: { location: '/metadata' } });
    routes.set('/huge', { status: 200, body: `<x>${'a'.repeat(1024 * 1024 + 10)}</x>` });
    routes.set('/html', { status: 200, body: '<html><body>sign in</body></html>' });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads every signing certificate from metadata served over HTTPS by a trusted server', async () => {
    const metadata = await fetchIdpMetadata(`${base}/metadata`, tls.certificatePem);
    assert.equal(metadata.entityId, idp.entityId);
    assert.equal(metadata.signingCertificates.length, 2);
  });

  it('refuses a server the configured CA does not vouch for, a redirect, an error, an oversized or non-metadata body', async () => {
    const other = makeTestKeyPair('localhost', { dnsNames: ['localhost'] });
    const code = 'IDENTITY_SAML_METADATA_INVALID' as const;
    await assert.rejects(fetchIdpMetadata(`${base}/metadata`), identityError(code, /self-signed/), 'the system store does not know the test certificate');
    await assert.rejects(fetchIdpMetadata(`${base}/metadata`), (error: Error) => /identity\.saml\.idpMetadataUrl/.test(error.message), 'the message names the setting');
    await assert.rejects(fetchIdpMetadata(`${base}/metadata`, other.certificatePem), identityError(code));
    await assert.rejects(fetchIdpMetadata(`${base}/moved`, tls.certificatePem), identityError(code, /HTTP 302/));
    await assert.rejects(fetchIdpMetadata(`${base}/nowhere`, tls.certificatePem), identityError(code, /HTTP 404/));
    await assert.rejects(fetchIdpMetadata(`${base}/huge`, tls.certificatePem), identityError(code, /larger than/));
    await assert.rejects(fetchIdpMetadata(`${base}/html`, tls.certificatePem), identityError(code));
    await assert.rejects(fetchIdpMetadata(base.replace('https:', 'http:') + '/metadata', tls.certificatePem), identityError(code, /https/));
  });
});

for (const database of testDatabases()) {
  describe(`IdP metadata replaced at run time on ${database.name}`, () => {
    let fx: IdentityFixture;
    const idp = TestSamlIdp.create();
    before(async () => {
      fx = await openIdentityFixture(database);
    });
    after(() => fx.close());

    it('trusts a rolled-over signing key once refreshed metadata lists it, and refuses metadata of another IdP', async () => {
      const sp = SamlServiceProvider.open(fx.config, fx.db, fx.audit, fx.identity.principals, { metadata: parseIdpMetadata(idp.metadataXml([idp.signingKey])) })!;
      idp.trustServiceProvider(sp.metadataXml());
      const login = async () => {
        const request = await idp.parseAuthnRequest(await sp.loginUrl('/account'));
        const issued = idp.issue(request, { nameId: 'rolf@realm.test', groups: ['staff'] }, { key: idp.rolloverKey });
        return sp.acceptResponse({ SAMLResponse: issued.samlResponse, RelayState: issued.relayState });
      };
      await assert.rejects(login(), identityError('IDENTITY_SAML_SIGNATURE_INVALID'), 'the new key is not trusted yet');
      sp.replaceMetadata(parseIdpMetadata(idp.metadataXml([idp.signingKey, idp.rolloverKey])));
      assert.equal((await login()).principal.name, 'rolf@realm.test');
      const stranger = TestSamlIdp.create({ entityId: 'https://other-idp.example' });
      assert.throws(() => sp.replaceMetadata(parseIdpMetadata(stranger.metadataXml())), identityError('IDENTITY_SAML_METADATA_INVALID', /entityID changed/));
      assert.equal(sp.idp.entityId, idp.entityId, 'the current metadata stays');
    });
  });
}
