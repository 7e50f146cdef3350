import { scimInvalidFilter, scimInvalidPath } from './scim-errors.js';

/**
 * The small, strict subset of the SCIM filter and PATCH path grammar (RFC 7644 §3.4.2.2 and
 * §3.5.2, ABNF in Figures 1 and 7) this service provider supports:
 *
 *   filter    = attrPath SP "eq" SP compValue
 *   path      = attrPath / attrPath "[" attrPath SP "eq" SP compValue "]" [ "." subAttr ]
 *   attrPath  = [ schemaUrn ":" ] ATTRNAME [ "." subAttr ]
 *   compValue = JSON string / "true" / "false"
 *
 * Everything else (and, or, not, pr, co, sw, gt..., grouping, numbers) is refused with
 * invalidFilter or invalidPath rather than half-understood. Attribute names and operators are
 * case-insensitive (RFC 7643 §2.1, RFC 7644 §3.4.2.2): names come back lower-cased, without the
 * core schema URN prefix.
 *
 * A general parser from npm was considered (scim2-parse-filter) and not taken: it accepts the
 * whole grammar, which we would then have to refuse again node by node.
 */
export interface EqualityFilter {
  /** Lower-case attribute name, with `.sub` when the filter names a sub-attribute. */
  readonly attribute: string;
  readonly value: string | boolean;
}

export interface PatchPath {
  /** Lower-case top-level attribute name. */
  readonly attribute: string;
  /** Lower-case sub-attribute (`name.givenName`, or after a value filter: `emails[...].value`). */
  readonly subAttribute?: string;
  readonly filter?: EqualityFilter;
}

const MAX_FILTER_LENGTH = 1024;
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_$-]*$/;

/** Parses a `filter` query parameter; `schemaUrn` is the resource's core schema. */
export function parseEqualityFilter(text: string, schemaUrn: string): EqualityFilter {
  if (text.length === 0 || text.length > MAX_FILTER_LENGTH) throw scimInvalidFilter(`filter must be 1 to ${MAX_FILTER_LENGTH} characters`);
  const filter = parseComparison(text.trim(), schemaUrn, (detail) => scimInvalidFilter(`filter: ${detail}`));
  return filter;
}

/** Parses the `path` of a PATCH operation. */
export function parsePatchPath(text: string, schemaUrn: string): PatchPath {
  const fail = (detail: string) => scimInvalidPath(`path ${JSON.stringify(text.slice(0, 120))}: ${detail}`);
  if (text.length === 0 || text.length > MAX_FILTER_LENGTH) throw fail(`must be 1 to ${MAX_FILTER_LENGTH} characters`);
  const open = text.indexOf('[');
  if (open === -1) {
    const [attribute, subAttribute, more] = attributePath(text, schemaUrn, fail);
    if (more !== undefined) throw fail('too many sub-attribute levels');
    return { attribute, ...(subAttribute !== undefined && { subAttribute }) };
  }
  const close = closingBracket(text, open, fail);
  const [attribute, nested] = attributePath(text.slice(0, open), schemaUrn, fail);
  if (nested !== undefined) throw fail('a value filter applies to a top-level attribute');
  const filter = parseComparison(text.slice(open + 1, close).trim(), undefined, fail);
  if (filter.attribute.includes('.')) throw fail('a value filter compares a sub-attribute of the same attribute');
  const rest = text.slice(close + 1);
  if (rest === '') return { attribute, filter };
  if (!rest.startsWith('.') || !ATTRIBUTE_NAME.test(rest.slice(1))) throw fail('only ".subAttribute" may follow a value filter');
  return { attribute, filter, subAttribute: rest.slice(1).toLowerCase() };
}

function parseComparison(text: string, schemaUrn: string | undefined, fail: (detail: string) => Error): EqualityFilter {
  const match = /^(\S+)\s+(\S+)\s+(.+)$/s.exec(text);
  if (!match) throw fail('expected `attribute eq "value"`');
  const [, path, operator, literal] = match as unknown as [string, string, string, string];
  if (operator.toLowerCase() !== 'eq') throw fail(`the operator ${JSON.stringify(operator.slice(0, 20))} is not supported; only eq is`);
  const [attribute, subAttribute, more] = attributePath(path, schemaUrn, fail);
  if (more !== undefined) throw fail('too many sub-attribute levels');
  return { attribute: subAttribute === undefined ? attribute : `${attribute}.${subAttribute}`, value: compValue(literal.trim(), fail) };
}

/** `[urn:...:]name[.sub[.more]]` → lower-case parts; the URN, if any, must be the resource's schema. */
function attributePath(text: string, schemaUrn: string | undefined, fail: (detail: string) => Error): [string, string | undefined, string | undefined] {
  let path = text;
  if (path.toLowerCase().startsWith('urn:')) {
    if (schemaUrn === undefined || !path.toLowerCase().startsWith(`${schemaUrn.toLowerCase()}:`)) throw fail('only attributes of the core schema are supported');
    path = path.slice(schemaUrn.length + 1);
  }
  const parts = path.split('.');
  if (parts.length > 3 || !parts.every((p) => ATTRIBUTE_NAME.test(p))) throw fail('not an attribute name');
  return [parts[0]!.toLowerCase(), parts[1]?.toLowerCase(), parts[2]];
}

function compValue(literal: string, fail: (detail: string) => Error): string | boolean {
  if (literal === 'true') return true;
  if (literal === 'false') return false;
  if (literal.length < 2 || !literal.startsWith('"') || !literal.endsWith('"')) throw fail('the value must be a JSON string, true or false');
  let parsed: unknown;
  try {
    parsed = JSON.parse(literal);
  } catch {
    throw fail('the value is not a well-formed JSON string');
  }
  if (typeof parsed !== 'string') throw fail('the value must be a JSON string, true or false');
  return parsed;
}

/** The index of the `]` closing the `[` at `open`, skipping brackets inside a JSON string. */
function closingBracket(text: string, open: number, fail: (detail: string) => Error): number {
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '[') {
      throw fail('nested value filters are not supported');
    } else if (c === ']') {
      return i;
    }
  }
  throw fail('unbalanced "["');
}
