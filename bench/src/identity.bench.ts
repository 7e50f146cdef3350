/**
 * Identity benchmark: access-token verifications per second as the KMS performs them on every
 * request (signature, claims, and the principal read from the database so that a disabled user is
 * refused on the very next request), with the signature cache (a client reuses its token) and
 * without it (every token new), on SQLite; against floors measured in the same run:
 * - uncached: node:crypto's raw ES256 verification of the same token (no claims, no database);
 * - cached: the SHA-256 of the token that keys the cache plus a raw better-sqlite3 primary-key read
 *   of the principal row, i.e. the two things a cached verification cannot skip.
 *
 * And SAML logins per second, end to end in process: for each login our SP makes a fresh
 * AuthnRequest (its id stored in the database), the test IdP (samlify, TestSamlIdp) parses it and
 * signs a response (Response and Assertion, RSA-SHA256), the SP verifies it, upserts the user and
 * starts a session. The SP is driven directly (SamlServiceProvider.loginUrl, acceptResponse and
 * SessionService.start over the runtime opened here, as the /saml/login and /saml/acs handlers call
 * them), not over HTTP, so the figure is the identity code's and not Nest's or TLS's. Two figures:
 * - logins/s with the IdP's work included (what one process doing both sides sustains);
 * - logins/s of the SP's work alone (AuthnRequest + ACS + session; the IdP's part untimed), against
 *   the floor of node:crypto's raw verification of the two RSA-SHA256 signatures such a response
 *   carries. The SP also parses, screens and canonicalises the XML, finds the signed references
 *   (node-saml's xml-crypto with XPath over xmldom: most of a profile), verifies the Response again
 *   to read only what is signed, and writes the request's consumption, the user, the session and
 *   the audit records, so its ratio to that floor is reported, not gated.
 *
 * Last line: one JSON object with the figures and the ratios.
 */
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { AuditLog } from '@realm/audit';
import { openIdentity, openSamlLogin } from '@realm/identity';
import { openDatabaseAndVault } from '@realm/realm/runtime';
import { makeTempDir, testConfig, TestSamlIdp, type IssuedResponse, type TestIdpUser } from '@realm/testing';
import { opsPerSecond, round } from './measure.js';

// The uncached path is dominated by ECDSA P-256 verification; the rest (claims, key lookup, one
// primary-key read) must stay within a factor of two of it.
const TARGET = { uncachedRatio: 0.5 };

const dir = makeTempDir('realm-bench-identity-');
const idp = TestSamlIdp.create();
const idpMetadataFile = join(dir, 'idp-metadata.xml');
idp.writeMetadata(idpMetadataFile);
const config = testConfig({ REALM_DATA_DIR: dir, REALM_IDENTITY_SAML_IDP_METADATA_FILE: idpMetadataFile });
const { db, vault } = await openDatabaseAndVault(config);
await vault.initialize();
const audit = await AuditLog.open(db, vault, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds });
const identity = await openIdentity(db, vault, audit, { tokens: { issuer: config.identity.issuer } });
const uncachedIdentity = await openIdentity(db, vault, audit, { tokens: { issuer: config.identity.issuer, verifiedTokenCacheSize: 0 }, initializeServiceCa: false });

