/**
 * The service CA on every database: one CA however many nodes initialise it; certificates for
 * EC P-256 and RSA service keys; JWK + x5c credentials verified, and every hostile variant refused
 * (another CA with the same name, expired, self-signed, another key, revoked, a disabled service,
 * malformed input) without ever crashing; a CA swapped in the database is detected.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey, X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { portableSql, testDatabases } from '@realm/testing';
import { SERVICE_CA_COMMON_NAME, serviceCaKeyUri, ServiceCertificateAuthority } from '../src/index.js';
import { forgePrivateKey, hostileCertificate, inspectRsaCertificate, rsaKeyPair } from './hostile-certs.js';
import { type IdentityFixture, identityError, ISSUER, openIdentityFixture, openNodeFromEnv } from './helpers.js';

const run = promisify(execFile);
const nodeFixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'identity-node.js');
const DAY = 86_400_000;
const CA_NAME = { commonName: SERVICE_CA_COMMON_NAME, organizationName: 'Example Corp' };

function p256(): { jwk: JsonWebKey; publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { jwk: publicKey.export({ format: 'jwk' }), publicKey };
}

for (const database of testDatabases()) {
  describe(`service CA on ${database.name}`, () => {
    let fx: IdentityFixture;
    let caId: string;

    before(async () => {
      fx = await openIdentityFixture(database, { initializeServiceCa: false, serviceCa: { organizationName: 'Example Corp' } });
    });
    after(async () => {
      await fx.close();
    });

    it('initialises one CA, twice or by two instances at once', async () => {
      const peer = await fx.openPeer({ serviceCa: { organizationName: 'Example Corp' } });
      const [a, b] = await Promise.all([fx.identity.serviceCa.initialize(), peer.serviceCa.initialize()]);
      assert.equal(a.caId, b.caId);
      assert.equal(a.fingerprintSha256, b.fingerprintSha256);
      assert.equal([a.created, b.created].filter(Boolean).length, 1);
      const again = await fx.identity.serviceCa.initialize();
      assert.deepEqual(again, { created: false, caId: a.caId, fingerprintSha256: a.fingerprintSha256 });
      assert.deepEqual(await fx.db.query('SELECT id, state FROM identity_service_cas'), [{ id: a.caId, state: 'active' }]);
      caId = a.caId;
    });

    it('makes an RSA-3072 CA certificate with pathlen 0 and keyCertSign/cRLSign only, its key sealed in the vault', async () => {
      const pem = await fx.identity.serviceCa.caCertificatePem();
      const ca = new X509Certificate(pem);
      assert.equal(ca.ca, true);
      assert.equal(ca.subject, `O=Example Corp\nCN=${SERVICE_CA_COMMON_NAME}`);
      assert.equal(ca.issuer, ca.subject);
      assert.equal(ca.verify(ca.publicKey), true);
      assert.equal(ca.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
      const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365 * DAY);
      assert.ok(years > 9.9 && years < 10.1, String(years));
      const forgeCa = inspectRsaCertificate(pem);
      assert.equal(forgeCa.siginfo.algorithmOid, '1.2.840.113549.1.1.11');
      const basic = forgeCa.getExtension('basicConstraints') as { critical: boolean; cA: boolean; pathLenConstraint: number };
      assert.deepEqual([basic.critical, basic.cA, basic.pathLenConstraint], [true, true, 0]);
      const usage = forgeCa.getExtension('keyUsage') as Record<string, boolean>;
      assert.deepEqual([usage['critical'], usage['keyCertSign'], usage['cRLSign'], usage['digitalSignature']], [true, true, true, false]);
      assert.ok(await fx.vault.getKey(serviceCaKeyUri(caId)));
    });

    it('creates one CA when two processes initialise it at once', async () => {
      const created = await database.create();
      try {
        const env = { ...process.env, ...created.env, REALM_LOG_LEVEL: 'silent' };
        // Migrations, vault and the first signing key first, as `realmctl init` would.
        await run(process.execPath, [nodeFixture, 'seed'], { env });
        const outcomes = await Promise.all([run(process.execPath, [nodeFixture, 'init-ca'], { env }), run(process.execPath, [nodeFixture, 'init-ca'], { env })]);
        const [a, b] = outcomes.map((o) => JSON.parse(o.stdout) as { created: boolean; caId: string; fingerprintSha256: string });
        assert.equal(a!.caId, b!.caId);
        assert.equal(a!.fingerprintSha256, b!.fingerprintSha256);
        assert.equal([a!.created, b!.created].filter(Boolean).length, 1);
        const check = await openNodeFromEnv(created.env, { tokens: { issuer: ISSUER }, initializeServiceCa: false });
        try {
          assert.deepEqual(await check.db.query('SELECT id FROM identity_service_cas'), [{ id: a!.caId }]);
          assert.deepEqual(await check.identity.serviceCa.initialize(), { ...a!, created: false });
        } finally {
          await check.close();
        }
      } finally {
        await created.drop();
      }
    });

    it('certifies a P-256 key, and verifies the JWK + x5c credential', async () => {
      const { jwk } = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('bot-1', jwk);
      assert.equal(issued.principal.id, 'service:bot-1');
      assert.deepEqual(issued.principal.roles, ['service']);
      assert.match(issued.serialNumber, /^[0-9a-f]{31,32}$/);
      assert.equal(Math.round((issued.notAfter.getTime() - fx.clock.now) / DAY), 365);
      const leaf = new X509Certificate(Buffer.from(issued.x5c[0], 'base64'));
      assert.equal(leaf.subject, 'CN=bot-1');
      assert.equal(leaf.issuer, `O=Example Corp\nCN=${SERVICE_CA_COMMON_NAME}`);
      assert.equal(leaf.subjectAltName, 'URI:urn:realm:service:bot-1');
      assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      assert.equal(leaf.ca, false);
      assert.equal(leaf.serialNumber.toLowerCase().replace(/^0+/, ''), issued.serialNumber.replace(/^0+/, ''));
      assert.equal(leaf.checkIssued(new X509Certificate(Buffer.from(issued.x5c[1], 'base64'))), true);
      assert.equal(leaf.toString(), issued.certificatePem);

      for (const x5c of [[...issued.x5c], [issued.x5c[0]]]) {
        const verified = await fx.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c });
        assert.equal(verified.principal.id, 'service:bot-1');
        assert.equal(verified.certificateFingerprint, issued.fingerprintSha256);
        assert.equal(verified.serialNumber, issued.serialNumber);
      }
      // Another node, with a cold cache, agrees.
      const peer = await fx.openNode();
      assert.equal((await peer.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c: issued.x5c })).principal.id, 'service:bot-1');
    });

    it('certifies RSA keys given as a KeyObject, for an existing service', async () => {
      await fx.identity.principals.createService('indexer', { roles: ['service', 'org-agent'] });
      const rsa = rsaKeyPair();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('indexer', rsa.keyObject, { validityDays: 30 });
      assert.deepEqual(issued.principal.roles, ['org-agent', 'service']);
      const verified = await fx.identity.serviceCa.verifyServiceCredential({ ...rsa.jwk, x5c: issued.x5c });
      assert.equal(verified.principal.id, 'service:indexer');
    });

    it('refuses to certify unsuitable keys, names and services', async () => {
      const ca = fx.identity.serviceCa;
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
      const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
      const ed25519 = generateKeyPairSync('ed25519').publicKey;
      const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      for (const key of [p384, rsa1024, ed25519, privateKey, privateKey.export({ format: 'jwk' }), { kty: 'oct', k: 'AAAA' }]) {
        await assert.rejects(ca.issueServiceCertificate('bot-2', key as JsonWebKey), identityError('IDENTITY_INVALID_ARGUMENT'));
      }
      await assert.rejects(ca.issueServiceCertificate('Bot 2', p256().jwk), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(ca.issueServiceCertificate('bot-2', p256().jwk, { validityDays: 0 }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await assert.rejects(ca.issueServiceCertificate('bot-2', p256().jwk, { validityDays: 5000 }), identityError('IDENTITY_INVALID_ARGUMENT'));
      await fx.identity.principals.createService('retired-bot');
      await fx.identity.principals.disable('service:retired-bot');
      await assert.rejects(ca.issueServiceCertificate('retired-bot', p256().jwk), identityError('IDENTITY_PRINCIPAL_DISABLED'));
    });

    it('refuses a chain from another CA, even one with the same name', async () => {
      const rogueCa = rsaKeyPair();
      const leafKey = rsaKeyPair();
      const now = fx.clock.now;
      const rogueCaCert = hostileCertificate({ subject: CA_NAME, issuer: CA_NAME, subjectKey: rogueCa.publicKey, signingKey: rogueCa.privateKey, notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY), ca: true });
      const leaf = hostileCertificate({ subject: { commonName: 'bot-1' }, issuer: CA_NAME, subjectKey: leafKey.publicKey, signingKey: rogueCa.privateKey, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY), uri: 'urn:realm:service:bot-1' });
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...leafKey.jwk, x5c: [leaf] }), identityError('IDENTITY_CERTIFICATE_INVALID', /not issued by the service CA/));
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...leafKey.jwk, x5c: [leaf, rogueCaCert] }), identityError('IDENTITY_CERTIFICATE_INVALID', /CA other than/));
      // The real CA certificate itself, presented as a leaf with its own key.
      const caPem = await fx.identity.serviceCa.caCertificatePem();
      const caCert = new X509Certificate(caPem);
      await assert.rejects(
        fx.identity.serviceCa.verifyServiceCredential({ ...caCert.publicKey.export({ format: 'jwk' }), x5c: [caCert.raw.toString('base64')] }),
        identityError('IDENTITY_CERTIFICATE_INVALID', /CA certificate/),
      );
    });

    it('refuses a self-signed leaf', async () => {
      const key = rsaKeyPair();
      const now = fx.clock.now;
      const name = { commonName: 'bot-1' };
      const selfSigned = hostileCertificate({ subject: name, issuer: name, subjectKey: key.publicKey, signingKey: key.privateKey, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY), uri: 'urn:realm:service:bot-1' });
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...key.jwk, x5c: [selfSigned] }), identityError('IDENTITY_CERTIFICATE_INVALID', /not issued by the service CA/));
    });

    it('refuses an expired leaf, and one signed by the real CA key but never recorded', async () => {
      const { jwk } = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('short-lived', jwk, { validityDays: 1 });
      await fx.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c: issued.x5c });
      const start = fx.clock.now;
      try {
        fx.clock.now = start + 2 * DAY;
        await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c: issued.x5c }), identityError('IDENTITY_CERTIFICATE_INVALID', /expired/));
      } finally {
        fx.clock.now = start;
      }
      // Built with forge and the real CA key (taken from the vault, as a thief would): expired, then valid but unrecorded.
      const caKey = forgePrivateKey((await fx.vault.getKey(serviceCaKeyUri(caId)))!);
      const leafKey = rsaKeyPair();
      const expired = hostileCertificate({ subject: { commonName: 'bot-1' }, issuer: CA_NAME, subjectKey: leafKey.publicKey, signingKey: caKey, notBefore: new Date(start - 60 * DAY), notAfter: new Date(start - DAY), uri: 'urn:realm:service:bot-1' });
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...leafKey.jwk, x5c: [expired] }), identityError('IDENTITY_CERTIFICATE_INVALID', /expired/));
      const unrecorded = hostileCertificate({ subject: { commonName: 'bot-1' }, issuer: CA_NAME, subjectKey: leafKey.publicKey, signingKey: caKey, notBefore: new Date(start - DAY), notAfter: new Date(start + DAY), uri: 'urn:realm:service:bot-1' });
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...leafKey.jwk, x5c: [unrecorded] }), identityError('IDENTITY_CERTIFICATE_INVALID', /no record/));
    });

    it('refuses a leaf whose key is not the JWK key', async () => {
      const certified = p256();
      const other = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('bot-3', certified.jwk);
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...other.jwk, x5c: issued.x5c }), identityError('IDENTITY_CERTIFICATE_INVALID', /not the key/));
      const rsa = rsaKeyPair();
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential({ ...rsa.jwk, x5c: issued.x5c }), identityError('IDENTITY_CERTIFICATE_INVALID', /not the key/));
    });

    it('refuses a revoked certificate from the next request on, on every node', async () => {
      const { jwk } = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('bot-4', jwk);
      const peer = await fx.openNode();
      await peer.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c: issued.x5c });
      assert.deepEqual(await fx.identity.serviceCa.revokeServiceCertificate(issued.serialNumber.toUpperCase()), { revoked: true });
      assert.deepEqual(await fx.identity.serviceCa.revokeServiceCertificate(issued.serialNumber), { revoked: false });
      const [record] = await fx.identity.serviceCa.certificatesOf('service:bot-4');
      assert.equal(record!.serialNumber, issued.serialNumber);
      assert.equal(record!.revoked, true);
      assert.ok(record!.revokedAt instanceof Date);
      for (const node of [fx, peer]) {
        await assert.rejects(node.identity.serviceCa.verifyServiceCredential({ ...jwk, x5c: issued.x5c }), identityError('IDENTITY_CERTIFICATE_INVALID', /revoked/));
      }
      await assert.rejects(fx.identity.serviceCa.revokeServiceCertificate('abcdef'), identityError('IDENTITY_CERTIFICATE_NOT_FOUND'));
      await assert.rejects(fx.identity.serviceCa.revokeServiceCertificate('not hex'), identityError('IDENTITY_INVALID_ARGUMENT'));
    });

    it('refuses the credential of a disabled service from the next request on', async () => {
      const { jwk } = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('bot-5', jwk);
      const credential = { ...jwk, x5c: issued.x5c };
      await fx.identity.serviceCa.verifyServiceCredential(credential);
      await fx.identity.principals.disable('service:bot-5');
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential(credential), identityError('IDENTITY_PRINCIPAL_DISABLED'));
      await fx.identity.principals.enable('service:bot-5');
      await fx.identity.serviceCa.verifyServiceCredential(credential);
      await fx.identity.principals.delete('service:bot-5');
      await assert.rejects(fx.identity.serviceCa.verifyServiceCredential(credential), identityError('IDENTITY_PRINCIPAL_DISABLED'));
    });

    it('refuses malformed credentials without crashing', async () => {
      const { jwk } = p256();
      const issued = await fx.identity.serviceCa.issueServiceCertificate('bot-6', jwk);
      const [leaf, ca] = issued.x5c;
      const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      const inputs: unknown[] = [
        undefined,
        null,
        'jwk',
        [],
        {},
        { kty: 'EC' },
        { ...jwk },
        { ...jwk, x5c: [] },
        { ...jwk, x5c: 'not-an-array' },
        { ...jwk, x5c: [42] },
        { ...jwk, x5c: [Buffer.from(leaf, 'base64').toString('base64url')] },
        { ...jwk, x5c: ['AAAA'] },
        { ...jwk, x5c: [leaf.slice(0, 200)] },
        { ...jwk, x5c: [leaf, ca, ca] },
        { ...jwk, x5c: [ca, leaf] },
        { ...jwk, x: 'AAAA', x5c: [leaf] },
        { ...jwk, crv: 'P-384', x5c: [leaf] },
        { ...privateJwk, x5c: [leaf] },
        { kty: 'oct', k: 'AAAA', x5c: [leaf] },
        { ...jwk, x5c: ['A'.repeat(20_000)] },
      ];
      for (const input of inputs) await assert.rejects(fx.identity.serviceCa.verifyServiceCredential(input), identityError('IDENTITY_CERTIFICATE_INVALID'));
    });

    it('detects a CA certificate swapped in the database', async () => {
      const rogue = rsaKeyPair();
      const now = fx.clock.now;
      const rogueCa = hostileCertificate({ subject: CA_NAME, issuer: CA_NAME, subjectKey: rogue.publicKey, signingKey: rogue.privateKey, notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY), ca: true });
      const original = await fx.identity.serviceCa.caCertificatePem();
      const rogueRow = new X509Certificate(Buffer.from(rogueCa, 'base64')).toString();
      await fx.db.query(portableSql(fx.db.driver, 'UPDATE identity_service_cas SET certificate = ? WHERE id = ?'), [rogueRow, caId]);
      try {
        const fresh = new ServiceCertificateAuthority(fx.db, fx.vault, fx.audit, fx.identity.principals, { organizationName: 'Example Corp' });
        await assert.rejects(fresh.caCertificatePem(), identityError('IDENTITY_CA_INVALID'));
      } finally {
        await fx.db.query(portableSql(fx.db.driver, 'UPDATE identity_service_cas SET certificate = ? WHERE id = ?'), [original, caId]);
      }
    });

    it('audits the CA, issuance and revocation, with no certificate or key in the log', async () => {
      const bodies = await fx.auditBodies();
      const actions = bodies.map((b) => (JSON.parse(b) as { action: string }).action);
      assert.equal(actions.filter((a) => a === 'identity.service-ca.create').length, 1);
      assert.ok(actions.filter((a) => a === 'identity.certificate.issue').length >= 6);
      assert.equal(actions.filter((a) => a === 'identity.certificate.revoke').length, 1);
      const all = bodies.join('\n');
      assert.equal(all.includes('BEGIN'), false);
      assert.equal(all.includes('MII'), false, 'no DER certificate in the log');
    });
  });
}
