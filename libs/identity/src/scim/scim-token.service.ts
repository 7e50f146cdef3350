import type { AuditLog } from '@realm/audit';
import { constantTimeEqual, randomBytes, sha256 } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError, invalidArgument } from '../identity.error.js';
import type { ScimTokenRow } from './scim.entities.js';
import { scimNotFound } from './scim-errors.js';
import { ScimTokenRepository } from './scim-token.repository.js';

/** A SCIM token as `realmctl scim token list` shows it: never the token, never its hash. */
export interface ScimTokenInfo {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** The SCIM client a request authenticated as. */
export interface ScimClient {
  readonly tokenId: string;
  readonly name: string;
}

/**
 * A refused SCIM credential. `credentialsPresent` tells the HTTP layer whether to add
 * `error="invalid_token"` to WWW-Authenticate (RFC 6750 §3.1: not when none was sent).
 */
export class ScimUnauthorizedError extends IdentityError {
  constructor(
    readonly credentialsPresent: boolean,
    reason: string,
  ) {
    super('IDENTITY_SCIM_UNAUTHORIZED', 'a valid SCIM bearer token is required (realmctl scim token create)', { cause: new Error(reason) });
  }
}

/**
 * `realm-scim_<id>_<secret>`: the prefix makes a leaked token recognisable (secret scanners), the
 * id finds the row without the secret, and the secret is 32 random bytes (base64url, 43 chars).
 * A KMS access token (a JWT) can never match, nor can this token pass as a JWT.
 */
const TOKEN_PREFIX = 'realm-scim_';
const TOKEN_PATTERN = /^realm-scim_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const TOKEN_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,127}$/u;
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The SCIM clients' bearer credentials. Only the SHA-256 of a token is stored, and compared in
 * constant time; creation and revocation are audited (`identity.scim.token.*`), never the token.
 */
export class ScimTokenService {
  private readonly repository: ScimTokenRepository;
  private readonly clock: () => number;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    options: { clock?: () => number } = {},
  ) {
    this.repository = new ScimTokenRepository(db);
    this.clock = options.clock ?? Date.now;
  }

  /** Makes a token; the returned `token` is the only copy there will ever be. */
  async create(name: string, context?: IdentityAuditContext): Promise<ScimTokenInfo & { readonly token: string }> {
    if (typeof name !== 'string' || !TOKEN_NAME.test(name)) throw invalidArgument('a SCIM token name must be 1 to 128 letters, digits, spaces and . _ @ -, starting with a letter or digit');
    const id = randomBytes(16).toString('hex');
    const token = `${TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
    const row: ScimTokenRow = { id, name, hashSha256: hashOf(token).toString('hex'), createdAt: new Date(this.clock()), revokedAt: null };
    await this.db.write((tx) => this.repository.insert(row, tx));
    await recordIdentityEvent(this.audit, context, { action: 'identity.scim.token.create', outcome: 'success', resources: [`scim-token:${id}`], details: { name } });
    return { ...infoOf(row), token };
  }

  async list(): Promise<ScimTokenInfo[]> {
    return (await this.repository.list()).map(infoOf);
  }

  /** Revokes the token: the next request with it is refused. Revoking twice changes nothing. */
  async revoke(id: string, context?: IdentityAuditContext): Promise<ScimTokenInfo> {
    if (typeof id !== 'string' || !/^[0-9a-f]{32}$/.test(id)) throw invalidArgument('a SCIM token id is 32 lower-case hex digits (see realmctl scim token list)');
    const revoked = await this.db.write((tx) => this.repository.revoke(id, new Date(this.clock()), tx));
    const row = await this.repository.find(id);
    if (!row) throw scimNotFound(`no SCIM token has the id ${id}`);
    if (revoked) await recordIdentityEvent(this.audit, context, { action: 'identity.scim.token.revoke', outcome: 'success', resources: [`scim-token:${id}`], details: { name: row.name } });
    return infoOf(row);
  }

  /**
   * The client of an `Authorization` header value (RFC 6750 §2.1), or {@link ScimUnauthorizedError}
   * with the reason in its cause (for the audit record and the log, never for the client).
   */
  async authenticate(authorization: unknown): Promise<ScimClient> {
    if (authorization === undefined) throw new ScimUnauthorizedError(false, 'no Authorization header');
    if (typeof authorization !== 'string' || authorization.length > 512) throw new ScimUnauthorizedError(true, 'malformed Authorization header');
    const bearer = BEARER.exec(authorization);
    if (!bearer) throw new ScimUnauthorizedError(true, 'not a Bearer credential');
    const token = bearer[1]!;
    const parts = TOKEN_PATTERN.exec(token);
    if (!parts) throw new ScimUnauthorizedError(true, token.startsWith('eyJ') ? 'a JWT (KMS access tokens are not SCIM credentials)' : 'not a SCIM token');
    const row = await this.repository.find(parts[1]!);
    if (!row) throw new ScimUnauthorizedError(true, 'unknown token id');
    if (!constantTimeEqual(hashOf(token), Buffer.from(row.hashSha256, 'hex'))) throw new ScimUnauthorizedError(true, 'wrong secret for the token id');
    if (row.revokedAt !== null) throw new ScimUnauthorizedError(true, 'revoked token');
    return { tokenId: row.id, name: row.name };
  }
}

function hashOf(token: string): Buffer {
  return sha256(Buffer.from(token, 'utf8'));
}

function infoOf(row: ScimTokenRow): ScimTokenInfo {
  return Object.freeze({ id: row.id, name: row.name, createdAt: row.createdAt, revokedAt: row.revokedAt });
}
