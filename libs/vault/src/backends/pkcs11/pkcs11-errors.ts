import pkcs11js from 'pkcs11js';
import { VaultError } from '../../vault.error.js';

/** What the caller was doing, so that the same CKR_ code can be reported in terms of that. */
export type Pkcs11Operation = 'load' | 'initialize' | 'find-token' | 'open-session' | 'login' | 'find-key' | 'generate-key' | 'wrap' | 'unwrap' | 'destroy' | 'read-attributes' | 'decrypt' | 'sign' | 'health';

export interface Pkcs11Settings {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pinSetting: string;
}

// Return values after which the session (or the login state of the application) is gone and a
// fresh session may succeed: PKCS#11 v2.40 §5.1 (session and token errors).
const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_COUNT',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
]);

// The wrapped blob itself was refused. SoftHSM2 answers a failed RFC 5649 integrity check with
// CKR_GENERAL_ERROR, so in the unwrap context that code means the same thing.
const UNWRAP_REFUSED = new Set([
  'CKR_WRAPPED_KEY_INVALID',
  'CKR_WRAPPED_KEY_LEN_RANGE',
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_GENERAL_ERROR',
]);

/** The CKR_ name of a pkcs11js error, or undefined for anything else. */
export function ckrOf(error: unknown): string | undefined {
  if (error instanceof pkcs11js.Pkcs11Error && /^CKR_/.test(error.message)) return error.message;
  const message = (error as Error | undefined)?.message;
  const match = typeof message === 'string' ? /(CKR_[A-Z0-9_]+)/.exec(message) : null;
  return match?.[1];
}

export function isSessionLost(error: unknown): boolean {
  const ckr = ckrOf(error);
  return ckr !== undefined && SESSION_LOST.has(ckr);
}

/**
 * The one place where PKCS#11 return values become vault error codes. Messages name the setting an
 * operator should check; they never contain the PIN.
 */
export function translatePkcs11Error(error: unknown, operation: Pkcs11Operation, settings: Pkcs11Settings): VaultError {
  if (error instanceof VaultError) return error;
  const ckr = ckrOf(error);
  const token = `token '${settings.tokenLabel}' (vault.pkcs11.tokenLabel)`;
  if (ckr === undefined) {
    const reason = (error as Error | undefined)?.message?.split('\n', 1)[0] ?? String(error);
    if (operation === 'load' || operation === 'initialize') {
      return new VaultError('VAULT_HSM_MODULE_UNAVAILABLE', `cannot load the PKCS#11 module ${settings.module} (vault.pkcs11.module): ${reason}`, { setting: 'vault.pkcs11.module', cause: error });
    }
    return new VaultError('VAULT_HSM_ERROR', `PKCS#11 ${operation} failed on ${token}: ${reason}`, { cause: error });
  }
  switch (ckr) {
    case 'CKR_PIN_INCORRECT':
    case 'CKR_PIN_INVALID':
    case 'CKR_PIN_LEN_RANGE':
      return new VaultError('VAULT_PIN_INCORRECT', `${token} refused the PIN (${ckr}): check ${settings.pinSetting}`, { setting: settings.pinSetting, cause: error });
    case 'CKR_PIN_LOCKED':
      return new VaultError('VAULT_PIN_LOCKED', `the user PIN of ${token} is locked (CKR_PIN_LOCKED): the security officer must reset it`, { setting: settings.pinSetting, cause: error });
    case 'CKR_PIN_EXPIRED':
      return new VaultError('VAULT_PIN_INCORRECT', `the user PIN of ${token} has expired (CKR_PIN_EXPIRED): set a new PIN and update ${settings.pinSetting}`, { setting: settings.pinSetting, cause: error });
    default:
      break;
  }
  if ((operation === 'unwrap' || operation === 'decrypt') && UNWRAP_REFUSED.has(ckr)) {
    return new VaultError('VAULT_UNWRAP_FAILED', 'a wrapped key was refused by the master key: it was altered or wrapped by another key', { cause: error });
  }
  if (SESSION_LOST.has(ckr)) {
    return new VaultError('VAULT_HSM_UNAVAILABLE', `${token} is not reachable (${ckr}) and could not be re-opened`, { setting: 'vault.pkcs11.tokenLabel', cause: error });
  }
  if (operation === 'load' || operation === 'initialize') {
    return new VaultError('VAULT_HSM_MODULE_UNAVAILABLE', `the PKCS#11 module ${settings.module} (vault.pkcs11.module) failed to initialise: ${ckr}`, { setting: 'vault.pkcs11.module', cause: error });
  }
  return new VaultError('VAULT_HSM_ERROR', `PKCS#11 ${operation} failed on ${token}: ${ckr}`, { cause: error });
}
