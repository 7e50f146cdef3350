import { allSchemas, type JsonSchema } from './schemas.js';

/**
 * A validator for the subset of JSON Schema 2020-12 the contract uses: type, const, enum,
 * properties/required/additionalProperties, minProperties, items/minItems/maxItems/uniqueItems,
 * minLength/maxLength/pattern, minimum/maximum, oneOf and $ref (absolute, or #/$defs/... within the
 * current schema resource). It stops at the first violation and names it by JSON path, so a 400
 * says which field is wrong.
 */

export interface Violation {
  /** `participants[1]`, `kmsMessages[0]`, or `(body)` for the document itself. */
  readonly path: string;
  readonly message: string;
}

const registry = new Map<string, JsonSchema>(allSchemas.map((s) => [s.$id as string, s]));
const patterns = new Map<string, RegExp>();

export function validate(schema: JsonSchema, value: unknown): Violation | undefined {
  return check(schema, value, '', schema.$id as string);
}

function check(schema: JsonSchema, value: unknown, path: string, base: string): Violation | undefined {
  const at = (message: string): Violation => ({ path: path || '(body)', message });
  if (typeof schema.$ref === 'string') {
    const [target, targetBase] = resolve(schema.$ref, base);
    return check(target, value, path, targetBase);
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as JsonSchema[]).filter((s) => check(s, value, path, base) === undefined).length;
    if (passing !== 1) return at(passing === 0 ? 'matches none of the allowed forms' : 'matches more than one form');
  }
  if ('const' in schema && value !== schema.const) return at(`must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return at(`must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return at(`must be ${types.join(' or ')}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) return at(`must be at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) return at(`must be at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === 'string' && !pattern(schema.pattern).test(value)) return at(describePattern(schema));
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) return at(`must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) return at(`must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) return at(`must hold at least ${schema.minItems} item(s)`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return at(`must hold at most ${schema.maxItems} items`);
    if (schema.uniqueItems === true) {
      const seen = new Set<string>();
      for (let i = 0; i < value.length; i++) {
        const key = JSON.stringify(value[i]);
        if (seen.has(key)) return { path: `${path}[${i}]`, message: 'repeats an earlier item' };
        seen.add(key);
      }
    }
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const v = check(schema.items as JsonSchema, value[i], `${path}[${i}]`, base);
        if (v) return v;
      }
    }
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in value)) return { path: join(path, name), message: 'is required' };
    }
    if (typeof schema.minProperties === 'number' && Object.keys(value).length < schema.minProperties) return at(`must set at least ${schema.minProperties} field(s)`);
    for (const [name, v] of Object.entries(value)) {
      const sub = properties[name];
      if (!sub) {
        if (schema.additionalProperties === false) return { path: join(path, name), message: 'is not a known field' };
        continue;
      }
      const violation = check(sub, v, join(path, name), base);
      if (violation) return violation;
    }
  }
  return undefined;
}

function resolve(reference: string, base: string): [JsonSchema, string] {
  const [uri, fragment = ''] = reference.split('#') as [string, string?];
  const id = uri === '' ? base : uri;
  let target: unknown = registry.get(id);
  if (target === undefined) throw new Error(`unknown schema ${id}`);
  for (const part of fragment.split('/').filter(Boolean)) target = (target as Record<string, unknown>)[part];
  if (!isObject(target)) throw new Error(`unresolvable $ref ${reference}`);
  return [target as JsonSchema, id];
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isSafeInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'boolean': return typeof value === 'boolean';
    case 'null': return value === null;
    case 'array': return Array.isArray(value);
    case 'object': return isObject(value);
    default: throw new Error(`unsupported type ${type}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pattern(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) patterns.set(source, (re = new RegExp(source, 'u')));
  return re;
}

function describePattern(schema: JsonSchema): string {
  return typeof schema.description === 'string' ? `must be ${schema.description}` : `must match ${schema.pattern as string}`;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
