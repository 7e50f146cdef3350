import { IdentityError, refused } from '../identity.error.js';

/** The audiences access tokens are minted for. Only the KMS so far. */
export type TokenAudience = 'kms';

/**
 * The claims of an access token (RFC 9068 §2.2 over RFC 7519 §4.1). `cep` is a private claim
 * (RFC 7519 §4.3): the principal's credential epoch when the token was issued.
 */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: TokenAudience;
  readonly client_id: string;
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
  readonly jti: string;
  readonly cep: number;
  /** RFC 9068 §2.2.3: space-separated scope tokens (RFC 6749 §3.3). */
  readonly scope?: string;
}

export interface ClaimExpectations {
  readonly issuer: string;
  readonly audience: TokenAudience;
  /** Seconds since the epoch. */
  readonly now: number;
  readonly toleranceSeconds: number;
  readonly maxLifetimeSeconds: number;
}

export const INVALID_TOKEN_MESSAGE = 'the access token is invalid';

/**
 * Checks a signature-verified claims set. Runs on every verification, cached signature or not,
 * because its answer depends on the time and on what the caller expects. Order: shape, then
 * issuer, audience, and time, so each refusal names the first thing that is wrong.
 */
export function checkAccessTokenClaims(payload: unknown, expect: ClaimExpectations): AccessTokenClaims {
  const claims = shapeOf(payload);
  // RFC 9068 §4: the issuer must match exactly; tokens of any other issuer (a core's) are refused.
  if (claims.iss !== expect.issuer) throw refused('IDENTITY_TOKEN_ISSUER', 'the access token was issued by another issuer', 'iss does not match the configured issuer');
  // RFC 7519 §4.1.3, RFC 9068 §4: the audience must be exactly this resource. Our issuer only
  // mints single-audience tokens, so an array is refused rather than searched.
  if (claims.aud !== expect.audience) throw refused('IDENTITY_TOKEN_AUDIENCE', `the access token is not meant for ${expect.audience}`, 'aud does not match');
  const { now, toleranceSeconds: leeway } = expect;
  // RFC 7519 §4.1.4: refused on or after exp (with a small leeway for clock skew).
  if (now >= claims.exp + leeway) throw refused('IDENTITY_TOKEN_EXPIRED', 'the access token has expired', 'exp has passed');
  // RFC 7519 §4.1.5; an iat in the future means skewed clocks or a forged token.
  if (claims.nbf !== undefined && now + leeway < claims.nbf) throw refused('IDENTITY_TOKEN_NOT_YET_VALID', 'the access token is not valid yet', 'nbf is in the future');
  if (now + leeway < claims.iat) throw refused('IDENTITY_TOKEN_NOT_YET_VALID', 'the access token is not valid yet', 'iat is in the future');
  if (claims.exp - claims.iat > expect.maxLifetimeSeconds) throw invalid('the token lives longer than the longest lifetime allowed');
  return claims;
}

function shapeOf(payload: unknown): AccessTokenClaims {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('the payload is not a JSON object');
  const p = payload as Record<string, unknown>;
  const text = (name: string, max: number): string => {
    const value = p[name];
    if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(`claim ${name} is missing or malformed`);
    return value;
  };
  const time = (name: string): number => {
    const value = p[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`claim ${name} is missing or not a NumericDate`);
    return value;
  };
  const cep = p['cep'];
  if (typeof cep !== 'number' || !Number.isSafeInteger(cep) || cep < 0) throw invalid('claim cep is missing or malformed');
  const scope = p['scope'];
  if (scope !== undefined && typeof scope !== 'string') throw invalid('claim scope is not a string');
  const iat = time('iat');
  const exp = time('exp');
  if (exp <= iat) throw invalid('exp is not after iat');
  return {
    iss: text('iss', 512),
    sub: text('sub', 128),
    // Compared with the expected audience (a string) by the caller, which refuses anything else.
    aud: p['aud'] as TokenAudience,
    client_id: text('client_id', 256),
    iat,
    exp,
    ...(p['nbf'] !== undefined && { nbf: time('nbf') }),
    jti: text('jti', 128),
    cep,
    ...(scope !== undefined && { scope }),
  };
}

function invalid(reason: string): IdentityError {
  return refused('IDENTITY_TOKEN_INVALID', INVALID_TOKEN_MESSAGE, reason);
}

export { invalid as invalidToken };
