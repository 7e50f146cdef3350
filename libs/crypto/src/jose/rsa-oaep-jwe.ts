import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { aesGcmDecrypt } from '../aes-gcm.js';
import { describeType, requireBytes } from '../bytes.js';
import { decryptFailed, invalidInput } from '../crypto.error.js';
import { randomBytes } from '../random.js';
import type { CompactLimits, CompactSerialization, JoseHeader } from './compact.js';
import { requireKid, requireRsaKey } from './checks.js';
import { CEK_BYTES, encodeJweHeader, parseA256GcmJwe, sealCompactJwe } from './jwe-a256gcm.js';

/**
 * Compact JWE with RSAES-OAEP key transport and A256GCM content encryption:
 * `{"alg":"RSA-OAEP","enc":"A256GCM","kid":...}`. This is how a client opens an ECDHE exchange
 * with the KMS's static RSA key.
 *
 * `RSA-OAEP` is RSAES-OAEP with the default parameters of RFC 8017 §A.2.1: SHA-1 and MGF1 with
 * SHA-1 (RFC 7518 §4.3), not SHA-256 (that is `RSA-OAEP-256`, which these clients do not send).
 * OAEP does not rely on the hash's collision resistance, and no attack on OAEP uses SHA-1's
 * collisions; the choice is the clients', not ours. On PKCS#11 this is CKM_RSA_PKCS_OAEP with hashAlg CKM_SHA_1, mgf CKG_MGF1_SHA1 and
 * no source data (empty label).
 */

/**
 * Unwraps the CEK: RSAES-OAEP-DECRYPT with SHA-1, MGF1-SHA-1 and an empty label. The KMS's static
 * key may live in an HSM, so this is the seam. An implementation signals a ciphertext that does
 * not decrypt by throwing (anything); {@link decryptRsaOaepJwe} turns every throw into the same
 * failure as a bad tag, so whatever the implementation wants an operator to see (a token error,
 * a closed session) it must log itself, never through the error it throws. The buffer it returns
 * is wiped after use, so it must be one the decryptor does not keep.
 */
export interface RsaOaepDecryptor {
  decrypt(encryptedKey: Buffer): Buffer | Promise<Buffer>;
}

export type RsaOaepJweHeader = JoseHeader & { readonly alg: 'RSA-OAEP'; readonly enc: 'A256GCM' };

export interface RsaOaepDecryptOptions extends CompactLimits {
  /** When set, the token must carry exactly this `kid`, or it fails as `CRYPTO_DECRYPT_FAILED`. */
  readonly expectedKid?: string;
}

/** A {@link RsaOaepDecryptor} over a private key held in this process (node's OpenSSL). */
export function softwareRsaOaepDecryptor(privateKey: KeyObject): RsaOaepDecryptor {
  requireRsaKey(privateKey, 'private', 'RSA-OAEP private key');
  return {
    decrypt: (encryptedKey) =>
      privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, encryptedKey),
  };
}

/**
 * Encrypts `plaintext` to the holder of `publicKey` under a fresh random CEK. For our own client
 * SDK and for tests; the KMS itself only decrypts this profile.
 */
export function encryptRsaOaepJwe(publicKey: KeyObject, kid: string, plaintext: Uint8Array): CompactSerialization {
  requireRsaKey(publicKey, 'public', 'RSA-OAEP public key');
  requireKid(kid);
  requireBytes(plaintext, 'plaintext');
  const headerSegment = encodeJweHeader('RSA-OAEP', kid);
  const cek = randomBytes(CEK_BYTES);
  try {
    const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cek);
    return sealCompactJwe(headerSegment, encryptedKey, cek, plaintext);
  } finally {
    cek.fill(0);
  }
}

/**
 * Decrypts a compact `RSA-OAEP` + `A256GCM` JWE (RFC 7516 §5.2).
 *
 * `CRYPTO_MALFORMED` for a token off the profile (see `parseA256GcmJwe`), decided on public bytes
 * before the private key is used. After that, every failure is the same `CRYPTO_DECRYPT_FAILED`:
 * a `kid` other than `expectedKid`, an encrypted key the decryptor refuses, a CEK that is not 32
 * bytes, an altered header, IV, ciphertext or tag.
 *
 * Oracle hygiene (Bleichenbacher 1998, Manger 2001; RFC 7516 §11.5): an OAEP failure must not be
 * told apart from a tag failure, by the error or by the time taken. So when the decryptor throws
 * or returns anything but 32 bytes, a random CEK takes its place and the content decryption runs
 * anyway, failing at the tag exactly as a forged ciphertext would (the substitution RFC 7516
 * §11.5 recommends). No `cause` is kept. What this cannot hide is a decryptor (an HSM) that
 * itself takes longer to refuse than to succeed.
 */
export async function decryptRsaOaepJwe(
  token: string,
  decryptor: RsaOaepDecryptor,
  options: RsaOaepDecryptOptions = {},
): Promise<{ header: RsaOaepJweHeader; plaintext: Buffer }> {
  if (typeof decryptor?.decrypt !== 'function') {
    throw invalidInput(`decryptor must have a decrypt(encryptedKey) method, got ${describeType(decryptor)}`);
  }
  if (options.expectedKid !== undefined) requireKid(options.expectedKid);
  const jwe = parseA256GcmJwe(token, 'RSA-OAEP', options);
  const header = jwe.header as RsaOaepJweHeader;
  if (options.expectedKid !== undefined && header.kid !== options.expectedKid) throw decryptFailed();

  let cek: Buffer;
  try {
    const unwrapped: unknown = await decryptor.decrypt(jwe.encryptedKey);
    if (unwrapped instanceof Uint8Array && unwrapped.length === CEK_BYTES) {
      cek = Buffer.from(unwrapped);
      unwrapped.fill(0);
    } else {
      if (unwrapped instanceof Uint8Array) unwrapped.fill(0);
      cek = randomBytes(CEK_BYTES);
    }
  } catch {
    cek = randomBytes(CEK_BYTES);
  }
  try {
    return { header, plaintext: aesGcmDecrypt(cek, jwe.iv, jwe.ciphertext, jwe.tag, jwe.aad) };
  } catch {
    throw decryptFailed();
  } finally {
    cek.fill(0);
  }
}
