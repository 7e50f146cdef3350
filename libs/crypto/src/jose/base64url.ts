import { requireBytes } from '../bytes.js';
import { malformed } from '../crypto.error.js';

/**
 * Base64url as JOSE uses it (RFC 7515 §2 and Appendix C): the URL- and filename-safe alphabet of
 * RFC 4648 §5, with the trailing `=` padding omitted and no line breaks, whitespace or other
 * characters.
 *
 * node's own `base64url` decoder is lenient: it skips characters outside the alphabet, accepts
 * `+`, `/` and `=`, and drops non-zero bits after the last whole byte. Several strings would then
 * decode to the same bytes, so a signature or tag check could pass on a token that differs from
 * the one that was produced. {@link base64urlDecode} accepts exactly one spelling per byte string:
 * `base64urlEncode(base64urlDecode(s)) === s` for every `s` it accepts.
 */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** Encodes without padding. */
export function base64urlEncode(data: Uint8Array): string {
  requireBytes(data, 'data');
  return Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64url');
}

/**
 * Decodes strict, unpadded base64url, refusing anything else with `CRYPTO_MALFORMED`. `what`
 * names the field for the message (e.g. `JWE IV`); the input itself is never repeated.
 */
export function base64urlDecode(text: string, what = 'value'): Buffer {
  if (!isStrictBase64url(text)) throw malformed(`${what} is not unpadded base64url (RFC 7515 §2)`);
  return Buffer.from(text, 'base64url');
}

/**
 * True when `text` is the one canonical unpadded base64url spelling of some byte string: only
 * alphabet characters, a length that is not 1 mod 4 (no whole byte fits in one character), and
 * zero bits in the last character beyond the last whole byte (RFC 4648 §3.5 lets a decoder reject
 * those, and they are what makes a second spelling possible).
 */
export function isStrictBase64url(text: unknown): text is string {
  if (typeof text !== 'string' || !ALPHABET.test(text)) return false;
  switch (text.length % 4) {
    case 0:
      return true;
    case 1:
      return false;
    case 2:
      // 2 characters = 12 bits for 1 byte: the last character's low 4 bits are padding.
      return (sextet(text.charCodeAt(text.length - 1)) & 0x0f) === 0;
    default:
      // 3 characters = 18 bits for 2 bytes: the last character's low 2 bits are padding.
      return (sextet(text.charCodeAt(text.length - 1)) & 0x03) === 0;
  }
}

/** The 6-bit value of a character already known to be in the alphabet. */
function sextet(code: number): number {
  if (code >= 0x41 && code <= 0x5a) return code - 0x41; // A-Z
  if (code >= 0x61 && code <= 0x7a) return code - 0x61 + 26; // a-z
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 52; // 0-9
  return code === 0x2d ? 62 : 63; // '-' or '_'
}

/** The length of the unpadded base64url encoding of `bytes` bytes. */
export function base64urlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}
