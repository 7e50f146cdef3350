import { createHash, generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent, AuditLog } from '@realm/audit';
import { hkdfSha256 } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import type { GrantInstance, KoaContext, Provider } from 'oidc-provider';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError } from '../identity.error.js';
import type { PrincipalService } from '../principals/principal.service.js';
import type { TokenService } from '../tokens/token.service.js';
import { OAuthArtifactRepository } from './oauth-artifact.repository.js';
import { compareSecret, DEVICE_CODE_GRANT, OAuthClientService } from './oauth-client.service.js';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage, PAGE_CSP, finishPageCsp, sendPage } from './oauth-pages.js';
import { oidcAdapterClass } from './oidc-adapter.js';

/** Where oidc-provider is mounted in the appliance's HTTP app. */
export const OAUTH_MOUNT_PATH = '/oauth';
/** The one scope: access to the KMS (RFC 6749 §3.3). Access tokens carry audience `kms`. */
export const KMS_SCOPE = 'kms';
/** The vault key oidc-provider's cookie-signing key is derived from; identical on every node. */
export const OAUTH_COOKIE_KEY_URI = 'realm:identity/oauth/cookie-key';

/** The appliance session a browser brings (the SessionService contract, read-only part). */
export interface ApplianceSessionLookup {
  current(request: never): Promise<{ readonly principalId: string } | undefined>;
}

export interface OAuthServerOptions {
  /** The issuer identifier (RFC 8414 §2): config.identity.issuer, the same as TokenService's. */
  readonly issuer: string;
  readonly accessTokenLifetimeSeconds: number;
  readonly authorizationCodeLifetimeSeconds: number;
  readonly deviceCodeLifetimeSeconds: number;
  /** Lifetime of a refresh-token family: every rotation keeps the family's end. */
  readonly refreshTokenLifetimeSeconds: number;
  /** How long oidc-provider's own login session lasts; it is re-checked against the appliance session on every authorization anyway. */
  readonly sessionLifetimeSeconds: number;
  /** http.trustProxy: believe X-Forwarded-Proto/Host from the one reverse proxy in front. */
  readonly trustProxy?: boolean;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
}

export interface OAuthServerDependencies {
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  readonly principals: PrincipalService;
  readonly tokens: TokenService;
  readonly sessions: ApplianceSessionLookup;
}

type PendingAudit = Omit<AuditEvent, 'requestId'>;
/**
 * oidc-provider, loaded when the server opens rather than when @realm/identity is imported: it
 * prints warnings to the console as it loads (it names Node 22 as its supported runtime), which
 * processes that never serve OAuth (realmctl) must not print.
 */
type OidcProviderModule = typeof import('oidc-provider');
const PENDING = Symbol('pending audit');
const REFUSAL = Symbol('refusal reason');
// The principal whose code or refresh token was replayed in this request.
const REPLAYED_FOR = Symbol('replayed for');
/** The interaction uid oidc-provider makes (nanoid, 21 characters). */
const INTERACTION_UID = /^[A-Za-z0-9_-]{10,64}$/;
const TOKEN_ERROR_DESCRIPTION_MAX = 200;

/**
 * The OAuth 2.0 authorization server: oidc-provider 9 (OpenID Certified, maintained) configured
 * for exactly what the appliance needs and nothing else:
 *
 * - authorization code with PKCE required for every client, S256 only (RFC 7636 §4.2; oidc-provider
 *   9 implements no `plain`), exact redirect URI matching (RFC 9700 §4.1.3), response type `code`
 *   only (no implicit, RFC 9700 §2.1.2; oidc-provider has no password grant);
 * - the device authorization grant for CLIs and bots (RFC 8628);
 * - refresh tokens rotated on every use, a reused one revoking its family (RFC 9700 §4.14.2);
 * - revocation (RFC 7009); no dynamic registration, no introspection, no userinfo, no dev
 *   interactions; first-party clients only, so no consent page;
 * - access tokens minted by {@link TokenService} (see {@link finishTokenResponse}).
 *
 * Every artifact lives in the database (see oidc-adapter.ts) and the cookie key comes from the
 * vault, so any node can serve any step of any flow.
 */
