import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditLog } from '@realm/audit';
import { constantTimeEqual, sha256 } from '@realm/crypto';
import { type Database, isUniqueViolation } from '@realm/persistence';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError, invalidArgument } from '../identity.error.js';
import { OAuthClientRepository } from './oauth-client.repository.js';
import type { OAuthClientRow } from './oauth.entities.js';

/** RFC 8628 §3.4. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The grants a first-party client may be given, by the names `realmctl client create --grant` takes. */
export const CLIENT_GRANTS = { authorization_code: 'authorization_code', device_code: DEVICE_CODE_GRANT, refresh_token: 'refresh_token' } as const;
export type ClientGrant = keyof typeof CLIENT_GRANTS;

export interface CreateClientInput {
  readonly name: string;
  readonly redirectUris?: readonly string[];
  readonly grants: readonly ClientGrant[];
  /** A public (native or browser) client: no secret, PKCE only (RFC 8252 §8.4, RFC 6749 §2.1). */
  readonly public?: boolean;
}

/** A registered client as operators see it (never its secret). */
export interface OAuthClient {
  readonly clientId: string;
  readonly name: string;
  readonly public: boolean;
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly createdAt: Date;
}

export interface CreatedClient {
  readonly client: OAuthClient;
  /** The secret of a confidential client, shown this once; only its SHA-256 is stored. */
  readonly clientSecret?: string;
}

const CLIENT_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?$/;
const MAX_REDIRECT_URIS = 16;
const MAX_REDIRECT_URI_LENGTH = 2000;
// RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it contains a period.
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

/**
 * First-party clients (`realmctl client create|list|delete`). There is no dynamic registration:
 * every client is one the operator created, so none sees a consent page. A confidential client's
 * secret is 256 random bits shown once; the database keeps its SHA-256 only (RFC 6819 §5.1.4.1.3):
 * with that much entropy a fast hash is as good as a slow one, and it is compared in constant time.
 */
export class OAuthClientService {
  private readonly repository: OAuthClientRepository;

  constructor(
    db: Database,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {
    this.repository = new OAuthClientRepository(db);
  }

  async create(input: CreateClientInput, context?: IdentityAuditContext): Promise<CreatedClient> {
    if (typeof input.name !== 'string' || !CLIENT_NAME.test(input.name)) {
      throw invalidArgument('a client name must be 1 to 64 characters of letters, digits, space, ".", "_" and "-", starting and ending with a letter or digit');
    }
    const grantTypes = checkGrants(input.grants);
    const redirectUris = checkRedirectUris(input.redirectUris ?? [], grantTypes.includes('authorization_code'));
    const isPublic = input.public === true;
    const clientSecret = isPublic ? undefined : randomBytes(32).toString('base64url');
    const row: OAuthClientRow = {
      clientId: randomUUID(),
      name: input.name,
      secretSha256: clientSecret === undefined ? null : secretDigest(clientSecret),
      redirectUris,
      grantTypes,
      createdAt: new Date(this.clock()),
    };
    try {
      await this.repository.insert(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new IdentityError('IDENTITY_OAUTH_CLIENT_EXISTS', `a client named ${JSON.stringify(input.name)} already exists: choose another --name or delete it first`);
      throw error;
    }
    const client = toClient(row);
    await recordIdentityEvent(this.audit, context, {
      action: 'identity.oauth.client.create',
      outcome: 'success',
      resources: [client.clientId],
      details: { name: client.name, public: client.public, redirectUris: [...client.redirectUris], grantTypes: [...client.grantTypes] },
    });
    return { client, ...(clientSecret !== undefined && { clientSecret }) };
  }

  async list(): Promise<OAuthClient[]> {
    return (await this.repository.list()).map(toClient);
  }

  async find(clientId: string): Promise<OAuthClient | undefined> {
    const row = await this.findRow(clientId);
    return row ? toClient(row) : undefined;
  }

  /** Deletes the client: its refresh tokens stop working at once (the token endpoint no longer knows it). */
  async delete(clientId: string, context?: IdentityAuditContext): Promise<void> {
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 64 || !(await this.repository.delete(clientId))) {
      throw new IdentityError('IDENTITY_OAUTH_CLIENT_NOT_FOUND', 'no such OAuth client: see realmctl client list');
    }
    await recordIdentityEvent(this.audit, context, { action: 'identity.oauth.client.delete', outcome: 'success', resources: [clientId] });
  }

  /**
   * The client as oidc-provider's Client model reads it (RFC 7591 §2 metadata). `client_secret`
   * holds the secret's digest: {@link compareSecret} is installed as the Client's secret comparison.
   */
  async providerMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.findRow(clientId);
    if (!row) return undefined;
    const web = row.redirectUris.every((uri) => uri.startsWith('https:'));
    return {
      client_id: row.clientId,
      client_name: row.name,
      application_type: web ? 'web' : 'native',
      grant_types: row.grantTypes,
      redirect_uris: row.redirectUris,
      response_types: row.grantTypes.includes('authorization_code') ? ['code'] : [],
      ...(row.secretSha256 === null
        ? { token_endpoint_auth_method: 'none' }
        : { token_endpoint_auth_method: 'client_secret_basic', client_secret: row.secretSha256 }),
    };
  }

