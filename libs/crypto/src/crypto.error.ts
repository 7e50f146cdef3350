import { RealmError } from '@realm/errors';

/**
 * `CRYPTO_DECRYPT_FAILED` is the only answer to data that does not authenticate, whatever the
 * reason: a bad tag, a wrong key, a bad signature, a token addressed to another key.
 * `CRYPTO_INVALID_INPUT` is a caller's mistake (wrong key size, a value JSON cannot hold) and says
 * precisely what was wrong. `CRYPTO_MALFORMED` is a JOSE token or JWK from the outside that is not
 * shaped the way the profile demands (segment count, base64url, header members, IV and tag
 * lengths, a point off the curve). Those checks run on public bytes before any key is used, so
 * saying which one failed tells the sender nothing it did not already know; the message still
 * never repeats the sender's values, which could carry anything into a log.
 */
export type CryptoErrorCode = 'CRYPTO_DECRYPT_FAILED' | 'CRYPTO_INVALID_INPUT' | 'CRYPTO_MALFORMED';

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

/**
 * The one message every JWS verification failure carries, under the same code as a decrypt
 * failure: a forged signature, an algorithm outside the verifier's allow-list (`none`, `HS256`
 * against an RSA key...), a `crit` header or a `kid` for another key all read the same.
 */
export const SIGNATURE_INVALID_MESSAGE = 'signature verification failed';

export function signatureInvalid(): CryptoError {
  return new CryptoError('CRYPTO_DECRYPT_FAILED', SIGNATURE_INVALID_MESSAGE);
}

export function invalidInput(message: string): CryptoError {
  return new CryptoError('CRYPTO_INVALID_INPUT', message);
}

/** A token or key from the outside that is not well formed; see {@link CryptoErrorCode}. */
export function malformed(message: string): CryptoError {
  return new CryptoError('CRYPTO_MALFORMED', message);
}
