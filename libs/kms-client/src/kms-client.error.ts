import { RealmError } from '@realm/errors';

export type KmsClientErrorCode =
  /** The KMS static key or its certificate chain failed validation: the client refuses to talk to it. */
  | 'KMS_CLIENT_UNTRUSTED_KMS'
  /** The KMS answered with an error status (kept in `status`, with its `reason`). */
  | 'KMS_CLIENT_REQUEST_FAILED'
  /** No answer after every retry and renegotiation. */
  | 'KMS_CLIENT_TIMEOUT'
  /** A response that is not a valid KMS message (bad signature, undecryptable, malformed). */
  | 'KMS_CLIENT_PROTOCOL'
  | 'KMS_CLIENT_CLOSED';

export class KmsClientError extends RealmError<KmsClientErrorCode> {
  override readonly name = 'KmsClientError';
  constructor(
    code: KmsClientErrorCode,
    message: string,
    readonly status?: number,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}
