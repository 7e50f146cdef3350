/**
 * The attack corpus against the SAML SP, over real HTTPS with an independent IdP (samlify), on
 * every database. Each case is refused with its own error class, sets no session cookie, creates
 * or changes no principal, and leaves an audit record with the reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HttpsResponse, type ParsedAuthnRequest, testDatabases } from '@realm/testing';
import { errorCodeOf, openSamlApp, type SamlAppFixture, sessionCookieOf } from './fixtures/saml/saml-app.js';

const ALICE = { nameId: 'alice@realm.test', email: 'alice@realm.test', groups: ['staff'] };
const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const SIGNATURE = /<ds:Signature[\s\S]*?<\/ds:Signature>/;

/** The assertion of a signed response, with its signature removed and its subject changed. */
function forgedAssertion(signedXml: string, nameId = 'mallory@realm.test'): string {
  return ASSERTION.exec(signedXml)![0].replace(SIGNATURE, '').replace(/>alice@realm\.test</, `>${nameId}<`);
}

for (const database of testDatabases()) {
  describe(`SAML attack corpus on ${database.name}`, () => {
    let app: SamlAppFixture;

    before(async () => {
      app = await openSamlApp(database);
    });
    after(async () => {
      await app?.close();
    });

    /** Posts `samlResponse` and checks the refusal: code, status, no cookie, nothing changed, audited. */
    async function refused(code: string, post: () => Promise<HttpsResponse>, status?: number): Promise<void> {
      const principalsBefore = await app.principalRows();
      const sessionsBefore = await app.sessionCount();
      const auditedBefore = (await app.fx.auditBodies()).filter((b) => b.includes(`"reason":"${code}"`)).length;
      const response = await post();
      assert.equal(errorCodeOf(response), code, `${response.status} ${response.body}`);
      if (status !== undefined) assert.equal(response.status, status);
      assert.ok(response.status >= 400 && response.status < 500);
      assert.equal(sessionCookieOf(response), undefined, 'no session cookie');
      assert.equal(response.headers['location'], undefined, 'no redirect');
      assert.ok(!response.body.includes('Assertion') && !response.body.includes('alice@'), 'the error shows nothing of the response');
      assert.equal(await app.principalRows(), principalsBefore, 'no principal created or changed');
      assert.equal(await app.sessionCount(), sessionsBefore, 'no session created');
      const audited = (await app.fx.auditBodies()).filter((b) => b.includes(`"reason":"${code}"`));
      assert.equal(audited.length, auditedBefore + 1, 'one audit record with the reason');
      assert.ok(audited.at(-1)!.includes('"outcome":"denied"'));
    }

    /** A fresh pending request and the genuine signed response to it. */
    async function genuine(options: Parameters<SamlAppFixture['idp']['issue']>[2] = {}): Promise<{ request: ParsedAuthnRequest; xml: string }> {
      const request = await app.startLogin();
      return { request, xml: app.idp.issue(request, ALICE, options).xml };
    }

    it('refuses an unsigned Response', async () => {
      const { xml } = await genuine({ signResponse: false });
      await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml)), 401);
    });

    it('refuses an unsigned Assertion inside a signed Response', async () => {
      const { xml } = await genuine({ signAssertion: false });
      await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml)));
    });

    it('refuses a response signed by an untrusted key', async () => {
      const { xml } = await genuine({ key: app.idp.untrustedKey });
      await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml)));
    });

    it('refuses a signed response whose NameID was changed after signing', async () => {
      const { xml } = await genuine();
      await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml.replace('>alice@realm.test<', '>mallory@realm.test<'))));
    });

    describe('signature wrapping', () => {
      it('refuses a forged assertion placed before the signed one', async () => {
        const { xml } = await genuine();
        const wrapped = xml.replace('<saml:Assertion ', `${forgedAssertion(xml).replace(/ID="[^"]+"/, 'ID="_forged"')}<saml:Assertion `);
        await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(wrapped)));
      });

      it('refuses the signed assertion moved into Extensions with a forged one (same ID) in its place', async () => {
        const { xml } = await genuine();
        const original = ASSERTION.exec(xml)![0];
        const wrapped = xml.replace(original, forgedAssertion(xml)).replace('<samlp:Status>', `<samlp:Extensions>${original}</samlp:Extensions><samlp:Status>`);
        await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(wrapped)));
      });

      it('refuses the signed assertion hidden in the SubjectConfirmationData of a forged one', async () => {
        const { xml } = await genuine();
        const original = ASSERTION.exec(xml)![0];
        const forged = forgedAssertion(xml)
          .replace(/ID="[^"]+"/, 'ID="_forged"')
          .replace(/<saml:SubjectConfirmationData([^>]*)\/>/, `<saml:SubjectConfirmationData$1>${original}</saml:SubjectConfirmationData>`);
        await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml.replace(original, forged))));
      });

      it('refuses the signed Response wrapped inside an unsigned one carrying a forged assertion', async () => {
        const { xml } = await genuine();
        const outer = xml
          .replace(SIGNATURE, '')
          .replace(ASSERTION, forgedAssertion(xml))
          .replace(/ID="_r[0-9a-f]+"/, 'ID="_outer"')
          .replace('<samlp:Status>', `<samlp:Extensions>${xml}</samlp:Extensions><samlp:Status>`);
        await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(outer)));
      });

      it('refuses an assertion signature that references the Response instead of the Assertion', async () => {
        const { xml } = await genuine();
        const responseId = /<samlp:Response [^>]*ID="([^"]+)"/.exec(xml)![1]!;
        const assertionId = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(xml)![1]!;
        await refused('IDENTITY_SAML_SIGNATURE_INVALID', () => app.postAcs(b64(xml.replace(`URI="#${assertionId}"`, `URI="#${responseId}"`))));
      });
    });

    it('refuses a comment inside the NameID (alice@realm.test<!---->.evil.com)', async () => {
      const request = await app.startLogin();
      const { xml } = app.idp.issue(request, { ...ALICE, nameId: 'alice@realm.test.evil.com' });
      const injected = xml.replace('>alice@realm.test.evil.com<', '>alice@realm.test<!---->.evil.com<');
      await refused('IDENTITY_SAML_MALFORMED', () => app.postAcs(b64(injected)), 400);
      assert.equal(await app.fx.identity.principals.findUserByName('alice@realm.test'), undefined);
    });

    it('refuses a DOCTYPE with an external entity', async () => {
      const { xml } = await genuine();
      const doctype = `<?xml version="1.0"?><!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${xml.replace('>alice@realm.test<', '>&xxe;<')}`;
      await refused('IDENTITY_SAML_MALFORMED', () => app.postAcs(b64(doctype)));
    });

    it('refuses an RSA-SHA1 signature', async () => {
      const { xml } = await genuine({ algorithm: 'rsa-sha1' });
      await refused('IDENTITY_SAML_WEAK_ALGORITHM', () => app.postAcs(b64(xml)));
    });

    it('refuses a wrong audience, recipient, destination and issuer', async () => {
      await refused('IDENTITY_SAML_AUDIENCE', async () => app.postAcs(b64((await genuine({ audience: 'https://other.example/sp' })).xml)));
      await refused('IDENTITY_SAML_RECIPIENT', async () => app.postAcs(b64((await genuine({ recipient: 'https://other.example/acs' })).xml)));
      await refused('IDENTITY_SAML_DESTINATION', async () => app.postAcs(b64((await genuine({ destination: 'https://other.example/acs' })).xml)));
      await refused('IDENTITY_SAML_ISSUER', async () => app.postAcs(b64((await genuine({ issuer: 'https://other-idp.example' })).xml)));
    });

    it('refuses an expired and a not-yet-valid assertion (beyond the clock skew)', async () => {
      const skewMs = app.config.identity.saml.clockSkewSeconds * 1000;
      const now = Date.now();
      await refused('IDENTITY_SAML_EXPIRED', async () =>
        app.postAcs(b64((await genuine({ notBefore: new Date(now - 3_600_000), notOnOrAfter: new Date(now - skewMs - 60_000) })).xml)),
      );
      await refused('IDENTITY_SAML_NOT_YET_VALID', async () =>
        app.postAcs(b64((await genuine({ notBefore: new Date(now + skewMs + 60_000), notOnOrAfter: new Date(now + 3_600_000) })).xml)),
      );
    });

    it('refuses a replayed response, and lets exactly one of two concurrent submissions in', async () => {
      const first = await genuine();
      const accepted = await app.postAcs(b64(first.xml));
      assert.equal(accepted.status, 303, accepted.body);
      await refused('IDENTITY_SAML_REPLAY', () => app.postAcs(b64(first.xml)));

      const second = await genuine();
      const answers = await Promise.all([app.postAcs(b64(second.xml)), app.postAcs(b64(second.xml))]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [303, 401]);
      assert.equal(errorCodeOf(answers.find((a) => a.status === 401)!), 'IDENTITY_SAML_REPLAY');
    });

    it('refuses a response to a request it never sent, and to one that expired', async () => {
      const forgedRequest = { id: '_0123456789abcdef0123456789abcdef01234567', issuer: app.config.identity.saml.spEntityId, acsUrl: app.acsUrl, relayState: undefined };
      await refused('IDENTITY_SAML_REPLAY', () => app.postAcs(app.idp.issue(forgedRequest, ALICE).samlResponse));
      const request = await app.startLogin();
      app.fx.clock.now += app.config.identity.saml.requestLifetimeSeconds * 1000 + 1000;
      try {
        await refused('IDENTITY_SAML_REPLAY', () => app.postAcs(app.idp.issue(request, ALICE).samlResponse));
      } finally {
        app.fx.clock.now -= app.config.identity.saml.requestLifetimeSeconds * 1000 + 1000;
      }
      const purged = await app.fx.db.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM identity_saml_requests WHERE id = ?'.replace('?', database.name === 'postgres' ? '$1' : '?'), [request.id]);
      assert.equal(Number(purged[0]!.n), 0, 'the expired request id is purged');
    });

    it('refuses an unsolicited (IdP-initiated) response while that is off', async () => {
      await refused('IDENTITY_SAML_UNSOLICITED', () => app.postAcs(app.idp.issue(undefined, ALICE).samlResponse));
    });

    it('refuses an oversized body, a body that is not base64, and one that is not XML', async () => {
      await refused('IDENTITY_SAML_TOO_LARGE', () => app.postAcs('A'.repeat(300 * 1024)), 413);
      await refused('IDENTITY_SAML_MALFORMED', () => app.postAcs('not base64 at all!'), 400);
      await refused('IDENTITY_SAML_MALFORMED', () => app.postAcs(b64('{"this":"is json, not XML"}')), 400);
      await refused('IDENTITY_SAML_MALFORMED', () => app.postAcs(b64('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><unclosed>')), 400);
    });

    it('refuses a RelayState or returnTo pointing off-site, before creating anything', async () => {
      for (const target of ['https://evil.example/', '//evil.example/path', '/\\evil.example', 'javascript:alert(1)', '/\t/evil.example', ' /account']) {
        const request = await app.startLogin();
        const issued = app.idp.issue(request, { ...ALICE, nameId: 'relay@realm.test' });
        await refused('IDENTITY_SAML_RELAY_STATE', () => app.postAcs(issued.samlResponse, target), 400);
      }
      await refused('IDENTITY_SAML_RELAY_STATE', () => app.request('GET', `/saml/login?returnTo=${encodeURIComponent('https://evil.example/')}`), 400);
      assert.equal(await app.fx.identity.principals.findUserByName('relay@realm.test'), undefined);
    });
  });

  describe(`SAML policy switches on ${database.name}`, () => {
    it('accepts RSA-SHA1 only with identity.saml.allowSha1, and IdP-initiated only with allowIdpInitiated (once each)', async () => {
      const app = await openSamlApp(database, { saml: { allowSha1: true, allowIdpInitiated: true } });
      try {
        const request = await app.startLogin();
        const sha1 = await app.postAcs(app.idp.issue(request, ALICE, { algorithm: 'rsa-sha1' }).samlResponse);
        assert.equal(sha1.status, 303, sha1.body);
        const unsolicited = app.idp.issue(undefined, ALICE);
        const first = await app.postAcs(unsolicited.samlResponse);
        assert.equal(first.status, 303, first.body);
        assert.ok(sessionCookieOf(first));
        const again = await app.postAcs(unsolicited.samlResponse);
        assert.equal(errorCodeOf(again), 'IDENTITY_SAML_REPLAY');
      } finally {
        await app.close();
      }
    });
  });
}
