import { RealmError } from '@realm/errors';

export type VaultErrorCode =
  /** The PKCS#11 module could not be loaded or initialised (vault.pkcs11.module). */
  | 'VAULT_HSM_MODULE_UNAVAILABLE'
  /** No token with the configured label is present (vault.pkcs11.tokenLabel). */
  | 'VAULT_TOKEN_NOT_FOUND'
  /** The token refused the PIN (vault.pkcs11.pin / pinFile). */
  | 'VAULT_PIN_INCORRECT'
  /** The token's user PIN is locked after too many failures. */
  | 'VAULT_PIN_LOCKED'
  /** The token or its session went away and could not be re-opened. */
  | 'VAULT_HSM_UNAVAILABLE'
  /** Any other PKCS#11 failure; the CKR_ name is in the message. */
  | 'VAULT_HSM_ERROR'
  /** `realmctl init` has not created the master key yet. */
  | 'VAULT_NOT_INITIALIZED'
  /** The database names a master key generation that the backend does not hold. */
  | 'VAULT_MASTER_KEY_MISSING'
  /** The backend holds a key under the label/generation, but it is not the one the database was built with. */
  | 'VAULT_MASTER_KEY_MISMATCH'
  /** A wrapped or sealed blob was refused: tampered, truncated, or under another key or URI. */
  | 'VAULT_UNWRAP_FAILED'
  | 'VAULT_KEY_NOT_FOUND'
  | 'VAULT_KEY_EXISTS'
  /** The software backend was asked to run with env=production. */
  | 'VAULT_SOFTWARE_IN_PRODUCTION'
  /** A caller asked for something the vault refuses by policy (e.g. an RSA key under 2048 bits). */
  | 'VAULT_INVALID_ARGUMENT'
  /** A master-key rotation or retirement was asked for in a state that does not allow it. */
  | 'VAULT_ROTATION_STATE';

export class VaultError extends RealmError<VaultErrorCode> {
  override readonly name = 'VaultError';
}
