import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@realm/crypto';
import { httpsCall, jsonObject } from './https-json.js';
import { RealmClientError } from './realm-client.error.js';

/** The appliance's OAuth 2.0 authorization server, as a registered public client sees it. */
export interface AuthorizationServerOptions {
  /** identity.issuer of the appliance, e.g. https://127.0.0.1:8443. */
  readonly issuer: string;
  /** PEM CA(s) for the appliance's HTTPS certificate. */
  readonly ca: string | Buffer;
  /** client_id from `realmctl client create --public`. */
  readonly clientId: string;
  /** The client's registered redirect URI (RFC 8252: a private-use scheme for a native app). */
  readonly redirectUri: string;
}

/**
 * Takes the authorization URL and returns the redirect URL that carries the code. A real app opens
 * the system browser on it (RFC 8252 §6) and catches the redirect to its private-use scheme; the
 * user signs in at the enterprise IdP on the way (SAML, by the appliance).
 */
export type Authorize = (authorizationUrl: string) => Promise<string>;

interface ServerMetadata {
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string | undefined;
}

interface Tokens {
  accessToken: string;
  refreshToken: string | undefined;
  /** ms since the epoch. */
  expiresAt: number;
}

/** Refresh this long before the access token expires, so a KMS request never carries a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * A signed-in user's tokens: authorization code + PKCE S256 (RFC 6749 §4.1, RFC 7636, RFC 8252),
 * then rotating refresh tokens. The access token goes only into KMS requests, which the client
 * encrypts to the KMS; it is never sent to the core.
 */
export class OAuthSession {
  private refreshing: Promise<string> | undefined;

  private constructor(
    private readonly server: AuthorizationServerOptions,
    private readonly metadata: ServerMetadata,
    private tokens: Tokens,
    /** The principal id (`sub`) the appliance knows the user by: the user's authId in the KMS. */
    readonly subject: string,
  ) {}

