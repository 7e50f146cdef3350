import { randomUUID, verify } from 'node:crypto';
import { decodeProtectedHeader, SignJWT } from 'jose';
import type { AuditLog } from '@realm/audit';
import { sha256 } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError, invalidArgument, refused } from '../identity.error.js';
import type { Principal } from '../principals/principal.js';
import type { PrincipalService } from '../principals/principal.service.js';
import { type AccessTokenClaims, checkAccessTokenClaims, invalidToken, type TokenAudience } from './access-token-claims.js';
import { BoundedCache } from './bounded-cache.js';
import { type JsonWebKeySet, TOKEN_SIGNING_ALG, TokenSigningKeys } from './token-signing-keys.js';

/** RFC 9068 §2.1: the `typ` header of JWT access tokens. */
const ACCESS_TOKEN_TYP = 'at+jwt';
/** Longest lifetime any token may have, whatever the configuration says. */
const HARD_MAX_LIFETIME_SECONDS = 3600;
/** Tokens longer than this are not parsed at all. */
const MAX_TOKEN_LENGTH = 8192;
const AUDIENCES: readonly TokenAudience[] = ['kms'];
// RFC 6749 Appendix A.1 (client_id: VSCHAR) and §3.3 (scope-token: NQCHAR).
const CLIENT_ID = /^[\x20-\x7e]{1,256}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
// RFC 7518 §3.4: R and S of 32 bytes each.
const ES256_SIGNATURE_BYTES = 64;
// RFC 7515 §2: unpadded base64url, nothing else.
const BASE64URL = /^[A-Za-z0-9_-]*$/;

// Header parameters that would point a verifier at a key chosen by the sender (RFC 8725 §3.10).
const KEY_BEARING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];

export interface TokenServiceOptions {
  /** The `iss` of every token, matched exactly on verification: an https URL without query or fragment (RFC 8414 §2). */
  readonly issuer: string;
  /** Default 300 s. */
  readonly defaultLifetimeSeconds?: number;
  /** Default and ceiling 3600 s. */
  readonly maxLifetimeSeconds?: number;
  /** Leeway for exp, nbf and iat between the clocks of nodes and clients; default 30 s, at most 300 s. */
  readonly clockToleranceSeconds?: number;
  /** Verified signatures remembered (LRU, until the token expires); default 10000, 0 turns the cache off. */
  readonly verifiedTokenCacheSize?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
}

export interface IssueAccessTokenOptions {
  readonly audience: TokenAudience;
  /** The OAuth client the token is issued to (RFC 9068 §2.2 `client_id`). */
  readonly clientId: string;
  readonly scope?: string | readonly string[];
  readonly lifetimeSeconds?: number;
}

/** What a token endpoint returns (RFC 6749 §5.1). */
export interface IssuedAccessToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  readonly expiresIn: number;
  readonly expiresAt: Date;
  readonly jti: string;
  readonly scope?: string;
}

export interface VerifiedAccessToken {
  /** The principal as it is now (current roles), not as it was at issue. */
  readonly principal: Principal;
  readonly clientId: string;
  readonly claims: AccessTokenClaims;
}

interface VerifiedSignature {
  readonly kid: string;
  readonly payload: unknown;
}

/**
 * The appliance's OAuth-style access tokens (JWT, RFC 9068 profile), signed ES256 with a key the
 * vault protects.
 *
 * Verification is strict: one algorithm (ES256; `none`, HMAC and RSA are refused before any key
 * is touched, so no algorithm confusion), a known and still accepted `kid`, `typ` at+jwt, exact
 * issuer and audience, exp/nbf/iat with a small leeway. The ES256 check is cached per token
 * (keyed by its SHA-256, until it expires, bounded LRU) because clients reuse a token for many
 * requests; everything else runs on every call.
 *
 * The principal is read from the database on every call, never from a cache: it must exist, be
 * active and still have the credential epoch the token carries (`cep`). Disabling a principal,
 * deleting it or changing its roles bumps the epoch, so its tokens are refused on the very next
 * request on every node, though they have not expired. One primary-key read per request is the
 * price; a cross-node cache could only bound that delay, not remove it.
 */
export class TokenService {
  private readonly verified: BoundedCache<VerifiedSignature>;

  private constructor(
    private readonly keys: TokenSigningKeys,
    private readonly principals: PrincipalService,
    private readonly audit: AuditLog,
    private readonly policy: TokenPolicy,
  ) {
    this.verified = new BoundedCache(policy.verifiedTokenCacheSize);
  }

  /** Opens the service; creates the first signing key when there is none (safe on several nodes at once). */
  static async open(db: Database, vault: KeyVault, audit: AuditLog, principals: PrincipalService, options: TokenServiceOptions): Promise<TokenService> {
    const policy = tokenPolicy(options);
    const keys = new TokenSigningKeys(db, vault, audit, policy.clock, policy.maxLifetime + policy.tolerance);
    await keys.ensureActive();
    return new TokenService(keys, principals, audit, policy);
  }