export class OAuthServer {
  readonly provider: Provider;
  readonly clients: OAuthClientService;
  private readonly artifacts: OAuthArtifactRepository;
  private readonly clock: () => number;
  private readonly handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;

  private constructor(
    private readonly oidc: OidcProviderModule,
    private readonly deps: OAuthServerDependencies,
    private readonly options: OAuthServerOptions,
    cookieKey: string,
  ) {
    this.clock = options.clock ?? Date.now;
    this.artifacts = new OAuthArtifactRepository(deps.db);
    this.clients = new OAuthClientService(deps.db, deps.audit, this.clock);
    this.provider = new oidc.Provider(options.issuer, this.configuration(cookieKey));
    // RFC 7235 / oidc-provider "Trusting TLS offloading proxies": the Koa app behind Express
    // decides on X-Forwarded-* by itself; it follows http.trustProxy like Express does.
    this.provider.proxy = options.trustProxy === true;
    // Client secrets are stored as SHA-256 digests (oauth-client.service.ts). The Client
    // prototype's compareClientSecret is the hook the maintainer points to for hashed secrets
    // (panva/node-oidc-provider#631); it rules out client_secret_jwt and HMAC-signed responses,
    // which this server does not offer.
    this.provider.Client.prototype.compareClientSecret = function compare(this: { clientSecret?: string }, presented: string) {
      return compareSecret(this.clientSecret, presented);
    };
    this.provider.use(this.middleware());
    this.listen();
    this.handler = this.provider.callback();
  }

  /** Opens the server: derives the cookie key from the vault (creating the vault key once). */
  static async open(deps: OAuthServerDependencies, options: OAuthServerOptions): Promise<OAuthServer> {
    for (const [name, value] of Object.entries(options)) {
      if (name.endsWith('Seconds') && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) throw new IdentityError('IDENTITY_INVALID_ARGUMENT', `OAuth option ${name} must be a positive whole number of seconds`);
    }
    return new OAuthServer(await import('oidc-provider'), deps, options, await cookieKey(deps.vault));
  }

  /** oidc-provider's request handler, for the app to mount under {@link OAUTH_MOUNT_PATH}. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.handler(req, res);
  }

  /**
   * `GET /oauth/interaction/:uid`: the login step. With a live appliance session the user is
   * signed in as its principal with no page at all (first-party clients see no consent either);
   * without one the browser goes through SAML login and comes back here.
   */
  async interaction(uid: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let details;
    try {
      if (!INTERACTION_UID.test(uid)) throw new Error('malformed uid');
      details = await this.provider.interactionDetails(req, res);
      if (details.uid !== uid) throw new Error('the interaction cookie is for another request');
    } catch {
      sendPage(res, 400, errorPage('This sign-in request is unknown or has expired. Start again from your application.'));
      return;
    }
    const clientId = typeof details.params['client_id'] === 'string' ? details.params['client_id'] : undefined;
    const session = await this.deps.sessions.current(req as never);
    if (!session) {
      res.statusCode = 303;
      res.setHeader('Location', `/saml/login?returnTo=${encodeURIComponent(`${OAUTH_MOUNT_PATH}/interaction/${uid}`)}`);
      res.end();
      return;
    }
    const principal = await this.deps.principals.find(session.principalId);
    if (details.prompt.name !== 'login' || !principal || principal.status !== 'active') {
      const reason = details.prompt.name !== 'login' ? `unexpected prompt ${details.prompt.name}` : 'the principal is not active';
      await this.record({ action: 'identity.oauth.authorize', outcome: 'denied', resources: [session.principalId], reason, details: { clientId: clientId ?? null } }, req);
      await this.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the request cannot be authorized for this user' }, { mergeWithLastSubmission: false });
      return;
    }
    await this.provider.interactionFinished(req, res, { login: { accountId: principal.id, remember: false } }, { mergeWithLastSubmission: false });
  }

