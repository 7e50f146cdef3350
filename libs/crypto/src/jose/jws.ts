import { constants, type KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describeType, requireBytes } from '../bytes.js';
import { invalidInput, malformed, signatureInvalid } from '../crypto.error.js';
import { base64urlEncode } from './base64url.js';
import { asCompactSerialization, type CompactSerialization, hasMember, MAX_HEADER_BYTES, parseCompact, type CompactLimits, type JoseHeader } from './compact.js';
import { requireKid, requireRsaKey } from './checks.js';

/**
 * Compact JWS (RFC 7515 §7.1) with the RSA algorithms of RFC 7518: PS256 (RSASSA-PSS with SHA-256,
 * MGF1-SHA-256 and a 32-byte salt, §3.5) to sign, and PS256 or RS256 (RSASSA-PKCS1-v1_5 with
 * SHA-256, §3.3) to verify, as the caller's allow-list says. node-jose signs with RS256 unless
 * told otherwise, which is why a KMS acting as a client must be able to verify it.
 */

export type JwsAlgorithm = 'PS256' | 'RS256';

const VERIFY_ALGORITHMS: ReadonlySet<string> = new Set<JwsAlgorithm>(['PS256', 'RS256']);
/** RFC 7518 §3.5: the salt is as long as the hash output. */
const PSS_SALT_BYTES = 32;

/**
 * Produces an RSASSA-PSS signature (SHA-256, MGF1-SHA-256, 32-byte salt) over the JWS signing
 * input. The KMS's static key may live in an HSM, so this is the seam: on PKCS#11 it is
 * CKM_SHA256_RSA_PKCS_PSS with hashAlg CKM_SHA256, mgf CKG_MGF1_SHA256 and sLen 32.
 */
export interface JwsSigner {
  readonly alg: 'PS256';
  sign(signingInput: Buffer): Buffer | Promise<Buffer>;
}

export type JwsHeader = JoseHeader & { readonly alg: JwsAlgorithm };

export interface JwsVerifyOptions extends CompactLimits {
  /** The algorithms this verifier accepts; the token's `alg` only selects among them. */
  readonly algorithms: readonly JwsAlgorithm[];
  /** When set, the token must carry exactly this `kid`. */
  readonly expectedKid?: string;
}

/** A PS256 {@link JwsSigner} over a private key held in this process (node's OpenSSL). */
export function softwarePs256Signer(privateKey: KeyObject): JwsSigner {
  requireRsaKey(privateKey, 'private', 'PS256 signing key');
  return {
    alg: 'PS256',
    sign: (signingInput) =>
      nodeSign('sha256', signingInput, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_BYTES }),
  };
}

/**
 * Signs `payload` as a compact JWS with header `{"alg":"PS256","kid":...}`. The signing input is
 * ASCII(BASE64URL(UTF8(header)) || '.' || BASE64URL(payload)) (RFC 7515 §5.1 step 5). A signer
 * error (an HSM refusing) propagates as thrown: signing has no oracle to protect.
 */
export async function signCompactJws(payload: Uint8Array, kid: string, signer: JwsSigner): Promise<CompactSerialization> {
  requireBytes(payload, 'payload');
  requireKid(kid);
  if (signer?.alg !== 'PS256' || typeof signer.sign !== 'function') {
    throw invalidInput(`signer must be a PS256 JwsSigner, got ${describeType(signer)}`);
  }
  const headerJson = Buffer.from(JSON.stringify({ alg: 'PS256', kid }), 'utf8');
  if (headerJson.length > MAX_HEADER_BYTES) throw invalidInput(`the kid makes the JWS header longer than ${MAX_HEADER_BYTES} bytes`);
  const signingInput = `${base64urlEncode(headerJson)}.${base64urlEncode(payload)}`;
  const signature: unknown = await signer.sign(Buffer.from(signingInput, 'ascii'));
  if (!(signature instanceof Uint8Array) || signature.length === 0) {
    throw invalidInput(`the JWS signer returned ${signature instanceof Uint8Array ? 'an empty signature' : describeType(signature)}`);
  }
  return asCompactSerialization(`${signingInput}.${base64urlEncode(signature)}`);
}

/**
 * Verifies a compact JWS against one RSA public key (RFC 7515 §5.2), for the algorithms in
 * `options.algorithms` only.
 *
 * `CRYPTO_INVALID_INPUT` for the caller's own mistakes: a key that is not an RSA public key of at
 * least 2048 bits (RFC 7518 §3.3, §3.5), an allow-list that is empty or names anything but PS256
 * and RS256. `CRYPTO_MALFORMED` for a token that does not parse (see `peekCompactHeader`) or is a
 * JWE. Everything else is `CRYPTO_DECRYPT_FAILED` with the one message
 * `signature verification failed`: an `alg` outside the allow-list (`none`; `HS256`, with which an
 * RSA public key would be used as an HMAC secret - the algorithm-confusion attack; anything else),
 * a `crit` member (RFC 7515 §4.1.11: no extension is understood), a `b64` member (RFC 7797 would
 * change what is signed), a `kid` other than `expectedKid`, a signature of the wrong length
 * (RFC 8017 §8.1.2 and §8.2.2 step 1) or one that does not verify. For PS256 the salt must be
 * exactly 32 bytes, as RFC 7518 §3.5 fixes it.
 */
export function verifyCompactJws(token: string, publicKey: KeyObject, options: JwsVerifyOptions): { header: JwsHeader; payload: Buffer } {
  requireRsaKey(publicKey, 'public', 'JWS verification key');
  const algorithms = requireAlgorithms(options?.algorithms);
  if (options.expectedKid !== undefined) requireKid(options.expectedKid);
  const { header, kind, segments } = parseCompact(token, options);
  if (kind !== 'jws') throw malformed('expected a compact JWS (3 segments), got a JWE');
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];

  const alg = header.alg;
  if (typeof alg !== 'string' || !algorithms.has(alg)) throw signatureInvalid();
  if (hasMember(header, 'crit') || hasMember(header, 'b64')) throw signatureInvalid();
  if (hasMember(header, 'kid') && typeof header.kid !== 'string') throw signatureInvalid();
  if (options.expectedKid !== undefined && header.kid !== options.expectedKid) throw signatureInvalid();

  const signature = Buffer.from(signatureSegment, 'base64url');
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (signature.length !== modulusBytes) throw signatureInvalid();
  const signingInput = Buffer.from(`${headerSegment}.${payloadSegment}`, 'ascii');
  let valid = false;
  try {
    valid =
      alg === 'PS256'
        ? nodeVerify('sha256', signingInput, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_BYTES }, signature)
        : nodeVerify('sha256', signingInput, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw signatureInvalid();
  return { header: header as JwsHeader, payload: Buffer.from(payloadSegment, 'base64url') };
}

function requireAlgorithms(algorithms: unknown): ReadonlySet<string> {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw invalidInput('options.algorithms must be a non-empty list of JWS algorithms (PS256, RS256)');
  }
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || !VERIFY_ALGORITHMS.has(alg)) {
      throw invalidInput('options.algorithms may name only PS256 and RS256');
    }
  }
  return new Set<string>(algorithms as string[]);
}
