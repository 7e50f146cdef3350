import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as xmllint from '@authenio/samlify-node-xmllint';
import samlify from 'samlify';
import { makeTestKeyPair, type TestKeyPair } from './saml-idp-cert.js';

/**
 * An independent SAML 2.0 identity provider for tests, built on samlify (parsing our AuthnRequests,
 * XML signatures) with keys made by node-forge. It writes its metadata for the SP, parses the SP's
 * AuthnRequest from the redirect URL, and issues responses whose every part a test can choose or
 * break: signatures (Response, Assertion, algorithm, key), audience, recipient, destination, times,
 * attributes. `responseXml` returns the XML before encoding so tests can tamper with it.
 *
 * `listen()` adds the IdP's own pages over HTTPS for a browser: a login form (user name and a
 * submit button) that sets an IdP session cookie, and a page that auto-posts the response to the
 * SP's ACS; with the cookie, a second login goes through without showing the form.
 */

const SAML_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

let schemaValidatorSet = false;

/**
 * RSA key generation costs about half a second in node-forge, so each key is made once per test
 * process, when first used, and shared by every IdP the process creates.
 */
const keys = new Map<string, TestKeyPair>();
function processKey(role: 'signing' | 'rollover' | 'untrusted' | 'tls'): TestKeyPair {
  let key = keys.get(role);
  if (!key) {
    key = role === 'tls' ? makeTestKeyPair('localhost', { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }) : makeTestKeyPair(`Test IdP ${role}`);
    keys.set(role, key);
  }
  return key;
}

export interface TestIdpUser {
  readonly nameId: string;
  readonly email?: string;
  readonly displayName?: string;
  readonly groups?: readonly string[];
  /** More attributes, by name. */
  readonly attributes?: Readonly<Record<string, string | readonly string[]>>;
}

/** The AuthnRequest our SP sent, as samlify read it. */
export interface ParsedAuthnRequest {
  readonly id: string;
  readonly issuer: string;
  readonly acsUrl: string | undefined;
  readonly relayState: string | undefined;
}

export interface ResponseOptions {
  /** The request answered; omit for an unsolicited (IdP-initiated) response. */
  readonly inResponseTo?: string;
  readonly user: TestIdpUser;
  /** Defaults: the SP's entity id and ACS URL from its metadata, this IdP's entity id. */
  readonly audience?: string;
  readonly destination?: string;
  readonly recipient?: string;
  readonly issuer?: string;
  /** Defaults: now - 1 min, now + 5 min. */
  readonly notBefore?: Date;
  readonly notOnOrAfter?: Date;
  readonly statusCode?: string;
}

export interface SignOptions {
  /** Default true. */
  readonly signResponse?: boolean;
  /** Default true. */
  readonly signAssertion?: boolean;
  /** Default: the IdP's current signing key. */
  readonly key?: TestKeyPair;
  readonly algorithm?: 'rsa-sha256' | 'rsa-sha1';
}

export interface IssuedResponse {
  readonly xml: string;
  /** The SAMLResponse form value (base64 of `xml`). */
  readonly samlResponse: string;
  readonly relayState: string | undefined;
}

export class TestSamlIdp {
  /** The key the IdP signs with. */
  get signingKey(): TestKeyPair {
    return processKey('signing');
  }
  /** A second key, published next to the first for a rollover test. */
  get rolloverKey(): TestKeyPair {
    return processKey('rollover');
  }
  /** A key the SP was never told about. */
  get untrustedKey(): TestKeyPair {
    return processKey('untrusted');
  }
  private sp: ReturnType<typeof samlify.ServiceProvider> | undefined;
  private spEntityId = '';
  private spAcsUrl = '';
  private server: Server | undefined;
  private ssoUrlValue: string;
  private readonly users = new Map<string, TestIdpUser>();
  private readonly idpSessions = new Map<string, string>();

  private constructor(readonly entityId: string, ssoUrl: string) {
    this.ssoUrlValue = ssoUrl;
  }

  /** A new IdP with fresh keys; `ssoUrl` is replaced by the real address when {@link listen} runs. */
  static create(options: { entityId?: string; ssoUrl?: string } = {}): TestSamlIdp {
    if (!schemaValidatorSet) {
      // samlify validates every message it parses against the SAML XML schemas (xmllint, wasm).
      samlify.setSchemaValidator(xmllint);
      schemaValidatorSet = true;
    }
    return new TestSamlIdp(options.entityId ?? 'https://idp.test/metadata', options.ssoUrl ?? 'https://idp.test/sso');
  }

  /** The CA (self-signed certificate) of the IdP's HTTPS pages once {@link listen} ran. */
  get tlsCertificatePem(): string | undefined {
    return this.server ? processKey('tls').certificatePem : undefined;
  }

  get ssoUrl(): string {
    return this.ssoUrlValue;
  }

