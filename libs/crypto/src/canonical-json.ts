import { describeType } from './bytes.js';
import { invalidInput } from './crypto.error.js';

/**
 * The JSON Canonicalization Scheme (RFC 8785) for the values we hash: plain objects, arrays,
 * strings, finite numbers, booleans and null. Audit records are hashed over this output, so it is
 * a storage format: its bytes must never change for a given value.
 *
 * Anything else is refused rather than converted, because `JSON.stringify` converts quietly and
 * lossily: it drops `undefined` members, turns NaN into null, calls `toJSON` on Dates and Buffers.
 * A hash over such output would cover something other than what the caller thinks it covers.
 *
 * An object's members are its own enumerable string-keyed properties, the ones JSON.stringify
 * would take. Also refused: strings or keys holding lone surrogates, which I-JSON (RFC 7493 §2.1) and so
 * RFC 8785 §3.1 exclude; sparse arrays and arrays with extra properties; symbol-keyed members;
 * cycles.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, '$', new Set<object>(), out);
  return out.join('');
}

function write(value: unknown, path: string, ancestors: Set<object>, out: string[]): void {
  switch (typeof value) {
    case 'string':
      out.push(serializeString(value, path));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw invalidInput(`canonicalJson: ${path} is ${String(value)}; JSON has no non-finite numbers (RFC 8785 §3.2.2.3)`);
      }
      // RFC 8785 §3.2.2.3 is ECMAScript's Number::toString, which JSON.stringify applies to finite
      // numbers; it also writes -0 as 0, as the RFC requires.
      out.push(JSON.stringify(value));
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      writeContainer(value, path, ancestors, out);
      return;
    case 'undefined':
      throw invalidInput(`canonicalJson: ${path} is undefined; JSON has no undefined, so omit the member or use null`);
    case 'bigint':
      throw invalidInput(`canonicalJson: ${path} is a bigint; convert it explicitly (a decimal string keeps every digit)`);
    case 'function':
    case 'symbol':
      throw invalidInput(`canonicalJson: ${path} is a ${typeof value}, which JSON cannot represent`);
  }
}

function writeContainer(value: object, path: string, ancestors: Set<object>, out: string[]): void {
  if (ancestors.has(value)) throw invalidInput(`canonicalJson: ${path} refers back to an enclosing value (a cycle)`);
  if (Object.getOwnPropertySymbols(value).some((symbol) => Object.prototype.propertyIsEnumerable.call(value, symbol))) {
    throw invalidInput(`canonicalJson: ${path} has symbol-keyed properties, which JSON cannot represent`);
  }
  ancestors.add(value);
  if (Array.isArray(value)) {
    writeArray(value, path, ancestors, out);
  } else if (isPlainObject(value)) {
    writeObject(value, path, ancestors, out);
  } else {
    throw invalidInput(
      `canonicalJson: ${path} is ${describeType(value)}; only plain objects, arrays, strings, finite numbers, ` +
        'booleans and null are accepted, so convert it explicitly (e.g. a Date with toISOString(), bytes with base64url)',
    );
  }
  ancestors.delete(value);
}

function writeArray(array: readonly unknown[], path: string, ancestors: Set<object>, out: string[]): void {
  for (let i = 0; i < array.length; i++) {
    if (!Object.hasOwn(array, i)) throw invalidInput(`canonicalJson: ${path}[${i}] is a hole in a sparse array`);
  }
  // With no holes, the index keys alone number array.length; any more are named properties that
  // JSON.stringify would drop.
  if (Object.keys(array).length !== array.length) {
    throw invalidInput(`canonicalJson: ${path} is an array with named properties, which JSON cannot represent`);
  }
  out.push('[');
  for (let i = 0; i < array.length; i++) {
    if (i > 0) out.push(',');
    write(array[i], `${path}[${i}]`, ancestors, out);
  }
  out.push(']');
}

function writeObject(object: Record<string, unknown>, path: string, ancestors: Set<object>, out: string[]): void {
  // RFC 8785 §3.2.3: members sorted by their names as arrays of UTF-16 code units, which is how
  // ECMAScript's relational operators compare strings. Not by code point, not by locale.
  const keys = Object.keys(object).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  out.push('{');
  keys.forEach((key, i) => {
    const memberPath = memberPathOf(path, key);
    if (i > 0) out.push(',');
    out.push(serializeString(key, memberPath), ':');
    write(object[key], memberPath, ancestors, out);
  });
  out.push('}');
}

/**
 * RFC 8785 §3.2.2.2 is ECMAScript's JSON.stringify for strings: the two-character escapes, \u00xx
 * for the other controls, everything else as is. The one case where it would invent bytes of its
 * own, a lone surrogate (written as a \udxxx escape), is refused before it gets there.
 */
function serializeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw invalidInput(`canonicalJson: ${path} holds a string with a lone UTF-16 surrogate, which I-JSON (RFC 7493 §2.1) forbids`);
  }
  return JSON.stringify(value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function memberPathOf(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
