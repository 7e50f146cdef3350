export { aesGcmDecrypt, aesGcmEncrypt, aesGcmOpen, aesGcmSeal } from './aes-gcm.js';
export { aesKeyUnwrapPad, aesKeyWrapPad } from './aes-key-wrap.js';
export type { SymmetricKey } from './bytes.js';
export { canonicalJson } from './canonical-json.js';
export { constantTimeEqual } from './constant-time.js';
export { CryptoError, type CryptoErrorCode } from './crypto.error.js';
export { hkdfSha256, hmacSha256, sha256 } from './hash.js';
export { randomBytes, randomKey, zeroize } from './random.js';