  private async findRow(clientId: string): Promise<OAuthClientRow | null> {
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 64) return null;
    return this.repository.find(clientId);
  }
}

/** Whether `presented` is the secret whose digest is `storedDigest`, in constant time. */
export function compareSecret(storedDigest: unknown, presented: unknown): boolean {
  if (typeof storedDigest !== 'string' || typeof presented !== 'string' || presented.length === 0 || presented.length > 512) return false;
  return constantTimeEqual(Buffer.from(secretDigest(presented), 'hex'), Buffer.from(storedDigest, 'hex'));
}

function secretDigest(secret: string): string {
  return sha256(Buffer.from(secret, 'utf8')).toString('hex');
}

function toClient(row: OAuthClientRow): OAuthClient {
  return Object.freeze({
    clientId: row.clientId,
    name: row.name,
    public: row.secretSha256 === null,
    redirectUris: Object.freeze([...row.redirectUris]),
    grantTypes: Object.freeze([...row.grantTypes]),
    createdAt: row.createdAt,
  });
}

function checkGrants(grants: readonly ClientGrant[]): string[] {
  if (!Array.isArray(grants) || grants.length === 0) throw invalidArgument(`a client needs at least one grant: ${Object.keys(CLIENT_GRANTS).join(', ')}`);
  for (const grant of grants) {
    if (typeof grant !== 'string' || !Object.hasOwn(CLIENT_GRANTS, grant)) throw invalidArgument(`unknown grant ${JSON.stringify(String(grant)).slice(0, 80)}: grants are ${Object.keys(CLIENT_GRANTS).join(', ')}`);
  }
  const wanted = new Set(grants);
  if (wanted.has('refresh_token') && wanted.size === 1) throw invalidArgument('refresh_token needs authorization_code or device_code: a refresh token is only ever issued by one of them');
  return (Object.keys(CLIENT_GRANTS) as ClientGrant[]).filter((grant) => wanted.has(grant)).map((grant) => CLIENT_GRANTS[grant]);
}

/**
 * RFC 6749 §3.1.2 (absolute, no fragment) and RFC 8252 §7 (native apps): https anywhere, http only
 * to a loopback IP literal (§7.3; not "localhost", §8.3), or a private-use scheme in reverse-domain
 * form (§7.1). They are matched exactly (RFC 9700 §4.1.3); the one exception oidc-provider makes
 * is RFC 8252 §7.3's: a loopback redirect of a native client may name any port.
 */
function checkRedirectUris(uris: readonly string[], required: boolean): string[] {
  if (!Array.isArray(uris)) throw invalidArgument('redirect URIs must be a list');
  if (required && uris.length === 0) throw invalidArgument('authorization_code needs at least one --redirect-uri');
  if (!required && uris.length > 0) throw invalidArgument('redirect URIs are only used by authorization_code: drop --redirect-uri or add --grant authorization_code');
  if (uris.length > MAX_REDIRECT_URIS) throw invalidArgument(`at most ${MAX_REDIRECT_URIS} redirect URIs`);
  for (const uri of uris) {
    let url: URL;
    try {
      if (typeof uri !== 'string' || uri.length > MAX_REDIRECT_URI_LENGTH) throw new Error('length');
      url = new URL(uri);
    } catch {
      throw invalidArgument(`redirect URI ${JSON.stringify(String(uri)).slice(0, 120)} is not an absolute URI of at most ${MAX_REDIRECT_URI_LENGTH} characters`);
    }
    if (url.hash !== '' || uri.includes('#')) throw invalidArgument(`redirect URI ${uri} has a fragment (RFC 6749 §3.1.2)`);
    if (url.username !== '' || url.password !== '') throw invalidArgument(`redirect URI ${uri} carries credentials`);
    const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) || PRIVATE_USE_SCHEME.test(url.protocol);
    if (!allowed) throw invalidArgument(`redirect URI ${uri} must be https, http to 127.0.0.1 or [::1], or a private-use scheme like com.example.app: (RFC 8252 §7)`);
  }
  if (new Set(uris).size !== uris.length) throw invalidArgument('a redirect URI is listed twice');
  return [...uris];
}