  /**
   * Our metadata (saml-metadata §2.4.3): the HTTP-Redirect SSO endpoint and a signing
   * KeyDescriptor per certificate in `signingKeys` (default: the current key only).
   */
  metadataXml(signingKeys: readonly TestKeyPair[] = [this.signingKey]): string {
    const keys = signingKeys
      .map((k) => `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${k.certificateBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
      .join('');
    return `<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${escapeXml(this.entityId)}"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${SAML_PROTOCOL}">${keys}<md:NameIDFormat>${EMAIL_FORMAT}</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(this.ssoUrlValue)}"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
  }

  writeMetadata(path: string, signingKeys?: readonly TestKeyPair[]): void {
    writeFileSync(path, this.metadataXml(signingKeys));
  }

  /** Tells the IdP about the SP from the SP's own metadata (GET /saml/metadata), as an IdP admin would. */
  trustServiceProvider(spMetadataXml: string): void {
    this.sp = samlify.ServiceProvider({ metadata: spMetadataXml });
    this.spEntityId = this.sp.entityMeta.getEntityID();
    const acs: unknown = this.sp.entityMeta.getAssertionConsumerService('post');
    if (typeof acs !== 'string' || acs === '') throw new Error('the SP metadata has no HTTP-POST AssertionConsumerService');
    this.spAcsUrl = acs;
  }

  /** Parses (and schema-validates) the AuthnRequest of an HTTP-Redirect binding URL. */
  async parseAuthnRequest(redirectUrl: string): Promise<ParsedAuthnRequest> {
    const url = new URL(redirectUrl);
    const query = Object.fromEntries(url.searchParams.entries());
    return this.parseQuery(query);
  }