  static async signIn(server: AuthorizationServerOptions, authorize: Authorize): Promise<OAuthSession> {
    const metadata = await discover(server);
    // RFC 7636 §4.1: 32 random octets, base64url (43 characters); §4.2: S256.
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(16).toString('base64url');
    const url = new URL(metadata.authorizationEndpoint);
    for (const [k, v] of Object.entries({ client_id: server.clientId, response_type: 'code', scope: 'kms', redirect_uri: server.redirectUri, state, code_challenge: challenge, code_challenge_method: 'S256' })) url.searchParams.set(k, v);

    let redirect: URL;
    try {
      redirect = new URL(await authorize(url.toString()));
    } catch (error) {
      if (error instanceof RealmClientError) throw error;
      throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `the authorization did not complete: ${error instanceof Error ? error.message : String(error)}`, undefined, undefined, { cause: error });
    }
    // RFC 6749 §3.1.2: the answer comes back to the registered redirect URI, nowhere else.
    if (stripQuery(redirect.toString()) !== stripQuery(server.redirectUri)) {
      throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', 'the authorization returned to another redirect URI than the registered one');
    }
    const params = redirect.searchParams;
    // RFC 6749 §10.12: the state binds the answer to this request (CSRF).
    if (!constantTimeEqual(Buffer.from(params.get('state') ?? ''), Buffer.from(state))) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', 'the authorization answer does not carry the state of this request');
    // RFC 9207 §2.4: an issuer other than the one asked is a mix-up attack.
    const iss = params.get('iss');
    if (iss !== null && iss !== server.issuer) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `the authorization answer names issuer ${iss}, not ${server.issuer}`);
    const error = params.get('error');
    if (error !== null) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `the authorization server refused: ${safeText(error)}${params.get('error_description') ? ` (${safeText(params.get('error_description')!)})` : ''}`);
    const code = params.get('code');
    if (!code) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', 'the authorization answer carries no code');

    const tokens = await tokenRequest(server, metadata, { grant_type: 'authorization_code', code, redirect_uri: server.redirectUri, code_verifier: verifier }, 'REALM_CLIENT_SIGN_IN_FAILED');
    return new OAuthSession(server, metadata, tokens, subjectOf(tokens.accessToken, server.issuer));
  }

  /** A valid access token: the current one, or a fresh one from the refresh token (one refresh at a time). */
  async accessToken(): Promise<string> {
    if (this.tokens.expiresAt - REFRESH_MARGIN_MS > Date.now()) return this.tokens.accessToken;
    return this.refresh();
  }

  /** Uses the refresh token now (RFC 6749 §6); the server rotates it. */
  refresh(): Promise<string> {
    this.refreshing ??= (async () => {
      const refreshToken = this.tokens.refreshToken;
      if (refreshToken === undefined) throw new RealmClientError('REALM_CLIENT_SESSION_EXPIRED', 'the access token expired and there is no refresh token: sign in again');
      const tokens = await tokenRequest(this.server, this.metadata, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'REALM_CLIENT_SESSION_EXPIRED');
      if (subjectOf(tokens.accessToken, this.server.issuer) !== this.subject) throw new RealmClientError('REALM_CLIENT_SESSION_EXPIRED', 'the refreshed token names another user');
      this.tokens = { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken };
      return tokens.accessToken;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Signs out: revokes the refresh token (RFC 7009), so it cannot be used again, and forgets both tokens. */
  async signOut(): Promise<void> {
    const refreshToken = this.tokens.refreshToken;
    this.tokens = { accessToken: '', refreshToken: undefined, expiresAt: 0 };
    if (refreshToken === undefined || this.metadata.revocationEndpoint === undefined) return;
    await httpsCall('POST', this.metadata.revocationEndpoint, this.server.ca, {
      body: new URLSearchParams({ client_id: this.server.clientId, token: refreshToken, token_type_hint: 'refresh_token' }).toString(),
      contentType: 'application/x-www-form-urlencoded',
    }).catch(() => undefined);
  }

  /** For leak scans in tests: the tokens this session holds now. Never log them. */
  secretsForLeakScan(): string[] {
    return [this.tokens.accessToken, this.tokens.refreshToken].filter((t): t is string => t !== undefined && t !== '');
  }
}

/** RFC 8414 §3: the server's metadata, whose issuer must be the one configured (§3.3). */
async function discover(server: AuthorizationServerOptions): Promise<ServerMetadata> {
  const answer = await httpsCall('GET', `${server.issuer}/.well-known/oauth-authorization-server`, server.ca);
  if (answer.status !== 200) throw new RealmClientError('REALM_CLIENT_UNREACHABLE', `the authorization server metadata (RFC 8414) answered HTTP ${answer.status}: check the issuer ${server.issuer}`, answer.status);
  const body = jsonObject(answer, 'authorization server metadata');
  if (body.issuer !== server.issuer) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `the authorization server calls itself ${String(body.issuer)}, not ${server.issuer}`);
  const endpoint = (name: string, required: boolean): string | undefined => {
    const value = body[name];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string' || !value.startsWith('https://')) throw new RealmClientError('REALM_CLIENT_UNREACHABLE', `the authorization server metadata has no https ${name}`);
    return value;
  };
  return { authorizationEndpoint: endpoint('authorization_endpoint', true)!, tokenEndpoint: endpoint('token_endpoint', true)!, revocationEndpoint: endpoint('revocation_endpoint', false) };
}

async function tokenRequest(server: AuthorizationServerOptions, metadata: ServerMetadata, form: Record<string, string>, failure: 'REALM_CLIENT_SIGN_IN_FAILED' | 'REALM_CLIENT_SESSION_EXPIRED'): Promise<Tokens> {
  const answer = await httpsCall('POST', metadata.tokenEndpoint, server.ca, { body: new URLSearchParams({ client_id: server.clientId, ...form }).toString(), contentType: 'application/x-www-form-urlencoded' });
  const body = jsonObject(answer, 'the token endpoint');
  if (answer.status !== 200) {
    throw new RealmClientError(failure, `the token endpoint refused the ${form.grant_type} grant: ${safeText(String(body.error ?? `HTTP ${answer.status}`))}`, answer.status);
  }
  const { access_token: accessToken, refresh_token: refreshToken, token_type: tokenType, expires_in: expiresIn, scope } = body;
  if (typeof accessToken !== 'string' || accessToken === '' || typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new RealmClientError('REALM_CLIENT_UNREACHABLE', 'the token endpoint answer is not a bearer token response (RFC 6749 §5.1)');
  }
  if (typeof scope === 'string' && !scope.split(' ').includes('kms')) throw new RealmClientError(failure, 'the token was not granted the kms scope');
  return { accessToken, refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined, expiresAt: Date.now() + expiresIn * 1000 };
}

/**
 * The `sub` of our own access token, read (not verified: the KMS verifies it) to learn the user's
 * principal id, which is the user's authId in KMS resources and the user's id on the core.
 */
function subjectOf(accessToken: string, issuer: string): string {
  try {
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    if (claims.iss === issuer && typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
  } catch {
    // fall through
  }
  throw new RealmClientError('REALM_CLIENT_UNREACHABLE', 'the access token does not name this issuer and a subject');
}

function stripQuery(uri: string): string {
  const url = new URL(uri);
  return `${url.protocol}${url.host ? `//${url.host}` : ''}${url.pathname}`;
}

/** Error codes from the server are shown to operators: printable ASCII only, bounded. */
function safeText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