const user = await identity.principals.createUser({ userName: 'bench-user' });
const { accessToken } = await identity.tokens.issueAccessToken(user.id, { audience: 'kms', clientId: 'bench' });
const kid = (JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
const jwk = (await identity.tokens.jwks()).keys.find((k) => k.kid === kid)!;

const cached = await opsPerSecond(() => identity.tokens.verifyAccessToken(accessToken, { audience: 'kms' }));
const uncached = await opsPerSecond(() => uncachedIdentity.tokens.verifyAccessToken(accessToken, { audience: 'kms' }));

// Floors.
const publicKey = createPublicKey({ key: { ...jwk }, format: 'jwk' });
const [header, payload, signature] = accessToken.split('.') as [string, string, string];
const signingInput = Buffer.from(`${header}.${payload}`);
const signatureBytes = Buffer.from(signature, 'base64url');
const rawEs256 = await opsPerSecond(() => verify('sha256', signingInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signatureBytes));
const require = createRequire(import.meta.url);
const BetterSqlite3 = require('better-sqlite3') as new (path: string, options?: { readonly?: boolean }) => { prepare(sql: string): { get(...p: unknown[]): unknown }; close(): void };
const raw = new BetterSqlite3(join(dir, 'realm.db'), { readonly: true });
const principalRead = raw.prepare('SELECT * FROM identity_principals WHERE id = ?');
const cacheFloor = await opsPerSecond(() => {
  createHash('sha256').update(accessToken).digest();
  return principalRead.get(user.id);
});
raw.close();

// SAML logins.
const login = openSamlLogin(config, db, audit, identity);
const sp = login.serviceProvider!;
idp.trustServiceProvider(sp.metadataXml());
/** 100 users, created by the first logins (the warm-up) and updated by the others, as day-to-day sign-ins do. */
const users: TestIdpUser[] = Array.from({ length: 100 }, (_, i) => ({ nameId: `user${i}@realm.bench`, email: `user${i}@realm.bench`, groups: ['staff'] }));
let nextUser = 0;
/**
 * The ACS handler's calls without Express: a browser with no session cookie yet, and a response
 * that only collects Set-Cookie (all SessionService.start touches).
 */
const browserRequest = () => ({ headers: {} }) as unknown as Request;
const browserResponse = () => ({ append: () => undefined }) as unknown as Response;

/** Our SP's half: a fresh AuthnRequest (stored), the redirect URL the IdP reads it from. */
const startLogin = () => sp.loginUrl('/account');
/** The IdP's half: parse the AuthnRequest, sign a response for the next user. */
const idpAnswer = async (redirectUrl: string) => idp.issue(await idp.parseAuthnRequest(redirectUrl), users[nextUser++ % users.length]!);
/** Our SP's ACS: verify, upsert the user, start a session. */
const finishLogin = async (issued: IssuedResponse) => {
  const signedIn = await sp.acceptResponse({ SAMLResponse: issued.samlResponse, RelayState: issued.relayState });
  await login.sessions.start(signedIn.principal.id, browserRequest(), browserResponse());
};

const loginsEndToEnd = await opsPerSecond(async () => finishLogin(await idpAnswer(await startLogin())));

/** The SP's work alone: AuthnRequests and ACS steps are timed, the IdP's signing in between is not. */
async function spLoginsPerSecond(seconds = 2): Promise<number> {
  let timedMs = 0;
  let count = 0;
  while (timedMs < seconds * 1000) {
    const urls: string[] = [];
    let t = performance.now();
    for (let i = 0; i < 32; i++) urls.push(await startLogin());
    timedMs += performance.now() - t;
    const responses: IssuedResponse[] = [];
    for (const url of urls) responses.push(await idpAnswer(url));
    t = performance.now();
    for (const issued of responses) await finishLogin(issued);
    timedMs += performance.now() - t;
    count += responses.length;
  }
  return count / (timedMs / 1000);
}
const loginsSpOnly = await spLoginsPerSecond();

/**
 * The floor: the two signatures of one such response (Response, then Assertion) verified with
 * node:crypto over their SignedInfo, canonicalised here by hand (exclusive c14n of this exact
 * output: the ds namespace declared on SignedInfo, empty elements written out as start and end
 * tags). Each verification is checked once, so the floor is the real work and not a failing shortcut.
 */
const sample = await idpAnswer(await startLogin());
const idpKey = new X509Certificate(idp.signingKey.certificatePem).publicKey;
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const signatures = [...sample.xml.matchAll(/<ds:Signature xmlns:ds="[^"]+">(<ds:SignedInfo>.*?<\/ds:SignedInfo>)<ds:SignatureValue>([^<]+)<\/ds:SignatureValue>/gs)].map((m) => ({
  signedInfo: Buffer.from(m[1]!.replace('<ds:SignedInfo>', `<ds:SignedInfo xmlns:ds="${DSIG}">`).replace(/<(ds:[A-Za-z]+)([^>]*)\/>/g, '<$1$2></$1>'), 'utf8'),
  value: Buffer.from(m[2]!.replace(/\s/g, ''), 'base64'),
}));
if (signatures.length !== 2 || !signatures.every((sig) => verify('sha256', sig.signedInfo, idpKey, sig.value))) {
  throw new Error(`the floor does not verify the sample response's two signatures (found ${signatures.length})`);
}
const rawRsaPairs = await opsPerSecond(() => signatures.every((sig) => verify('sha256', sig.signedInfo, idpKey, sig.value)));

await audit.close();
vault.close();
await db.close();

const result = {
  benchmark: 'identity',
  unit: 'access-token verifications per second (SQLite)',
  cached: round(cached),
  cachedFloor: round(cacheFloor),
  cachedRatio: +(cached / cacheFloor).toFixed(3),
  uncached: round(uncached),
  uncachedFloorRawEs256: round(rawEs256),
  uncachedRatio: +(uncached / rawEs256).toFixed(3),
  loginUnit: 'SAML logins per second (SQLite, in process: AuthnRequest, signed response, ACS verification, user upsert, session)',
  logins: round(loginsEndToEnd),
  loginsSpOnly: round(loginsSpOnly),
  loginFloorRawRsaSha256Pairs: round(rawRsaPairs),
  loginSpRatio: +(loginsSpOnly / rawRsaPairs).toFixed(4),
  target: TARGET,
  pass: uncached / rawEs256 >= TARGET.uncachedRatio,
};
console.log(`token verification, cached signature  : ${result.cached} /s (floor: sha-256 + raw principal read ${result.cachedFloor} /s, ${(result.cachedRatio * 100).toFixed(1)}%)`);
console.log(`token verification, uncached          : ${result.uncached} /s (floor: raw ES256 verify ${result.uncachedFloorRawEs256} /s, ${(result.uncachedRatio * 100).toFixed(1)}%)`);
console.log(`SAML login, test IdP's work included  : ${result.logins} /s (samlify parsing + xmllint schema check + signing on the IdP side)`);
console.log(`SAML login, SP side only              : ${result.loginsSpOnly} /s (floor: raw RSA-SHA256 verify of Response + Assertion ${result.loginFloorRawRsaSha256Pairs} /s, ${(result.loginSpRatio * 100).toFixed(2)}%)`);
console.log(JSON.stringify(result));
