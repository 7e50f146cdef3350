import { RealmError } from '@realm/errors';

export type IdentityErrorCode =
  /** A caller passed a malformed name, role, key, lifetime or option. */
  | 'IDENTITY_INVALID_ARGUMENT'
  | 'IDENTITY_PRINCIPAL_NOT_FOUND'
  /** A principal of that kind and name (or id) already exists. */
  | 'IDENTITY_PRINCIPAL_EXISTS'
  /** The principal is disabled or deleted: it may not obtain or use credentials. */
  | 'IDENTITY_PRINCIPAL_DISABLED'
  /** Deletion is final: a deleted principal cannot be enabled, disabled or given roles. */
  | 'IDENTITY_PRINCIPAL_DELETED'
  /** Malformed, wrongly typed, unknown key, refused algorithm or bad signature: one generic answer. */
  | 'IDENTITY_TOKEN_INVALID'
  | 'IDENTITY_TOKEN_EXPIRED'
  /** `nbf` (or `iat`) lies in the future beyond the clock tolerance. */
  | 'IDENTITY_TOKEN_NOT_YET_VALID'
  | 'IDENTITY_TOKEN_AUDIENCE'
  | 'IDENTITY_TOKEN_ISSUER'
  /** The principal's credentials changed (disabled and re-enabled, roles changed) since the token was issued. */
  | 'IDENTITY_TOKEN_REVOKED'
  /** A stored signing key does not match the private key the vault protects, or the vault lost it. */
  | 'IDENTITY_SIGNING_KEY_INVALID'
  /** The service CA has not been created yet. */
  | 'IDENTITY_CA_NOT_INITIALIZED'
  /** The stored service CA certificate does not match the private key the vault protects. */
  | 'IDENTITY_CA_INVALID'
  /** A service credential (JWK + x5c) was refused. */
  | 'IDENTITY_CERTIFICATE_INVALID'
  | 'IDENTITY_CERTIFICATE_NOT_FOUND';

/**
 * An identity failure. Messages are safe to show a client and never contain a token, a key or a
 * certificate; the precise reason a credential was refused is kept in `cause`, which only reaches
 * the log (see {@link RealmError}).
 */
export class IdentityError extends RealmError<IdentityErrorCode> {
  override readonly name = 'IdentityError';
}

/** The refusal of a credential: the generic message for the client, the reason in `cause` for the log. */
export function refused(code: IdentityErrorCode, message: string, reason: string): IdentityError {
  return new IdentityError(code, message, { cause: new Error(reason) });
}

export function invalidArgument(message: string): IdentityError {
  return new IdentityError('IDENTITY_INVALID_ARGUMENT', message);
}