  /** Deletes expired codes, device codes, refresh tokens, grants, sessions and interactions. */
  purgeExpired(): Promise<number> {
    return this.artifacts.purgeExpired(new Date(this.clock()));
  }

  private configuration(cookieKey: string): Record<string, unknown> {
    const { Check, base } = this.oidc.interactionPolicy;
    const policy = base();
    // The appliance session, not oidc-provider's own cookie, says who is signed in: logging out
    // of the appliance (or the session timing out) ends silent authorization at once.
    policy.get('login')!.checks.add(
      new Check('appliance_session', 'End-User authentication is required', 'login_required', async (ctx) => {
        const session = await this.deps.sessions.current(ctx.req as never);
        return session === undefined || session.principalId !== ctx.oidc.session?.accountId ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      }),
    );
    // First-party clients only (no dynamic registration): no consent page. The stock consent
    // prompt also insists on one for native clients (RFC 8252 §8.6); every client here was
    // registered by an operator, and the product requirement is a token without any prompt. A
    // grant is made by loadExistingGrant for an active principal; without one, access is denied.
    policy.remove('consent');

    const ttl = {
      AuthorizationCode: this.options.authorizationCodeLifetimeSeconds,
      DeviceCode: this.options.deviceCodeLifetimeSeconds,
      AccessToken: this.options.accessTokenLifetimeSeconds,
      Grant: this.options.refreshTokenLifetimeSeconds,
      Interaction: Math.max(this.options.deviceCodeLifetimeSeconds, 600),
      Session: this.options.sessionLifetimeSeconds,
      // A rotated token keeps its family's end (iiat: the first token's issue time).
      RefreshToken: (_ctx: unknown, token: { iiat?: number }) => {
        const now = Math.floor(this.clock() / 1000);
        return Math.max(1, (token.iiat ?? now) + this.options.refreshTokenLifetimeSeconds - now);
      },
    };
    return {
      adapter: oidcAdapterClass({ artifacts: this.artifacts, clients: this.clients, clock: this.clock, invalidGrant: this.oidc.errors.InvalidGrant, onReuse: (model, grantId) => this.onReuse(model, grantId) }),
      clients: [],
      // oidc-provider insists on a signing key for ID tokens. This server grants no `openid` scope,
      // so it signs nothing with it; access tokens are TokenService's. Ephemeral, per process.
      jwks: { keys: [ephemeralSigningJwk()] },
      cookies: {
        keys: [cookieKey],
        long: { httpOnly: true, sameSite: 'lax', signed: true, secure: true },
        short: { httpOnly: true, sameSite: 'lax', signed: true, secure: true },
      },
      claims: {},
      clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'client_secret_basic' },
      scopes: [KMS_SCOPE],
      responseTypes: ['code'],
      pkce: { required: () => true },
      allowOmittingSingleRegisteredRedirectUri: false,
      clientBasedCORS: () => false,
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: false },
        introspection: { enabled: false },
        userinfo: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        clientCredentials: { enabled: false },
        revocation: { enabled: true },
        deviceFlow: {
          enabled: true,
          charset: 'base-20',
          mask: '****-****',
          userCodeInputSource: (ctx: KoaContext, form: string, _out: unknown, error: unknown) => sendKoaPage(ctx, deviceInputPage(form, error !== undefined)),
          userCodeConfirmSource: (ctx: KoaContext, form: string, client: { clientName?: string; clientId: string }, _device: unknown, userCode: string) =>
            sendKoaPage(ctx, deviceConfirmPage(form, client.clientName ?? client.clientId, userCode)),
          successSource: (ctx: KoaContext) => sendKoaPage(ctx, deviceSuccessPage()),
        },
      },
      interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `${OAUTH_MOUNT_PATH}/interaction/${interaction.uid}` },
      findAccount: (ctx: KoaContext, accountId: string, token?: { grantId?: string }) => this.findAccount(ctx, accountId, token),
      loadExistingGrant: (ctx: KoaContext) => this.loadGrant(ctx),
      // Every first-party client allowed the grant gets a refresh token; no offline_access dance.
      issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(grant: string): boolean }) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      expiresWithSession: () => false,
      ttl,
      renderError: (ctx: KoaContext) => sendKoaPage(ctx, errorPage('The request was refused. Start again from your application.')),
    };
  }

  /**
   * oidc-provider's findAccount, on every authorization and every token request: the principal
   * must exist and be active, and for a code, device code or refresh token the credential epoch
   * recorded on its grant must still be the principal's. Disabling, deleting or re-roling a
   * principal therefore ends its refresh tokens on their very next use, on every node.
   */
  private async findAccount(ctx: KoaContext, accountId: string, token?: { grantId?: string }) {
    const principal = await this.deps.principals.find(accountId);
    let refusal: string | undefined;
    if (!principal) refusal = 'the principal does not exist';
    else if (principal.status !== 'active') refusal = `the principal is ${principal.status}`;
    else if (token?.grantId !== undefined) {
      const grant = await this.artifacts.find('Grant', token.grantId);
      if (grant?.credentialEpoch !== principal.credentialEpoch) refusal = "the principal's credentials changed since the grant";
    }
    if (refusal !== undefined) {
      ctx.state[REFUSAL] = refusal;
      // The family can never be valid again (epochs only grow): drop it now.
      if (token?.grantId !== undefined) await this.artifacts.deleteByGrantId(token.grantId);
      return undefined;
    }
    return { accountId, claims: async () => ({ sub: accountId }) };
  }

  /**
   * A fresh grant for each authorization of an active principal, with the `kms` scope if asked
   * for, carrying the principal's credential epoch. One grant per authorization keeps refresh
   * families apart: a replayed token revokes one device's family, not every device's.
   */
  private async loadGrant(ctx: KoaContext): Promise<GrantInstance | undefined> {
    const accountId = ctx.oidc.session?.accountId;
    const client = ctx.oidc.client;
    if (accountId === undefined || !client) return undefined;
    const principal = await this.deps.principals.find(accountId);
    if (!principal || principal.status !== 'active') return undefined;
    const grant = new this.provider.Grant({ accountId, clientId: client.clientId });
    if (ctx.oidc.requestParamScopes.has(KMS_SCOPE)) grant.addOIDCScope(KMS_SCOPE);
    const grantId = await grant.save();
    await this.artifacts.setCredentialEpoch(grantId, principal.credentialEpoch);
    return grant;
  }

  /** The pre- and post-middleware around oidc-provider (its documented extension point). */
  private middleware() {
    return async (ctx: KoaContext, next: () => Promise<void>) => {
      ctx.state[PENDING] = [] as PendingAudit[];
      // jwks_uri names the keys that verify this server's access tokens: TokenService's.
      if (ctx.method === 'GET' && ctx.path === '/jwks') {
        ctx.body = await this.deps.tokens.jwks();
        ctx.type = 'application/jwk-set+json';
        ctx.set('Cache-Control', 'public, max-age=300');
        return;
      }
      // Pages (device flow, form_post, errors) get their own CSP; oidc-provider adds the hash of
      // the form_post auto-submit script to script-src (no inline script without it).
      ctx.set('Content-Security-Policy', PAGE_CSP);
      // A code or refresh token presented again after its use: whose it was, read before
      // oidc-provider revokes its grant (and forgets the owner).
      if (ctx.method === 'POST' && ctx.path === '/token') ctx.state[REPLAYED_FOR] = await this.ownerIfConsumed(ctx);
      try {
        await next();
        if (ctx.oidc?.route === 'token') await this.finishTokenResponse(ctx);
        else if (ctx.oidc?.route === 'revocation' && ctx.status === 200) this.onRevocation(ctx);
        else if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200) {
          this.pending(ctx, { action: 'identity.oauth.device.authorize', outcome: 'success', details: { clientId: ctx.oidc.client?.clientId ?? null } });
        }
        ctx.set('Content-Security-Policy', finishPageCsp(ctx.response.get('Content-Security-Policy'), formPostTarget(ctx)));
      } finally {
        // RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it "when possible".
        // Access tokens are self-contained JWTs, so the principal's credential epoch moves on: every
        // access token of that user stops working at its next use (as after a role change), and the
        // user signs in again. A replayed refresh token (RFC 9700 §4.14.2) is handled the same way.
        const replayedFor = ctx.state[REPLAYED_FOR] as string | undefined;
        if (replayedFor !== undefined && ctx.status === 400) {
          await this.deps.principals.revokeTokens(replayedFor, { ...(requestIdOf(ctx.req) !== undefined && { requestId: requestIdOf(ctx.req) }) }).catch(() => undefined);
        }
        for (const event of ctx.state[PENDING] as PendingAudit[]) await this.record(event, ctx.req);
      }
    };
  }

  /**
   * The token endpoint's answer, once oidc-provider has checked the client, the code (PKCE, redirect
   * URI, single use), the device code or the refresh token (rotation, reuse) and the principal:
   * the access token it made is replaced by one TokenService mints, so the KMS verifies it with
   * `TokenService.verifyAccessToken(token, { audience: 'kms' })` as it verifies any other, the
   * signing key never leaves TokenService (and the vault), and the issue is audited and refused
   * for an inactive principal there. oidc-provider 9 signs JWT access tokens only with keys of its
   * own keystore and has no custom token formats any more; a post-middleware on the `token` route
   * is its documented extension point ("Pre- and post-middlewares") and keeps every protocol check
   * in oidc-provider.
   */
  private async finishTokenResponse(ctx: KoaContext): Promise<void> {
    const body = ctx.body as Record<string, unknown> | undefined;
    const clientId = ctx.oidc.client?.clientId ?? null;
    const grantType = typeof ctx.oidc.params?.['grant_type'] === 'string' ? (ctx.oidc.params['grant_type'] as string) : null;
    if (ctx.status !== 200 || typeof body?.['access_token'] !== 'string') {
      const error = typeof body?.['error'] === 'string' ? body['error'] : 'server_error';
      const description = typeof body?.['error_description'] === 'string' ? body['error_description'].slice(0, TOKEN_ERROR_DESCRIPTION_MAX) : null;
      const refusal = ctx.state[REFUSAL] as string | undefined;
      this.pending(ctx, { action: 'identity.oauth.token', outcome: 'denied', reason: refusal ?? `${error}${description ? `: ${description}` : ''}`, details: { grantType, clientId } });
      return;
    }
    const accountId = ctx.oidc.entities['Account']?.accountId;
    const grantId = ctx.oidc.entities['Grant']?.jti ?? ctx.oidc.entities['RefreshToken']?.grantId ?? null;
    const context: IdentityAuditContext = { ...(requestIdOf(ctx.req) !== undefined && { requestId: requestIdOf(ctx.req) }) };
    try {
      if (accountId === undefined) throw new IdentityError('IDENTITY_PRINCIPAL_NOT_FOUND', 'no principal');
      const issued = await this.deps.tokens.issueAccessToken(accountId, { audience: 'kms', clientId: clientId ?? '', scope: KMS_SCOPE, lifetimeSeconds: this.options.accessTokenLifetimeSeconds }, context);
      const refreshed = typeof body['refresh_token'] === 'string';
      ctx.body = {
        access_token: issued.accessToken,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        scope: KMS_SCOPE,
        ...(refreshed && { refresh_token: body['refresh_token'] }),
      };
      this.pending(ctx, {
        action: 'identity.oauth.token',
        outcome: 'success',
        actor: { type: 'user', id: accountId, ...(clientId !== null && { clientId }) },
        resources: [accountId],
        details: { grantType, clientId, grant: grantReference(grantId), jti: issued.jti, refresh: refreshed ? (grantType === 'refresh_token' ? 'rotated' : 'issued') : 'none' },
      });
    } catch (error) {
      if (!(error instanceof IdentityError)) throw error;
      // The principal stopped being active between the checks and the issue: nothing is handed
      // out, and the refresh token just made dies with its family.
      if (grantId !== null) await this.artifacts.deleteByGrantId(grantId);
      ctx.status = 400;
      ctx.body = { error: 'invalid_grant', error_description: 'the principal is not active' };
      this.pending(ctx, { action: 'identity.oauth.token', outcome: 'denied', reason: error.code, details: { grantType, clientId } });
    }
  }

  private onRevocation(ctx: KoaContext): void {
    const token = ctx.oidc.entities['RefreshToken'] ?? ctx.oidc.entities['AccessToken'];
    this.pending(ctx, {
      action: 'identity.oauth.revoke',
      outcome: 'success',
      ...(token?.accountId !== undefined && { resources: [token.accountId] }),
      // RFC 7009 §2.2 answers 200 for an unknown token too; the record says which it was.
      details: { clientId: ctx.oidc.client?.clientId ?? null, revoked: ctx.oidc.entities['RefreshToken'] ? 'refresh_token' : 'nothing', grant: grantReference(token?.grantId ?? null) },
    });
  }

  /** oidc-provider's events, turned into audit records written before the response completes. */
  private listen(): void {
    this.provider.on('authorization.success', (ctx: KoaContext) => {
      const accountId = ctx.oidc.session?.accountId;
      this.pending(ctx, {
        action: 'identity.oauth.authorize',
        outcome: 'success',
        ...(accountId !== undefined && { actor: { type: 'user', id: accountId, ...(ctx.oidc.client && { clientId: ctx.oidc.client.clientId }) }, resources: [accountId] }),
        details: { clientId: ctx.oidc.client?.clientId ?? null, route: ctx.oidc.route ?? null },
      });
    });
    this.provider.on('authorization.error', (ctx: KoaContext, error: { error?: string; error_description?: string }) => {
      this.pending(ctx, {
        action: 'identity.oauth.authorize',
        outcome: 'denied',
        reason: `${error.error ?? 'server_error'}${error.error_description ? `: ${error.error_description.slice(0, TOKEN_ERROR_DESCRIPTION_MAX)}` : ''}`,
        details: { clientId: ctx.oidc?.client?.clientId ?? null },
      });
    });
    for (const event of ['revocation.error', 'device_authorization.error', 'code_verification.error']) {
      this.provider.on(event, (ctx: KoaContext, error: { error?: string; error_description?: string }) => {
        this.pending(ctx, {
          action: event === 'revocation.error' ? 'identity.oauth.revoke' : 'identity.oauth.device.authorize',
          outcome: 'denied',
          reason: `${error.error ?? 'server_error'}${error.error_description ? `: ${error.error_description.slice(0, TOKEN_ERROR_DESCRIPTION_MAX)}` : ''}`,
          details: { clientId: ctx.oidc?.client?.clientId ?? null },
        });
      });
    }
    this.provider.on('grant.revoked', (ctx: KoaContext, grantId: string) => {
      const reason = ctx.oidc?.route === 'revocation' ? 'revoked by the client (RFC 7009)' : 'a code or refresh token was used twice (RFC 6749 §4.1.2, RFC 9700 §4.14.2)';

      this.pending(ctx, { action: 'identity.oauth.grant.revoke', outcome: 'success', reason, details: { grant: grantReference(grantId), clientId: ctx.oidc?.client?.clientId ?? null } });
    });
  }

  /** The principal of the authorization code or refresh token in this token request if it was already used. */
  private async ownerIfConsumed(ctx: KoaContext): Promise<string | undefined> {
    const params = (ctx.req as IncomingMessage & { body?: Record<string, unknown> }).body ?? {};
    const [model, id] =
      params['grant_type'] === 'authorization_code' ? ['AuthorizationCode', params['code']] : params['grant_type'] === 'refresh_token' ? ['RefreshToken', params['refresh_token']] : [undefined, undefined];
    if (model === undefined || typeof id !== 'string' || id.length === 0 || id.length > 512) return undefined;
    const row = await this.artifacts.find(model, id);
    const accountId = row?.payload['accountId'];
    return row?.consumedAt != null && typeof accountId === 'string' ? accountId : undefined;
  }

  private onReuse(model: string, grantId: string | undefined): void {
    const ctx = this.oidc.Provider.ctx;
    if (!ctx) return;
    this.pending(ctx, { action: 'identity.oauth.grant.revoke', outcome: 'success', reason: `${model} used twice at once: the grant is revoked`, details: { grant: grantReference(grantId ?? null) } });
  }

  private pending(ctx: KoaContext, event: PendingAudit): void {
    (ctx.state[PENDING] as PendingAudit[] | undefined)?.push(event);
  }

  private record(event: PendingAudit, req: IncomingMessage): Promise<void> {
    const requestId = requestIdOf(req);
    return recordIdentityEvent(this.deps.audit, requestId === undefined ? undefined : { requestId }, event);
  }
}

