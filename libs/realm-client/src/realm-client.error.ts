import { RealmError } from '@realm/errors';

export type RealmClientErrorCode =
  /** The authorization (SAML login, OAuth code + PKCE) did not end in tokens: an `error` redirect, a state or issuer mismatch, or a refused code. */
  | 'REALM_CLIENT_SIGN_IN_FAILED'
  /** The refresh token was refused (revoked, expired, the user deactivated): sign in again. */
  | 'REALM_CLIENT_SESSION_EXPIRED'
  /** The core answered with an error (kept in `status` and `coreCode`). */
  | 'REALM_CLIENT_CORE_REFUSED'
  /** The core, or the authorization server, could not be reached or answered something that is not the contract. */
  | 'REALM_CLIENT_UNREACHABLE'
  /** The KMS static key the client was given does not validate against its configured roots: nothing is sent to it. */
  | 'REALM_CLIENT_UNTRUSTED_KMS'
  /** The KMS would not hand out a key: not authorized on its resource (or no such key). */
  | 'REALM_CLIENT_KEY_REFUSED'
  /** A room's key is not bound to the room's KMS resource: the core may be steering content to another audience. */
  | 'REALM_CLIENT_UNTRUSTED_ROOM_KEY'
  /** Content that does not decrypt under the key it names (tampered, or not a content JWE). */
  | 'REALM_CLIENT_UNDECRYPTABLE'
  /** A call the client refuses before sending anything (e.g. removing oneself, which needs no key rotation). */
  | 'REALM_CLIENT_INVALID_ARGUMENT'
  /** A call on a client that was closed. */
  | 'REALM_CLIENT_CLOSED';

/** Errors of the reference client. Messages name the problem; they never carry a token, key or plaintext. */
export class RealmClientError extends RealmError<RealmClientErrorCode> {
  override readonly name = 'RealmClientError';
  constructor(
    code: RealmClientErrorCode,
    message: string,
    /** The HTTP or KMS status behind the error, when there is one. */
    readonly status?: number,
    /** The core's own error code (docs/narrow-api.md §4, `error.code`), for REALM_CLIENT_CORE_REFUSED. */
    readonly coreCode?: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}
