import { RealmError } from '@realm/errors';

export type AuditErrorCode =
  /** The audit log could not be written: the operation that asked for it must fail (fail closed). */
  | 'AUDIT_WRITE_FAILED'
  /** The checkpoint signing key is missing or does not match the key the vault protects. */
  | 'AUDIT_SIGNING_KEY_INVALID'
  | 'AUDIT_CLOSED';

export class AuditError extends RealmError<AuditErrorCode> {
  override readonly name = 'AuditError';
}
