export { aesGcmDecrypt, aesGcmEncrypt, aesGcmOpen, aesGcmSeal } from './aes-gcm.js';
export { aesKeyUnwrapPad, aesKeyWrapPad } from './aes-key-wrap.js';
export type { SymmetricKey } from './bytes.js';
export { canonicalJson } from './canonical-json.js';
export { constantTimeEqual } from './constant-time.js';
export { CryptoError, type CryptoErrorCode } from './crypto.error.js';
export { hkdfSha256, hmacSha256, sha256 } from './hash.js';
export { randomBytes, randomKey, randomNonce, zeroize } from './random.js';
export { base64urlDecode, base64urlEncode, isStrictBase64url } from './jose/base64url.js';
export {
  DEFAULT_MAX_TOKEN_LENGTH,
  MAX_HEADER_BYTES,
  peekCompactHeader,
  type CompactHeader,
  type CompactSerialization,
  type CompactKind,
  type CompactLimits,
  type JoseHeader,
  type ParsedCompact,
} from './jose/compact.js';
export { decryptDirA256Gcm, encryptDirA256Gcm, type DirA256GcmDecryptOptions, type DirA256GcmHeader } from './jose/dir-a256gcm.js';
export {
  decryptRsaOaepJwe,
  encryptRsaOaepJwe,
  softwareRsaOaepDecryptor,
  type RsaOaepDecryptOptions,
  type RsaOaepDecryptor,
  type RsaOaepJweHeader,
} from './jose/rsa-oaep-jwe.js';
export {
  signCompactJws,
  softwarePs256Signer,
  verifyCompactJws,
  type JwsAlgorithm,
  type JwsHeader,
  type JwsSigner,
  type JwsVerifyOptions,
} from './jose/jws.js';
export { deriveChannelKey, generateEphemeralP256, importP256PublicJwk, type P256PublicJwk } from './jose/ecdh.js';
