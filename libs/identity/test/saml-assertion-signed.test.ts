/**
 * identity.saml.requireSignedResponse = false (IdPs that sign only the Assertion): an unsigned
 * Response around a signed Assertion logs in; everything the login relies on still comes from the
 * signed Assertion, a Response signature that is present must still verify, and the attacks that
 * matter in this mode (unsigned or forged Assertion, wrapping, another destination or request)
 * are refused as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HttpsResponse, testDatabases } from '@realm/testing';
import { errorCodeOf, openSamlApp, type SamlAppFixture, sessionCookieOf } from './fixtures/saml/saml-app.js';

const ALICE = { nameId: 'alice@realm.test', email: 'alice@realm.test', groups: ['staff'] };
const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const SIGNATURE = /<ds:Signature[\s\S]*?<\/ds:Signature>/;

for (const database of testDatabases()) {
  describe(`SAML with Assertion-only signatures on ${database.name}`, () => {
    let app: SamlAppFixture;
    before(async () => {
      app = await openSamlApp(database, { saml: { requireSignedResponse: false } });
    });
    after(() => app?.close());

    async function refusedWith(code: string, post: () => Promise<HttpsResponse>): Promise<void> {
      const principals = await app.principalRows();
      const response = await post();
      assert.equal(errorCodeOf(response), code, `${response.status} ${response.body}`);
      assert.equal(sessionCookieOf(response), undefined);
      assert.equal(await app.principalRows(), principals, 'nothing created or changed');
    }

    it('logs in with an unsigned Response around a signed Assertion', async () => {
      const request = await app.startLogin('/account');
      const issued = app.idp.issue(request, ALICE, { signResponse: false });
      assert.equal((issued.xml.match(/<ds:Signature[ >]/g) ?? []).length, 1, 'only the Assertion is signed');
      const response = await app.postAcs(issued.samlResponse, issued.relayState);
      assert.equal(response.status, 303, response.body);
      assert.ok(sessionCookieOf(response), 'a session started');
      assert.match(await app.principalRows(), /alice@realm\.test/);
    });

    it('refuses an unsigned Assertion, a forged one, and a Response signed by an untrusted key', async () => {
      let request = await app.startLogin();
      await refusedWith('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(app.idp.issue(request, ALICE, { signResponse: false, signAssertion: false }).xml)));
      request = await app.startLogin();
      const forged = app.idp.issue(request, ALICE, { signResponse: false }).xml.replace(/>alice@realm\.test</, '>mallory@realm.test<');
      await refusedWith('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(forged)));
      request = await app.startLogin();
      await refusedWith('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(app.idp.issue(request, ALICE, { key: app.idp.untrustedKey }).xml)));
    });

    it('refuses a forged Assertion wrapped beside the signed one', async () => {
      const request = await app.startLogin();
      const xml = app.idp.issue(request, ALICE, { signResponse: false }).xml;
      const forged = ASSERTION.exec(xml)![0].replace(SIGNATURE, '').replace(/>alice@realm\.test</, '>mallory@realm.test<').replace(/ID="[^"]+"/, 'ID="_forged"');
      await refusedWith('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml.replace('<saml:Assertion ', `${forged}<saml:Assertion `))));
    });

    it('refuses another Destination, a signed Recipient of another service, and an answer to another request', async () => {
      let request = await app.startLogin();
      await refusedWith('IDENTITY_SAML_DESTINATION', () => app.postAcs(b64(app.idp.issue(request, ALICE, { signResponse: false, destination: 'https://evil.example/acs' }).xml)));
      request = await app.startLogin();
      await refusedWith('IDENTITY_SAML_RECIPIENT', () => app.postAcs(b64(app.idp.issue(request, ALICE, { signResponse: false, recipient: 'https://evil.example/acs' }).xml)));
      // The unsigned Response claims to answer a pending request; the signed confirmation answers an older, used one.
      const used = await app.startLogin();
      const first = app.idp.issue(used, ALICE, { signResponse: false });
      assert.equal((await app.postAcs(first.samlResponse, first.relayState)).status, 303);
      const pending = await app.startLogin();
      const replayed = first.xml.replace(/(<samlp:Response[^>]*InResponseTo=")[^"]+"/, `$1${pending.id}"`);
      await refusedWith('IDENTITY_SAML_REPLAY', () => app.postAcs(b64(replayed)));
    });
  });
}
