import { assertUnreachable, RealmError } from '@realm/errors';

export type KmsErrorCode =
  /** The message or its body is malformed, or a field is missing or out of range. */
  | 'KMS_BAD_REQUEST'
  /** The credential (bearer token or jwk + x5c) was refused. */
  | 'KMS_UNAUTHENTICATED'
  /** The principal may not do this (including onBehalfOf without the org-agent role). */
  | 'KMS_FORBIDDEN'
  /** No such object, or the caller may not see it: the two are never told apart. */
  | 'KMS_NOT_FOUND'
  /** A key that is already bound, or an expired unbound key, was asked to bind. */
  | 'KMS_CONFLICT'
  /** The ephemeral key (channel) is unknown, expired or deleted: the client must renegotiate. */
  | 'KMS_CHANNEL_INVALID'
  /** The requestId was already used on this channel. */
  | 'KMS_REPLAY'
  /** The static key the message was encrypted to was rotated: the client must drop its state (499). */
  | 'KMS_RESET'
  /** Something on the KMS side failed; details are in the log, never in the response. */
  | 'KMS_INTERNAL'
  /** The vault, the database or the audit log is unavailable. */
  | 'KMS_UNAVAILABLE'
  /** A batch with more messages than kms.maxBatch (transport level). */
  | 'KMS_TOO_LARGE';

/** A KMS protocol error: becomes `{ status, reason, requestId }` in the response, never a crash. */
export class KmsError extends RealmError<KmsErrorCode> {
  override readonly name = 'KmsError';
}

/**
 * The KMS response status of each code: draft-abiggs-saag-key-management-service §4 uses HTTP
 * status codes (RFC 7231); 499 is the reset of the editor's later revisions.
 */
export function kmsStatusOf(code: KmsErrorCode): number {
  switch (code) {
    case 'KMS_BAD_REQUEST':
      return 400;
    case 'KMS_UNAUTHENTICATED':
      return 401;
    case 'KMS_FORBIDDEN':
    case 'KMS_CHANNEL_INVALID':
      // The draft's example: 403 "ephemeral key expired".
      return 403;
    case 'KMS_NOT_FOUND':
      return 404;
    case 'KMS_CONFLICT':
    case 'KMS_REPLAY':
      return 409;
    case 'KMS_TOO_LARGE':
      return 413;
    case 'KMS_RESET':
      return 499;
    case 'KMS_INTERNAL':
      return 500;
    case 'KMS_UNAVAILABLE':
      return 503;
    default:
      return assertUnreachable(code);
  }
}

/** The reset of the draft's later revisions (499): the static key a channel or handshake was made under was rotated. */
export function staticKeyReset(): KmsError {
  return new KmsError('KMS_RESET', 'the KMS static key was rotated: discard ephemeral and unbound keys and fetch the new static key');
}

export function badRequest(reason: string): KmsError {
  return new KmsError('KMS_BAD_REQUEST', reason);
}