  /**
   * Issues a short-lived access token to an active principal. Audited as `identity.token.issue`
   * (with its jti, never the token); refusals are audited as denied.
   */
  async issueAccessToken(principalId: string, options: IssueAccessTokenOptions, context?: IdentityAuditContext): Promise<IssuedAccessToken> {
    if (!AUDIENCES.includes(options.audience)) throw invalidArgument(`unknown token audience: known audiences are ${AUDIENCES.join(', ')}`);
    if (typeof options.clientId !== 'string' || !CLIENT_ID.test(options.clientId)) throw invalidArgument('a client_id must be 1 to 256 printable ASCII characters (RFC 6749 Appendix A.1)');
    const scope = normalizeScope(options.scope);
    const lifetime = options.lifetimeSeconds ?? this.policy.defaultLifetime;
    if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > this.policy.maxLifetime) throw invalidArgument(`a token lifetime must be 1 to ${this.policy.maxLifetime} seconds`);

    const principal = await this.principals.find(principalId);
    if (!principal || principal.status !== 'active') {
      const error = principal
        ? new IdentityError('IDENTITY_PRINCIPAL_DISABLED', 'the principal is not active: no token is issued')
        : new IdentityError('IDENTITY_PRINCIPAL_NOT_FOUND', 'no such principal');
      const resources = [String(principalId).slice(0, 128)];
      await recordIdentityEvent(this.audit, context, { action: 'identity.token.issue', outcome: 'denied', resources, reason: error.code, details: { audience: options.audience, clientId: options.clientId } });
      throw error;
    }
    const actor = { type: principal.kind, id: principal.id, clientId: options.clientId };

    const signer = await this.keys.activeSigner();
    const iat = Math.floor(this.policy.clock() / 1000);
    const exp = iat + lifetime;
    const jti = randomUUID();
    const accessToken = await new SignJWT({ client_id: options.clientId, cep: principal.credentialEpoch, ...(scope !== undefined && { scope }) })
      .setProtectedHeader({ alg: TOKEN_SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid: signer.kid })
      .setIssuer(this.policy.issuer)
      .setSubject(principal.id)
      .setAudience(options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(signer.privateKey);
    await recordIdentityEvent(this.audit, context, {
      action: 'identity.token.issue',
      outcome: 'success',
      actor,
      resources: [principal.id],
      details: { jti, kid: signer.kid, audience: options.audience, lifetimeSeconds: lifetime, credentialEpoch: principal.credentialEpoch, ...(scope !== undefined && { scope }) },
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: lifetime, expiresAt: new Date(exp * 1000), jti, ...(scope !== undefined && { scope }) };
  }

  /**
   * Verifies a bearer token for `audience` and returns its principal. Throws IdentityError:
   * IDENTITY_TOKEN_INVALID (one generic message for anything wrong with its form, header, key or
   * signature), _ISSUER, _AUDIENCE, _EXPIRED, _NOT_YET_VALID, IDENTITY_PRINCIPAL_NOT_FOUND,
   * IDENTITY_PRINCIPAL_DISABLED, or IDENTITY_TOKEN_REVOKED (the principal's credentials changed
   * since). Not audited here: the caller audits the request it was presented with.
   */
  async verifyAccessToken(token: unknown, expected: { audience: TokenAudience }): Promise<VerifiedAccessToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalidToken('not a string of acceptable length');
    const now = this.policy.clock();
    const cacheKey = sha256(Buffer.from(token, 'utf8')).toString('hex');
    let signature = this.verified.get(cacheKey, now);
    if (signature) {
      // The key may have stopped being accepted since (its retention ended).
      if (!(await this.keys.verificationKey(signature.kid))) throw invalidToken('the signing key is no longer accepted');
    } else {
      signature = await this.verifySignature(token);
    }
    const claims = checkAccessTokenClaims(signature.payload, {
      issuer: this.policy.issuer,
      audience: expected.audience,
      now: Math.floor(now / 1000),
      toleranceSeconds: this.policy.tolerance,
      maxLifetimeSeconds: this.policy.maxLifetime,
    });
    this.verified.set(cacheKey, signature, (claims.exp + this.policy.tolerance) * 1000);

    const principal = await this.principals.find(claims.sub);
    if (!principal) throw refused('IDENTITY_PRINCIPAL_NOT_FOUND', 'no such principal', 'the token subject does not exist');
    if (principal.status !== 'active') throw refused('IDENTITY_PRINCIPAL_DISABLED', 'the principal is not active', `the principal is ${principal.status}`);
    if (principal.credentialEpoch !== claims.cep) throw refused('IDENTITY_TOKEN_REVOKED', "the access token was revoked: the principal's credentials changed since it was issued", 'cep differs from the credential epoch');
    return { principal, clientId: claims.client_id, claims };
  }

