/**
 * A real appliance HTTPS app with the authorization server, the real SessionService and a
 * test-only sign-in endpoint standing in for SAML (the SAML login itself is tested on its own):
 * `POST /test/sign-in/:principalId` starts an appliance session as SAML's ACS would.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Controller, Module, Param, Post, Req, Res } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { createHttpsApp, createLogger, defaultHttpErrorStatus, HTTP_ERROR_STATUS, loadTlsMaterial, MetricsModule } from '@realm/http';
import { httpsRequest, makeTempDir, type TestDatabase, testConfig } from '@realm/testing';
import { type CreatedClient, type CreateClientInput, OAuthModule, type OAuthServer, openOAuth, type Principal, SessionService } from '../src/index.js';
import { type IdentityFixture, openIdentityFixture } from './helpers.js';

export interface OAuthFixture {
  readonly fx: IdentityFixture;
  readonly oauth: OAuthServer;
  readonly sessions: SessionService;
  readonly base: string;
  readonly ca: Buffer;
  close(): Promise<void>;
}

export async function openOAuthFixture(database: TestDatabase): Promise<OAuthFixture> {
  const fx = await openIdentityFixture(database);
  const sessions = new SessionService(fx.config, fx.db, fx.audit, fx.identity.principals, { clock: () => fx.clock.now });
  const oauth = await openOAuth(
    fx.config,
    { db: fx.db, vault: fx.vault, audit: fx.audit, principals: fx.identity.principals, tokens: fx.identity.tokens, sessions },
    { issuer: fx.identity.tokens.issuerUrl, clock: () => fx.clock.now },
  );

  @Controller('test')
  class TestSignInController {
    @Post('sign-in/:principalId')
    async signIn(@Param('principalId') principalId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
      await sessions.start(principalId, req, res);
      res.status(204).end();
    }
  }

  @Module({ imports: [MetricsModule, OAuthModule.forRoot(oauth)], controllers: [TestSignInController], providers: [{ provide: HTTP_ERROR_STATUS, useValue: defaultHttpErrorStatus }] })
  class TestAppModule {}

  const httpConfig = testConfig({ REALM_DATA_DIR: makeTempDir('realm-oauth-') });
  const logger = createLogger(httpConfig, { name: 'oauth-test' });
  const tls = await loadTlsMaterial(httpConfig, logger);
  const app: NestExpressApplication<HttpsServer> = await createHttpsApp(TestAppModule, httpConfig, logger, tls);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    fx,
    oauth,
    sessions,
    base: `https://127.0.0.1:${port}`,
    ca: Buffer.from(tls.cert),
    async close() {
      await app.close();
      await fx.close();
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly location: string | undefined;
  json(): Record<string, unknown>;
}

/** A browser (or a CLI): a cookie jar over real HTTPS requests; redirects are not followed. */
export class Agent {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly t: Pick<OAuthFixture, 'base' | 'ca'>) {}

  async request(method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Reply> {
    const url = path.startsWith('https://') ? path : `${this.t.base}${path}`;
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await httpsRequest(method, url, this.t.ca, body, headers);
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
    const location = typeof response.headers['location'] === 'string' ? response.headers['location'] : undefined;
    return { ...response, location, json: () => JSON.parse(response.body) as Record<string, unknown> };
  }

  get(path: string, headers?: Record<string, string>): Promise<Reply> {
    return this.request('GET', path, { ...(headers && { headers }) });
  }

  /** Follows the authorization server's redirects until one leaves it (to a client, to SAML login) or the chain ends. */
  async follow(path: string, maxHops = 8): Promise<{ final: Reply; hops: string[] }> {
    const hops: string[] = [];
    let reply = await this.get(path);
    for (let i = 0; i < maxHops && reply.location !== undefined && reply.status >= 300 && reply.status < 400; i++) {
      const next = reply.location.startsWith('/') ? reply.location : reply.location.startsWith(this.t.base) ? reply.location.slice(this.t.base.length) : undefined;
      // Only the authorization server's own redirects: /saml/login and the client are where it ends.
      if (next === undefined || !next.startsWith('/oauth/')) break;
      hops.push(next);
      reply = await this.get(next);
    }
    return { final: reply, hops };
  }

  async signIn(principal: Principal): Promise<void> {
    const reply = await this.request('POST', `/test/sign-in/${encodeURIComponent(principal.id)}`);
    if (reply.status !== 204) throw new Error(`sign-in failed: ${reply.status} ${reply.body}`);
  }

  cookieNames(): string[] {
    return [...this.cookies.keys()];
  }

  dropCookie(name: string): void {
    this.cookies.delete(name);
  }
}

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const NATIVE_REDIRECT = 'com.example.realm:/oauth/callback';
export const WEB_REDIRECT = 'https://app.example.com/callback';

export function registerClient(t: OAuthFixture, input: Partial<CreateClientInput> & { name: string }): Promise<CreatedClient> {
  return t.oauth.clients.create({ redirectUris: [NATIVE_REDIRECT], grants: ['authorization_code', 'refresh_token'], public: true, ...input });
}

export function authorizePath(clientId: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'kms', redirect_uri: NATIVE_REDIRECT, state: randomBytes(8).toString('hex') });
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) query.delete(k);
    else query.set(k, v);
  }
  return `/oauth/auth?${query.toString()}`;
}

/** The code (and the other parameters) of a redirect back to the client. */
export function callbackParams(location: string | undefined): URLSearchParams {
  if (location === undefined) throw new Error('no redirect to the client');
  return new URL(location).searchParams;
}

export function basic(clientId: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}
