import { KeyObject } from 'node:crypto';
import { invalidInput } from './crypto.error.js';

/** Raw key bytes, or a node `KeyObject` of type `secret`, whose bytes stay in native memory. */
export type SymmetricKey = Buffer | KeyObject;

/** Type checks for callers outside TypeScript; a string here would otherwise be UTF-8 encoded silently. */
export function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw invalidInput(`${what} must be a Buffer or Uint8Array, got ${describeType(value)}`);
  }
}

/**
 * The key's length in bytes, after checking it is something a cipher can take. Only the length is
 * ever put into a message, never the key.
 */
export function secretKeyLength(key: unknown, what: string): number {
  if (key instanceof Uint8Array) return key.length;
  if (key instanceof KeyObject) {
    if (key.type !== 'secret' || key.symmetricKeySize === undefined) {
      throw invalidInput(`${what} must be a secret KeyObject, got a ${key.type} key`);
    }
    return key.symmetricKeySize;
  }
  throw invalidInput(`${what} must be a Buffer or a secret KeyObject, got ${describeType(key)}`);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}
