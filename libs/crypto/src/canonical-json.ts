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
  return write(value, [], []);
}

/**
 * `trail` holds the keys and indexes from the root to `value` and `ancestors` the containers on that
 * path; the path text is built only for an error message. Audit records are encoded by the
 * thousand per second, so the success path allocates nothing it does not return.
 */
type Trail = (string | number)[];

function write(value: unknown, trail: Trail, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, trail);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw invalidInput(`canonicalJson: ${pathOf(trail)} is ${String(value)}; JSON has no non-finite numbers (RFC 8785 §3.2.2.3)`);
      }
      // RFC 8785 §3.2.2.3 is ECMAScript's Number::toString, which JSON.stringify applies to finite
      // numbers; it also writes -0 as 0, as the RFC requires.
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      return writeContainer(value, trail, ancestors);
    case 'undefined':
      throw invalidInput(`canonicalJson: ${pathOf(trail)} is undefined; JSON has no undefined, so omit the member or use null`);
    case 'bigint':
      throw invalidInput(`canonicalJson: ${pathOf(trail)} is a bigint; convert it explicitly (a decimal string keeps every digit)`);
    case 'function':
    case 'symbol':
      throw invalidInput(`canonicalJson: ${pathOf(trail)} is a ${typeof value}, which JSON cannot represent`);
  }
}

function writeContainer(value: object, trail: Trail, ancestors: object[]): string {
  // Nesting is shallow, so a linear scan beats a Set.
  if (ancestors.includes(value)) throw invalidInput(`canonicalJson: ${pathOf(trail)} refers back to an enclosing value (a cycle)`);
  const symbols = Object.getOwnPropertySymbols(value);
  if (symbols.length > 0 && symbols.some((symbol) => Object.prototype.propertyIsEnumerable.call(value, symbol))) {
    throw invalidInput(`canonicalJson: ${pathOf(trail)} has symbol-keyed properties, which JSON cannot represent`);
  }
  let text: string;
  ancestors.push(value);
  if (Array.isArray(value)) {
    text = writeArray(value, trail, ancestors);
  } else if (isPlainObject(value)) {
    text = writeObject(value, trail, ancestors);
  } else {
    throw invalidInput(
      `canonicalJson: ${pathOf(trail)} is ${describeType(value)}; only plain objects, arrays, strings, finite numbers, ` +
        'booleans and null are accepted, so convert it explicitly (e.g. a Date with toISOString(), bytes with base64url)',
    );
  }
  ancestors.pop();
  return text;
}

function writeArray(array: readonly unknown[], trail: Trail, ancestors: object[]): string {
  for (let i = 0; i < array.length; i++) {
    if (!Object.hasOwn(array, i)) throw invalidInput(`canonicalJson: ${pathOf([...trail, i])} is a hole in a sparse array`);
  }
  // With no holes, the index keys alone number array.length; any more are named properties that
  // JSON.stringify would drop.
  if (Object.keys(array).length !== array.length) {
    throw invalidInput(`canonicalJson: ${pathOf(trail)} is an array with named properties, which JSON cannot represent`);
  }
  let text = '[';
  for (let i = 0; i < array.length; i++) {
    trail.push(i);
    text += (i > 0 ? ',' : '') + write(array[i], trail, ancestors);
    trail.pop();
  }
  return text + ']';
}

function writeObject(object: Record<string, unknown>, trail: Trail, ancestors: object[]): string {
  // RFC 8785 §3.2.3: members sorted by their names as arrays of UTF-16 code units, which is how
  // Array.prototype.sort compares strings when given no comparator. Not by code point, not by locale.
  const keys = Object.keys(object).sort();
  let text = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    trail.push(key);
    text += (i > 0 ? ',' : '') + serializeString(key, trail) + ':' + write(object[key], trail, ancestors);
    trail.pop();
  }
  return text + '}';
}

/**
 * RFC 8785 §3.2.2.2 is ECMAScript's JSON.stringify for strings: the two-character escapes, \u00xx
 * for the other controls, everything else as is. The one case where it would invent bytes of its
 * own, a lone surrogate (written as a \udxxx escape), is refused before it gets there.
 */
function serializeString(value: string, trail: Trail): string {
  if (!(value as unknown as WellFormedString).isWellFormed()) {
    throw invalidInput(`canonicalJson: ${pathOf(trail)} holds a string with a lone UTF-16 surrogate, which I-JSON (RFC 7493 §2.1) forbids`);
  }
  return JSON.stringify(value);
}

/** ES2024's String.prototype.isWellFormed (V8 11.1, so every Node this runs on); not yet in our TS lib. */
interface WellFormedString {
  isWellFormed(): boolean;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** `$.record["created at"][1]`: the path to a value, for error messages. */
function pathOf(trail: Trail): string {
  let path = '$';
  for (const step of trail) {
    path += typeof step === 'number' ? `[${step}]` : /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
  }
  return path;
}
