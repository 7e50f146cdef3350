import { RealmError } from '@realm/errors';

/**
 * `CRYPTO_DECRYPT_FAILED` is the only answer to data that does not authenticate, whatever the
 * reason; `CRYPTO_INVALID_INPUT` is a caller's mistake (wrong key size, a value JSON cannot hold)
 * and says precisely what was wrong.
 */
export type CryptoErrorCode = 'CRYPTO_DECRYPT_FAILED' | 'CRYPTO_INVALID_INPUT';

export class CryptoError extends RealmError<CryptoErrorCode> {
  override readonly name = 'CryptoError';
}

/**
 * The one message every decrypt or unwrap failure carries. A bad tag, a bad length and a wrong key
 * must look the same to whoever sent the data, or the differences become an oracle (the
 * discipline of jose's JWEDecryptionFailed). No `cause` either: OpenSSL's message would tell the
 * cases apart in a log that may be shipped elsewhere.
 */
export const DECRYPT_FAILED_MESSAGE = 'decryption failed';

export function decryptFailed(): CryptoError {
  return new CryptoError('CRYPTO_DECRYPT_FAILED', DECRYPT_FAILED_MESSAGE);
}

export function invalidInput(message: string): CryptoError {
  return new CryptoError('CRYPTO_INVALID_INPUT', message);
}