/** The HTTP request id the platform's request logging assigned (libs/http requestIdOf). */
function requestIdOf(req: IncomingMessage): string | undefined {
  const id: unknown = (req as IncomingMessage & { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * A grant id is a 256-bit random handle (the audit log would redact it as secret-shaped): records
 * name a grant by the first 16 hex digits of its SHA-256, enough to tie the records of one
 * authorization together, useless to anyone holding the log.
 */
function grantReference(grantId: string | null | undefined): string | null {
  return typeof grantId === 'string' ? createHash('sha256').update(grantId).digest('hex').slice(0, 16) : null;
}

/** The origin a form_post response submits to, which the page's CSP form-action must allow. */
function formPostTarget(ctx: KoaContext): string | undefined {
  if (ctx.oidc?.params?.['response_mode'] !== 'form_post' || !(ctx.type ?? '').includes('html')) return undefined;
  const redirectUri = ctx.oidc.params['redirect_uri'];
  if (typeof redirectUri !== 'string') return undefined;
  try {
    const url = new URL(redirectUri);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

function sendKoaPage(ctx: KoaContext, html: string): void {
  ctx.type = 'html';
  ctx.body = html;
}

/**
 * oidc-provider's cookies (interaction, resume, its session) are signed with a key derived
 * (HKDF, RFC 5869) from a vault key, so every node signs and checks them alike and the key is never
 * in a configuration file or a log.
 */
async function cookieKey(vault: KeyVault): Promise<string> {
  let key = await vault.getKey(OAUTH_COOKIE_KEY_URI);
  if (!key) {
    try {
      key = await vault.createKey(OAUTH_COOKIE_KEY_URI);
    } catch (error) {
      // Another node created it at the same moment: use theirs.
      key = await vault.getKey(OAUTH_COOKIE_KEY_URI);
      if (!key) throw error;
    }
  }
  return hkdfSha256(key, Buffer.alloc(0), Buffer.from('realm oauth cookie signing v1', 'utf8'), 32).toString('base64url');
}

function ephemeralSigningJwk(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { ...jwk, alg: 'ES256', use: 'sig', kid: createHash('sha256').update(String(jwk['x'])).digest('base64url').slice(0, 16) };
}
