import { aesGcmEncrypt } from '../aes-gcm.js';
import type { SymmetricKey } from '../bytes.js';
import { invalidInput, malformed } from '../crypto.error.js';
import { randomNonce } from '../random.js';
import { base64urlEncode } from './base64url.js';
import { requireKid } from './checks.js';
import { asCompactSerialization, type CompactSerialization, hasMember, isParsedCompact, MAX_HEADER_BYTES, parseCompact, type CompactLimits, type JoseHeader } from './compact.js';

/**
 * What the two JWE profiles of this module share: content encryption with A256GCM
 * (RFC 7518 §5.3) over the compact serialization (RFC 7516 §7.1), done with node:crypto directly.
 * Internal; the public functions are in dir-a256gcm.ts and rsa-oaep-jwe.ts.
 */

export const CEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type A256GcmJweAlg = 'dir' | 'RSA-OAEP';

/** A JWE that passed every shape check, its binary segments decoded. */
export interface ParsedA256GcmJwe {
  readonly header: JoseHeader;
  /** RFC 7516 §5.1 step 14: the AAD is ASCII(BASE64URL(UTF8(protected header))), as received. */
  readonly aad: Buffer;
  readonly encryptedKey: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/**
 * Splits and checks a compact JWE against the profile, all before any key is touched, so a
 * refusal here depends only on public bytes. `CRYPTO_MALFORMED` for: anything
 * {@link parseCompact} refuses, a JWS, `alg` other than `expectedAlg`, `enc` other than `A256GCM`,
 * a `zip` member (RFC 7516 §4.1.3: we never compress, and decompressing attacker data before
 * authentication would only add risk), any `crit` member (RFC 7515 §4.1.11: we understand no
 * extension, so every critical one must be refused; an empty list is itself invalid), a `kid`
 * that is present but not a non-empty string, an encrypted key that is present in `dir` mode
 * (RFC 7516 §5.2 step 10) or absent otherwise, an IV other than 96 bits or a tag other than 128
 * bits (RFC 7518 §5.3).
 *
 * Other header members (`jku`, `jwk`, `x5u`, `epk`...) are carried but never acted on: keys come
 * from the caller, never from the token.
 */
export function parseA256GcmJwe(token: unknown, expectedAlg: A256GcmJweAlg, limits: CompactLimits): ParsedA256GcmJwe {
  const { header, kind, segments } = isParsedCompact(token) ? token : parseCompact(token, limits);
  if (kind !== 'jwe') throw malformed('expected a compact JWE (5 segments), got a JWS');
  if (header.alg !== expectedAlg) throw malformed(`the JWE "alg" is not "${expectedAlg}"`);
  if (header.enc !== 'A256GCM') throw malformed('the JWE "enc" is not "A256GCM"');
  if (hasMember(header, 'zip')) throw malformed('the JWE has a "zip" member; compressed content is not accepted');
  if (hasMember(header, 'crit')) throw malformed('the JWE has a "crit" member; no critical extension is understood (RFC 7515 §4.1.11)');
  if (hasMember(header, 'kid') && (typeof header.kid !== 'string' || header.kid === '')) {
    throw malformed('the JWE "kid" is not a non-empty string');
  }
  const [headerSegment, encryptedKey, iv, ciphertext, tag] = segments as [string, string, string, string, string];
  if (expectedAlg === 'dir' ? encryptedKey !== '' : encryptedKey === '') {
    throw malformed(expectedAlg === 'dir' ? 'a "dir" JWE must have an empty encrypted key (RFC 7516 §5.2 step 10)' : 'the JWE encrypted key is empty');
  }
  const ivBytes = Buffer.from(iv, 'base64url');
  if (ivBytes.length !== IV_BYTES) throw malformed(`the JWE IV must be ${IV_BYTES} bytes (RFC 7518 §5.3), got ${ivBytes.length}`);
  const tagBytes = Buffer.from(tag, 'base64url');
  if (tagBytes.length !== TAG_BYTES) throw malformed(`the JWE authentication tag must be ${TAG_BYTES} bytes (RFC 7518 §5.3), got ${tagBytes.length}`);
  return {
    header,
    aad: Buffer.from(headerSegment, 'ascii'),
    encryptedKey: Buffer.from(encryptedKey, 'base64url'),
    iv: ivBytes,
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: tagBytes,
  };
}

/**
 * The protected header, UTF-8 JSON then base64url, in the member order node-jose writes
 * (`alg`, `enc`, `kid`). The order is not significant to any reader: the AAD is the encoded
 * string as sent, never a re-serialization.
 */
export function encodeJweHeader(alg: A256GcmJweAlg, kid: string): string {
  const encoded = encodedHeaders[alg];
  const known = encoded.get(kid);
  if (known !== undefined) return known;
  requireKid(kid);
  const json = Buffer.from(JSON.stringify({ alg, enc: 'A256GCM', kid }), 'utf8');
  if (json.length > MAX_HEADER_BYTES) throw invalidInput(`the kid makes the JWE header longer than ${MAX_HEADER_BYTES} bytes`);
  const segment = base64urlEncode(json);
  // Every answer on a channel carries the same header: it is encoded once per channel. Bounded:
  // full, the map starts over.
  if (encoded.size >= MAX_REMEMBERED_KIDS) encoded.clear();
  encoded.set(kid, segment);
  return segment;
}

const encodedHeaders: Readonly<Record<A256GcmJweAlg, Map<string, string>>> = { dir: new Map(), 'RSA-OAEP': new Map() };
const MAX_REMEMBERED_KIDS = 4096;

/**
 * RFC 7516 §5.1 steps 9-19 for A256GCM: a fresh random 96-bit IV per message, the encoded header
 * as AAD. Random IVs keep the chance of a repeat under 2^-32 for 2^32 messages per key
 * (SP 800-38D §8.3), so a channel key must be retired well before that many messages.
 */
export function sealCompactJwe(headerSegment: string, encryptedKey: Uint8Array, cek: SymmetricKey, plaintext: Uint8Array): CompactSerialization {
  const iv = randomNonce(IV_BYTES);
  const { ciphertext, tag } = aesGcmEncrypt(cek, iv, plaintext, Buffer.from(headerSegment, 'ascii'));
  return asCompactSerialization(`${headerSegment}.${base64urlEncode(encryptedKey)}.${base64urlEncode(iv)}.${base64urlEncode(ciphertext)}.${base64urlEncode(tag)}`);
}
