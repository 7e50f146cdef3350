import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { selfSignedServerCertificate } from '@realm/core-sim';
import { escapeXml, TestSamlIdp, type TestIdpUser } from '@realm/testing';

/**
 * The development SAML IdP of `npm start` and `npm run demo`, and nothing else: it signs in the
 * demo users by name, without a password. It is the test IdP of @realm/testing (samlify: it parses
 * the appliance's AuthnRequests and signs responses) behind pages of its own on a fixed port, with
 * a TLS certificate kept in its data directory. Production points the appliance at the
 * enterprise IdP (identity.saml.idpMetadataFile) and never runs this.
 */

export interface DemoUser {
  readonly userName: string;
  readonly role: string;
  readonly saml: TestIdpUser;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { userName: 'alice', role: 'user', saml: { nameId: 'alice@realm.test', email: 'alice@realm.test', displayName: 'Alice', groups: ['staff'] } },
  { userName: 'bob', role: 'user', saml: { nameId: 'bob@realm.test', email: 'bob@realm.test', displayName: 'Bob', groups: ['staff'] } },
  { userName: 'carol', role: 'user', saml: { nameId: 'carol@realm.test', email: 'carol@realm.test', displayName: 'Carol', groups: ['staff'] } },
  { userName: 'admin', role: 'realm admin', saml: { nameId: 'admin@realm.test', email: 'admin@realm.test', displayName: 'Realm Admin', groups: ['staff', 'realm-admins'] } },
  { userName: 'compliance', role: 'compliance officer', saml: { nameId: 'compliance@realm.test', email: 'compliance@realm.test', displayName: 'Compliance Officer', groups: ['staff', 'compliance-officers'] } },
];

export interface DevIdpOptions {
  /** Holds the TLS certificate and the metadata the appliance reads. */
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The appliance's SP metadata (GET /saml/metadata), fetched at the first sign-in: the appliance starts after the IdP. */
  readonly serviceProviderMetadata: () => Promise<string>;
}

export interface DevIdp {
  readonly url: string;
  readonly metadataFile: string;
  /** The IdP's TLS certificate (self-signed): browsers and the demo trust it. */
  readonly tlsCertFile: string;
  readonly tlsCertPem: string;
  close(): Promise<void>;
}

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const tls = devIdpCertificate(options.dataDir, host);
  let idp: TestSamlIdp | undefined;
  let trusted: Promise<void> | undefined;
  const trustSp = () =>
    (trusted ??= options.serviceProviderMetadata().then(
      (xml) => idp!.trustServiceProvider(xml),
      (error: unknown) => {
        trusted = undefined;
        throw error;
      },
    ));
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(idp, trustSp, req, res).catch((error: unknown) => page(res, 400, '<h1>Sign-in failed</h1>', `<p>${escapeXml(error instanceof Error ? error.message : String(error))}</p>`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  idp = TestSamlIdp.create({ entityId: `${url}/metadata`, ssoUrl: `${url}/sso` });
  for (const user of DEMO_USERS) idp.addUser(user.userName, user.saml);
  // The signing key is made per process: the metadata is written anew at every start, before the appliance reads it.
  const metadataFile = join(options.dataDir, 'idp-metadata.xml');
  idp.writeMetadata(metadataFile);
  return {
    url,
    metadataFile,
    tlsCertFile: tls.certFile,
    tlsCertPem: tls.certPem,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(idp: TestSamlIdp | undefined, trustSp: () => Promise<void>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Cache-Control', 'no-store');
  if (!idp) return page(res, 503, '<h1>Starting</h1>');
  const url = new URL(req.url ?? '/', 'https://dev-idp');
  if (req.method === 'GET' && url.pathname === '/') {
    const rows = DEMO_USERS.map((u) => `<tr><td><code>${u.userName}</code></td><td>${escapeXml(u.saml.nameId)}</td><td>${escapeXml(u.role)}</td></tr>`).join('');
    return page(res, 200, '<h1>Development IdP</h1>', `<p>Signs in the demo users by name, without a password. It exists only under <code>npm start</code> and <code>npm run demo</code>.</p><table><tr><th>user name</th><th>NameID</th><th>role</th></tr>${rows}</table><p><a href="/metadata">SAML metadata</a></p>`);
  }
  if (req.method === 'GET' && url.pathname === '/metadata') {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/samlmetadata+xml');
    res.end(idp.metadataXml());
    return;
  }
  if (req.method === 'GET' && url.pathname === '/sso') {
    await trustSp();
    // Parsed (and schema-checked) before the form is shown: a bad AuthnRequest is refused here.
    await idp.parseAuthnRequest(url.toString());
    const names = DEMO_USERS.map((u) => `<code>${u.userName}</code>`).join(', ');
    return page(
      res,
      200,
      '<h1>Development IdP: sign in</h1>',
      `<form method="post" action="/login"><label>User name (${names}) <input name="username" id="username" autocomplete="username" autofocus></label><input type="hidden" name="query" value="${escapeXml(url.search)}"><button type="submit" id="login">Sign in</button></form>`,
    );
  }
  if (req.method === 'POST' && url.pathname === '/login') {
    await trustSp();
    const form = new URLSearchParams(await bodyOf(req));
    const user = DEMO_USERS.find((u) => u.userName === form.get('username'));
    if (!user) return page(res, 401, '<h1>Unknown user</h1>', '<p>Use one of the demo user names on the sign-in page.</p>');
    const request = await idp.parseAuthnRequest(`https://dev-idp/sso${form.get('query') ?? ''}`);
    const issued = idp.issue(request, user.saml);
    const relayState = issued.relayState === undefined ? '' : `<input type="hidden" name="RelayState" value="${escapeXml(issued.relayState)}">`;
    // HTTP-POST binding (SAML bindings §3.5.4): the browser posts the response to the SP's ACS.
    return page(
      res,
      200,
      '<h1>Signing you in</h1>',
      `<form id="saml" method="post" action="${escapeXml(request.acsUrl ?? '')}"><input type="hidden" name="SAMLResponse" value="${issued.samlResponse}">${relayState}<button type="submit" id="continue">Continue</button></form><script>document.getElementById('saml').submit()</script>`,
    );
  }
  return page(res, 404, '<h1>Not found</h1>');
}

/** The IdP's TLS certificate: made once into dataDir, then reused. */
function devIdpCertificate(dataDir: string, host: string): { certPem: string; keyPem: string; certFile: string } {
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), certFile };
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', host].filter((h) => h !== '0.0.0.0' && h !== '::'))];
  const { certPem, keyPem } = selfSignedServerCertificate('development IdP', hosts);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, certPem);
  return { certPem, keyPem, certFile };
}

function page(res: ServerResponse, status: number, title: string, body = ''): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Development IdP</title></head><body>${title}${body}</body></html>`);
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('the form is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
