import { aesGcmDecrypt } from '../aes-gcm.js';
import { requireBytes, secretKeyLength, type SymmetricKey } from '../bytes.js';
import { decryptFailed, invalidInput, malformed } from '../crypto.error.js';
import type { CompactLimits, CompactSerialization, JoseHeader, ParsedCompact } from './compact.js';
import { requireKid } from './checks.js';
import { CEK_BYTES, encodeJweHeader, parseA256GcmJwe, sealCompactJwe } from './jwe-a256gcm.js';

/**
 * Compact JWE with direct key agreement and A256GCM: `{"alg":"dir","enc":"A256GCM","kid":...}`
 * (RFC 7518 §4.5 and §5.3), an empty encrypted key segment, the channel key as the CEK. Every KMS
 * message after the ECDHE exchange travels this way, so it is the hot path: node:crypto's
 * AES-256-GCM directly, synchronous, with no WebCrypto round trip.
 */

export type DirA256GcmHeader = JoseHeader & { readonly alg: 'dir'; readonly enc: 'A256GCM'; readonly kid: string };

export interface DirA256GcmDecryptOptions extends CompactLimits {
  /** When set, a token whose `kid` differs fails as `CRYPTO_DECRYPT_FAILED`, before the key is used. */
  readonly expectedKid?: string;
}

/** Encrypts `plaintext` under the 256-bit `key`, naming it `kid` in the protected header. */
export function encryptDirA256Gcm(key: SymmetricKey, kid: string, plaintext: Uint8Array): CompactSerialization {
  requireKey(key);
  requireKid(kid);
  requireBytes(plaintext, 'plaintext');
  return sealCompactJwe(encodeJweHeader('dir', kid), new Uint8Array(0), key, plaintext);
}

/**
 * Decrypts a compact `dir` + `A256GCM` JWE. Look the key up first with `peekCompactHeader(token)`
 * and its `kid`, and pass what it returned (the token is then not split and checked again); the
 * header, `kid` included, is the AAD, so it is authenticated here with the rest.
 *
 * `CRYPTO_MALFORMED` for a token off the profile (see `parseA256GcmJwe`; also a missing `kid`,
 * which the receiver needs to find the key). `CRYPTO_DECRYPT_FAILED`, one message, for a `kid`
 * other than `expectedKid`, an altered header, IV, ciphertext or tag, or a wrong key.
 */
export function decryptDirA256Gcm(
  key: SymmetricKey,
  token: string | ParsedCompact,
  options: DirA256GcmDecryptOptions = {},
): { header: DirA256GcmHeader; plaintext: Buffer } {
  requireKey(key);
  if (options.expectedKid !== undefined) requireKid(options.expectedKid);
  const jwe = parseA256GcmJwe(token, 'dir', options);
  const header = jwe.header as DirA256GcmHeader;
  if (typeof header.kid !== 'string') throw malformed('a "dir" JWE must name its key with a "kid"');
  if (options.expectedKid !== undefined && header.kid !== options.expectedKid) throw decryptFailed();
  return { header, plaintext: aesGcmDecrypt(key, jwe.iv, jwe.ciphertext, jwe.tag, jwe.aad) };
}

function requireKey(key: SymmetricKey): void {
  const length = secretKeyLength(key, 'A256GCM channel key');
  if (length !== CEK_BYTES) throw invalidInput(`an A256GCM key must be ${CEK_BYTES} bytes, got ${length} bytes`);
}