  /** The XML of a response, unsigned (see {@link sign}). */
  responseXml(options: ResponseOptions): string {
    const now = new Date();
    const notBefore = options.notBefore ?? new Date(now.getTime() - 60_000);
    const notOnOrAfter = options.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
    const responseId = `_r${randomUUID().replace(/-/g, '')}`;
    const assertionId = `_a${randomUUID().replace(/-/g, '')}`;
    const issuer = escapeXml(options.issuer ?? this.entityId);
    const inResponseTo = options.inResponseTo === undefined ? '' : ` InResponseTo="${escapeXml(options.inResponseTo)}"`;
    const attributes: [string, readonly string[]][] = [];
    const user = options.user;
    if (user.email !== undefined) attributes.push(['email', [user.email]]);
    if (user.displayName !== undefined) attributes.push(['displayName', [user.displayName]]);
    if (user.groups !== undefined) attributes.push(['groups', user.groups]);
    for (const [name, value] of Object.entries(user.attributes ?? {})) attributes.push([name, typeof value === 'string' ? [value] : value]);
    const attributeStatement =
      attributes.length === 0
        ? ''
        : `<saml:AttributeStatement>${attributes
            .map(([name, values]) => `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
            .join('')}</saml:AttributeStatement>`;
    const instant = now.toISOString();
    return (
      `<samlp:Response xmlns:samlp="${SAML_PROTOCOL}" xmlns:saml="${SAML_ASSERTION}" ID="${responseId}" Version="2.0" IssueInstant="${instant}" Destination="${escapeXml(options.destination ?? this.spAcsUrl)}"${inResponseTo}>` +
      `<saml:Issuer>${issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${escapeXml(options.statusCode ?? SUCCESS)}"/></samlp:Status>` +
      `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${assertionId}" Version="2.0" IssueInstant="${instant}">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${EMAIL_FORMAT}">${escapeXml(user.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter.toISOString()}" Recipient="${escapeXml(options.recipient ?? this.spAcsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${notBefore.toISOString()}" NotOnOrAfter="${notOnOrAfter.toISOString()}"><saml:AudienceRestriction><saml:Audience>${escapeXml(options.audience ?? this.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${instant}" SessionIndex="_s${randomBytes(8).toString('hex')}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      attributeStatement +
      `</saml:Assertion></samlp:Response>`
    );
  }

  /** Signs the Assertion, then the Response, as samlify's IdP does (enveloped, exc-c14n). */
  sign(xml: string, options: SignOptions = {}): string {
    const key = options.key ?? this.signingKey;
    const signatureAlgorithm = options.algorithm === 'rsa-sha1' ? RSA_SHA1 : RSA_SHA256;
    const base = { privateKey: key.privateKeyPem, signingCert: key.certificateBase64, signatureAlgorithm, isBase64Output: false };
    let signed = xml;
    if (options.signAssertion ?? true) {
      signed = samlify.SamlLib.constructSAMLSignature({
        ...base,
        rawSamlMessage: signed,
        referenceTagXPath: "/*[local-name(.)='Response']/*[local-name(.)='Assertion']",
        signatureConfig: { prefix: 'ds', location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' } },
      });
    }
    if (options.signResponse ?? true) {
      signed = samlify.SamlLib.constructSAMLSignature({
        ...base,
        rawSamlMessage: signed,
        isMessageSigned: true,
        signatureConfig: { prefix: 'ds', location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Issuer']", action: 'after' } },
      });
    }
    return signed;
  }

  /** A signed response to `request` (or unsolicited) for `user`, ready to post. */
  issue(request: ParsedAuthnRequest | undefined, user: TestIdpUser, options: Partial<ResponseOptions> & SignOptions = {}): IssuedResponse {
    const xml = this.sign(this.responseXml({ ...(request !== undefined && { inResponseTo: request.id }), ...options, user }), options);
    return { xml, samlResponse: Buffer.from(xml, 'utf8').toString('base64'), relayState: request?.relayState };
  }

  /** A user the login page accepts, by user name. */
  addUser(userName: string, user: TestIdpUser): void {
    this.users.set(userName, user);
  }

  /**
   * Serves the IdP's pages over HTTPS on 127.0.0.1 (certificate for localhost and 127.0.0.1 in
   * `tls`): GET /sso (the SingleSignOnService), POST /login. Returns the base URL; {@link ssoUrl}
   * and the metadata follow it.
   */
  async listen(): Promise<{ url: string; tls: TestKeyPair }> {
    const tls = processKey('tls');
    const server = createServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 400;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`IdP error: ${String((error as Error).message ?? error)}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    this.ssoUrlValue = `${url}/sso`;
    return { url, tls };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async parseQuery(query: Record<string, string>): Promise<ParsedAuthnRequest> {
    if (!this.sp) throw new Error('call trustServiceProvider(spMetadataXml) first');
    const idp = this.samlifyIdp();
    const octetString = ['SAMLRequest', 'RelayState', 'SigAlg']
      .filter((k) => query[k] !== undefined)
      .map((k) => `${k}=${encodeURIComponent(query[k]!)}`)
      .join('&');
    const result = await idp.parseLoginRequest(this.sp, 'redirect', { query, octetString });
    const request = result.extract['request'] as Record<string, string> | undefined;
    const issuer = result.extract['issuer'];
    if (!request?.['id']) throw new Error('the AuthnRequest has no ID');
    return { id: request['id'], issuer: String(issuer), acsUrl: request['assertionConsumerServiceUrl'], relayState: query['RelayState'] };
  }

  private samlifyIdp() {
    return samlify.IdentityProvider({
      metadata: this.metadataXml(),
      privateKey: this.signingKey.privateKeyPem,
      wantAuthnRequestsSigned: false,
    });
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'GET' && url.pathname === '/sso') {
      const query = Object.fromEntries(url.searchParams.entries());
      const request = await this.parseQuery(query);
      const userName = this.idpSessions.get(cookieOf(req, 'idp_session') ?? '');
      const user = userName === undefined ? undefined : this.users.get(userName);
      if (user) return this.autoPost(res, request, user);
      return html(
        res,
        `<h1>Test IdP</h1><form method="post" action="/login"><label>User name <input name="username" id="username" autocomplete="username"></label>` +
          `<input type="hidden" name="query" value="${escapeXml(url.search)}"><button type="submit" id="login">Sign in</button></form>`,
      );
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const form = new URLSearchParams(await bodyOf(req));
      const userName = form.get('username') ?? '';
      const user = this.users.get(userName);
      if (!user) return html(res, '<h1>Unknown user</h1>', 401);
      const query = Object.fromEntries(new URLSearchParams(form.get('query') ?? '').entries());
      const request = await this.parseQuery(query);
      const session = randomBytes(16).toString('hex');
      this.idpSessions.set(session, userName);
      res.setHeader('Set-Cookie', `idp_session=${session}; Path=/; Secure; HttpOnly; SameSite=None`);
      return this.autoPost(res, request, user);
    }
    res.statusCode = 404;
    res.end('not found');
  }

  /** The HTTP-POST binding (SAML bindings §3.5.4): a form posted by script, with a button as fallback. */
  private autoPost(res: import('node:http').ServerResponse, request: ParsedAuthnRequest, user: TestIdpUser): void {
    const issued = this.issue(request, user);
    const relayState = issued.relayState === undefined ? '' : `<input type="hidden" name="RelayState" value="${escapeXml(issued.relayState)}">`;
    html(
      res,
      `<form id="saml" method="post" action="${escapeXml(this.spAcsUrl)}"><input type="hidden" name="SAMLResponse" value="${issued.samlResponse}">${relayState}<button type="submit" id="continue">Continue</button></form>` +
        `<script>document.getElementById('saml').submit()</script>`,
    );
  }
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function html(res: import('node:http').ServerResponse, body: string, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Test IdP</title></head><body>${body}</body></html>`);
}

function cookieOf(req: import('node:http').IncomingMessage, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = pair.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

async function bodyOf(req: import('node:http').IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