  /** The public keys of every key whose tokens are still accepted (RFC 7517 §5), for a jwks_uri. */
  jwks(): Promise<JsonWebKeySet> {
    return this.keys.jwks();
  }

  /**
   * Makes a new active signing key; the previous one keeps verifying until its tokens can no longer
   * be valid (longest lifetime plus clock tolerance after now). Audited.
   */
  rotateSigningKey(context?: IdentityAuditContext): Promise<{ kid: string; retiredKid: string | undefined }> {
    return this.keys.rotate(context);
  }

  get issuerUrl(): string {
    return this.policy.issuer;
  }

  /** Header checks, key lookup and the ES256 signature. Every failure is the one generic refusal. */
  private async verifySignature(token: string): Promise<VerifiedSignature> {
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch {
      throw invalidToken('the header does not decode');
    }
    // RFC 8725 §3.1: the algorithm is fixed by the verifier, not chosen by the token.
    if (header['alg'] !== TOKEN_SIGNING_ALG) throw invalidToken('the algorithm is not ES256');
    // RFC 9068 §4 (and RFC 8725 §3.11, explicit typing): media types compare case-insensitively.
    const typ = typeof header['typ'] === 'string' ? header['typ'].toLowerCase() : undefined;
    if (typ !== ACCESS_TOKEN_TYP && typ !== `application/${ACCESS_TOKEN_TYP}`) throw invalidToken('typ is not at+jwt');
    if (KEY_BEARING_HEADERS.some((name) => name in header) || 'crit' in header) throw invalidToken('the header carries a key or critical extensions');
    const kid = header['kid'];
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 64) throw invalidToken('kid is missing');
    const key = await this.keys.verificationKey(kid);
    if (!key) throw invalidToken('kid is not an accepted signing key');
    // ES256 (RFC 7518 §3.4) with node:crypto directly: the header was checked above and the key
    // is the one its kid names; jose's WebCrypto path costs a promise round trip through the
    // thread pool per token, four times the verification itself (npm run bench, identity).
    const segments = token.split('.');
    if (segments.length !== 3 || !segments.every((segment) => BASE64URL.test(segment))) throw invalidToken('not a compact JWS');
    const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
    const signature = Buffer.from(signatureSegment, 'base64url');
    let valid = false;
    try {
      valid = signature.length === ES256_SIGNATURE_BYTES && verify('sha256', Buffer.from(`${headerSegment}.${payloadSegment}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      valid = false;
    }
    if (!valid) throw invalidToken('the signature does not verify');
    const payload = Buffer.from(payloadSegment, 'base64url');
    try {
      return { kid, payload: JSON.parse(Buffer.from(payload).toString('utf8')) as unknown };
    } catch {
      throw invalidToken('the payload is not JSON');
    }
  }
}

interface TokenPolicy {
  readonly issuer: string;
  readonly defaultLifetime: number;
  readonly maxLifetime: number;
  readonly tolerance: number;
  readonly verifiedTokenCacheSize: number;
  readonly clock: () => number;
}

/** The options, checked, with their defaults. */
function tokenPolicy(options: TokenServiceOptions): TokenPolicy {
  const maxLifetime = intOption('maxLifetimeSeconds', options.maxLifetimeSeconds, HARD_MAX_LIFETIME_SECONDS, 1, HARD_MAX_LIFETIME_SECONDS);
  return {
    issuer: checkIssuer(options.issuer),
    maxLifetime,
    defaultLifetime: intOption('defaultLifetimeSeconds', options.defaultLifetimeSeconds, Math.min(300, maxLifetime), 1, maxLifetime),
    tolerance: intOption('clockToleranceSeconds', options.clockToleranceSeconds, 30, 0, 300),
    verifiedTokenCacheSize: intOption('verifiedTokenCacheSize', options.verifiedTokenCacheSize, 10_000, 0, 1_000_000),
    clock: options.clock ?? Date.now,
  };
}

function checkIssuer(issuer: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof issuer === 'string' ? new URL(issuer) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalidArgument('the token issuer must be an https URL without query, fragment or credentials (RFC 8414 §2)');
  }
  return issuer as string;
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < min || chosen > max) throw invalidArgument(`token option ${name} must be an integer from ${min} to ${max}`);
  return chosen;
}

function normalizeScope(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const tokens = typeof scope === 'string' ? scope.split(' ') : [...scope];
  if (tokens.length === 0 || tokens.length > 64 || !tokens.every((t) => typeof t === 'string' && SCOPE_TOKEN.test(t))) {
    throw invalidArgument('a scope is 1 to 64 space-separated scope tokens (RFC 6749 §3.3)');
  }
  return [...new Set(tokens)].join(' ');
}
