import { AuditError, type AuditErrorCode } from '@realm/audit';
import { CryptoError, type CryptoErrorCode } from '@realm/crypto';
import { IdentityError, type IdentityErrorCode } from '@realm/identity';
import { KmsError, kmsStatusOf } from '@realm/kms';
import { assertUnreachable, type RealmError } from '@realm/errors';
import { defaultHttpErrorStatus } from '@realm/http';
import { PersistenceError, type PersistenceErrorCode } from '@realm/persistence';
import { VaultError, type VaultErrorCode } from '@realm/vault';

/**
 * The HTTP status of every error code of the appliance, decided once (RFC 9110 §15). A new code
 * without a status here does not compile.
 */
export function realmHttpErrorStatus(error: RealmError): number {
  if (error instanceof VaultError) return vaultStatus(error.code);
  if (error instanceof PersistenceError) return persistenceStatus(error.code);
  if (error instanceof AuditError) return auditStatus(error.code);
  if (error instanceof KmsError) return kmsStatusOf(error.code);
  if (error instanceof IdentityError) return identityStatus(error.code);
  if (error instanceof CryptoError) return cryptoStatus(error.code);
  return defaultHttpErrorStatus(error);
}

function vaultStatus(code: VaultErrorCode): number {
  switch (code) {
    case 'VAULT_KEY_NOT_FOUND':
      return 404;
    case 'VAULT_KEY_EXISTS':
      return 409;
    // The HSM or the master key is unavailable: the request may succeed later, on this or another node.
    case 'VAULT_HSM_UNAVAILABLE':
    case 'VAULT_HSM_MODULE_UNAVAILABLE':
    case 'VAULT_TOKEN_NOT_FOUND':
    case 'VAULT_PIN_INCORRECT':
    case 'VAULT_PIN_LOCKED':
    case 'VAULT_NOT_INITIALIZED':
    case 'VAULT_MASTER_KEY_MISSING':
    case 'VAULT_MASTER_KEY_MISMATCH':
      return 503;
    // Stored material failed its integrity check, or an operator action hit the wrong state:
    // neither is the client's doing.
    case 'VAULT_UNWRAP_FAILED':
    case 'VAULT_HSM_ERROR':
    case 'VAULT_SOFTWARE_IN_PRODUCTION':
    case 'VAULT_INVALID_ARGUMENT':
    case 'VAULT_ROTATION_STATE':
      return 500;
    default:
      return assertUnreachable(code);
  }
}

function persistenceStatus(code: PersistenceErrorCode): number {
  switch (code) {
    case 'DB_UNAVAILABLE':
    case 'DB_MIGRATION_LOCKED':
      return 503;
    case 'DB_MIGRATION_FAILED':
      return 500;
    default:
      return assertUnreachable(code);
  }
}

function auditStatus(code: AuditErrorCode): number {
  switch (code) {
    // Fail closed: an operation that cannot be audited is refused, and may be retried.
    case 'AUDIT_WRITE_FAILED':
    case 'AUDIT_CLOSED':
      return 503;
    case 'AUDIT_SIGNING_KEY_INVALID':
      return 500;
    default:
      return assertUnreachable(code);
  }
}

function identityStatus(code: IdentityErrorCode): number {
  switch (code) {
    case 'IDENTITY_INVALID_ARGUMENT':
    case 'IDENTITY_SAML_MALFORMED':
    case 'IDENTITY_SAML_RELAY_STATE':
      return 400;
    // A SAML response that failed verification: the browser brought a credential we refuse.
    case 'IDENTITY_SAML_SIGNATURE_INVALID':
    case 'IDENTITY_SAML_WEAK_ALGORITHM':
    case 'IDENTITY_SAML_ISSUER':
    case 'IDENTITY_SAML_AUDIENCE':
    case 'IDENTITY_SAML_DESTINATION':
    case 'IDENTITY_SAML_RECIPIENT':
    case 'IDENTITY_SAML_EXPIRED':
    case 'IDENTITY_SAML_NOT_YET_VALID':
    case 'IDENTITY_SAML_REPLAY':
    case 'IDENTITY_SAML_UNSOLICITED':
    case 'IDENTITY_SAML_STATUS':
    case 'IDENTITY_SESSION_REQUIRED':
      return 401;
    case 'IDENTITY_SAML_NO_ROLE':
    case 'IDENTITY_SESSION_CSRF':
      return 403;
    case 'IDENTITY_SAML_NOT_CONFIGURED':
      return 404;
    case 'IDENTITY_SAML_TOO_LARGE':
      return 413;
    case 'IDENTITY_SAML_METADATA_INVALID':
      return 500;
    case 'IDENTITY_SCIM_INVALID_FILTER':
    case 'IDENTITY_SCIM_INVALID_SYNTAX':
    case 'IDENTITY_SCIM_INVALID_VALUE':
    case 'IDENTITY_SCIM_INVALID_PATH':
    case 'IDENTITY_SCIM_NO_TARGET':
    case 'IDENTITY_SCIM_MUTABILITY':
      return 400;
    case 'IDENTITY_SCIM_UNAUTHORIZED':
      return 401;
    case 'IDENTITY_SCIM_NOT_FOUND':
      return 404;
    case 'IDENTITY_SCIM_UNIQUENESS':
      return 409;
    case 'IDENTITY_SCIM_TOO_LARGE':
      return 413;
    case 'IDENTITY_SCIM_MEDIA_TYPE':
      return 415;
    case 'IDENTITY_TOKEN_INVALID':
    case 'IDENTITY_TOKEN_EXPIRED':
    case 'IDENTITY_TOKEN_NOT_YET_VALID':
    case 'IDENTITY_TOKEN_AUDIENCE':
    case 'IDENTITY_TOKEN_ISSUER':
    case 'IDENTITY_TOKEN_REVOKED':
    case 'IDENTITY_CERTIFICATE_INVALID':
      return 401;
    case 'IDENTITY_PRINCIPAL_DISABLED':
    case 'IDENTITY_PRINCIPAL_DELETED':
      return 403;
    case 'IDENTITY_PRINCIPAL_NOT_FOUND':
    case 'IDENTITY_CERTIFICATE_NOT_FOUND':
      return 404;
    case 'IDENTITY_OAUTH_CLIENT_NOT_FOUND':
      return 404;
    case 'IDENTITY_PRINCIPAL_EXISTS':
    case 'IDENTITY_OAUTH_CLIENT_EXISTS':
      return 409;
    case 'IDENTITY_CA_NOT_INITIALIZED':
      return 503;
    case 'IDENTITY_SIGNING_KEY_INVALID':
    case 'IDENTITY_CA_INVALID':
      return 500;
    default:
      return assertUnreachable(code);
  }
}

function cryptoStatus(code: CryptoErrorCode): number {
  switch (code) {
    // Untrusted input that failed a check: the client's.
    case 'CRYPTO_MALFORMED':
    case 'CRYPTO_DECRYPT_FAILED':
      return 400;
    // A programmer's misuse: ours.
    case 'CRYPTO_INVALID_INPUT':
      return 500;
    default:
      return assertUnreachable(code);
  }
}
