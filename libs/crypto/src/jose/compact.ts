import { invalidInput, malformed } from '../crypto.error.js';
import { base64urlLength, isStrictBase64url } from './base64url.js';

/**
 * The JWS and JWE Compact Serializations (RFC 7515 §7.1, RFC 7516 §7.1): dot-separated base64url
 * segments, 3 for a JWS and 5 for a JWE, the first always the protected header.
 */

/**
 * A compact JWS or JWE written by this library's serializers: base64url segments and dots only
 * (RFC 7515 §7.1, RFC 7516 §7.1). The brand lets a caller require, at compile time, strings that
 * only those serializers made: text that can be put in JSON or a header as is.
 */
export type CompactSerialization = string & { readonly [compactSerialization]: true };
declare const compactSerialization: unique symbol;

/** Marks the output of a serializer of this library; never for strings from outside. */
export function asCompactSerialization(segments: string): CompactSerialization {
  return segments as CompactSerialization;
}

/** A decoded protected header. Members other than those a caller checks are data, never acted on. */
export type JoseHeader = Record<string, unknown>;

export type CompactKind = 'jws' | 'jwe';

export interface CompactHeader {
  readonly header: JoseHeader;
  readonly kind: CompactKind;
}

export interface CompactLimits {
  /** Longest token accepted, in characters; 1 MiB unless set. */
  readonly maxTokenLength?: number;
}

/** 1 MiB: far above any KMS message, far below what would let one request pin a core. */
export const DEFAULT_MAX_TOKEN_LENGTH = 1024 * 1024;
/** Largest protected header accepted, in bytes of UTF-8 JSON. Ours are under 200. */
export const MAX_HEADER_BYTES = 4096;
const MAX_HEADER_SEGMENT = base64urlLength(MAX_HEADER_BYTES);
/** No caller has reason to raise the limit past this. */
const MAX_TOKEN_LENGTH_CEILING = 64 * 1024 * 1024;

const JWS_SEGMENTS = ['protected header', 'payload', 'signature'] as const;
const JWE_SEGMENTS = ['protected header', 'encrypted key', 'IV', 'ciphertext', 'authentication tag'] as const;

/** RFC 7515 §5.2 step 2 and RFC 7516 §5.1 step 15 take the header as UTF-8; refuse invalid UTF-8
 * rather than read U+FFFD into it, and keep a BOM so JSON.parse refuses it too. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A compact token split and checked for shape; every segment is strict base64url. */
export interface ParsedCompact extends CompactHeader {
  /** The segments as they arrived; `segments[0]` is the ASCII the JWE AAD and JWS input are made of. */
  readonly segments: readonly string[];
}

/**
 * Decodes the protected header of a compact JWS or JWE without verifying or decrypting anything,
 * so a caller can pick the key named by `kid` before it calls a decrypt or verify function.
 * Nothing in the result is authenticated yet: use it to look a key up, never to decide what the
 * token means.
 *
 * Refused with `CRYPTO_MALFORMED`: a token that is not a string or is longer than the limit; a
 * segment count other than 3 or 5; any segment that is not strict unpadded base64url; a header
 * over {@link MAX_HEADER_BYTES} bytes, not UTF-8, not JSON or not a JSON object; a header with no
 * string `alg` (RFC 7515 §4.1.1), or for a JWE no string `enc` (RFC 7516 §4.1.2).
 *
 * JSON.parse keeps the last of duplicate member names, which RFC 7515 §5.2 step 4 allows; every
 * check here and downstream reads the same parsed object, so no two readers of one token can see
 * different values.
 */
export function peekCompactHeader(token: string, options: CompactLimits = {}): ParsedCompact {
  return parseCompact(token, options);
}

/**
 * The results of {@link parseCompact}: a decrypt function given a parsed token instead of a string
 * trusts its checks only if it came from here, never from an object of the same shape. The private
 * field is the mark: no other object can have it, not even one made from this class's prototype.
 * (A WeakSet of the results did the same at about a microsecond per token, and its table, long
 * promoted, took a young key for every KMS message: the collector's slow path for weak tables.)
 */
class CheckedCompact implements ParsedCompact {
  readonly #checked = true;

  constructor(
    readonly header: JoseHeader,
    readonly kind: CompactKind,
    readonly segments: readonly string[],
  ) {}

  static has(value: object): boolean {
    return #checked in value;
  }
}

/** Whether `value` is a token {@link parseCompact} parsed and checked (and not something shaped like one). */
export function isParsedCompact(value: unknown): value is ParsedCompact {
  return typeof value === 'object' && value !== null && CheckedCompact.has(value);
}

/**
 * {@link peekCompactHeader}, also returning the segments for the decrypt and verify functions. A
 * caller that looks the header up first can hand the result to `decryptDirA256Gcm` rather than the
 * string, and the token is split and checked once.
 */
export function parseCompact(token: unknown, options: CompactLimits = {}): ParsedCompact {
  const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH;
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1 || maxTokenLength > MAX_TOKEN_LENGTH_CEILING) {
    throw invalidInput(`maxTokenLength must be a whole number from 1 to ${MAX_TOKEN_LENGTH_CEILING}, got ${String(maxTokenLength)}`);
  }
  if (typeof token !== 'string') throw malformed('a compact JOSE token must be a string');
  if (token.length > maxTokenLength) throw malformed(`the token is longer than the ${maxTokenLength}-character limit`);

  const segments = token.split('.');
  let kind: CompactKind;
  let names: readonly string[];
  if (segments.length === 3) {
    kind = 'jws';
    names = JWS_SEGMENTS;
  } else if (segments.length === 5) {
    kind = 'jwe';
    names = JWE_SEGMENTS;
  } else {
    throw malformed(`a compact token has 3 segments (JWS) or 5 (JWE), this one has ${segments.length}`);
  }
  for (let i = 0; i < segments.length; i++) {
    if (!isStrictBase64url(segments[i])) throw malformed(`the ${kind.toUpperCase()} ${names[i]} is not unpadded base64url (RFC 7515 §2)`);
  }

  const header = decodeHeader(segments[0] as string);
  if (typeof header.alg !== 'string') throw malformed('the protected header has no string "alg" (RFC 7515 §4.1.1)');
  if (kind === 'jwe' && typeof header.enc !== 'string') throw malformed('the JWE protected header has no string "enc" (RFC 7516 §4.1.2)');
  return Object.freeze(new CheckedCompact(header, kind, Object.freeze(segments)));
}

function decodeHeader(segment: string): JoseHeader {
  if (segment.length > MAX_HEADER_SEGMENT) throw malformed(`the protected header is larger than ${MAX_HEADER_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw malformed('the protected header is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed('the protected header is not a JSON object (RFC 7515 §4)');
  }
  return value as JoseHeader;
}

/** An own member, so nothing inherited from Object.prototype can stand in for a header member. */
export function hasMember(header: JoseHeader, name: string): boolean {
  return Object.hasOwn(header, name);
}
