import { scimInvalidSyntax, scimInvalidValue, scimMutability } from './scim-errors.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, MAX_EMAILS, MAX_GROUP_MEMBERS, USER_SCHEMA } from './scim-schemas.js';

/**
 * Strict reading of SCIM resources (RFC 7643): attribute names are case-insensitive (§2.1), every
 * value is checked against its type (§2.3) and refused otherwise (invalidValue, naming the
 * attribute), read-only attributes are ignored as RFC 7644 §3.5.1 asks (id, meta, groups), and
 * attributes no schema defines are refused (invalidSyntax).
 */

export const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'] as const;
const NAME_PART_BY_KEY = new Map(NAME_PARTS.map((p) => [p.toLowerCase(), p]));

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

/** A user as SCIM sees it, before the principal rules (userName normalisation, email syntax) apply. */
export interface UserDraft {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  name: Record<string, string> | null;
  emails: ScimEmail[];
  /** Absent from a PUT: the status is left as it is. */
  active: boolean | undefined;
}

export interface GroupDraft {
  displayName: string;
  externalId: string | null;
  /** Principal ids (`user:<uuid>`), without duplicates, in the order given. */
  members: string[];
}

/**
 * RFC 7643 §4.1 attributes this service provider does not store. They are accepted and dropped
 * (IdPs send their whole attribute mapping) and do not appear in /Schemas. `roles` and
 * `entitlements` in particular grant nothing: roles come from groups only.
 */
export const IGNORED_USER_ATTRIBUTES: ReadonlySet<string> = new Set([
  'nickname',
  'profileurl',
  'title',
  'usertype',
  'preferredlanguage',
  'locale',
  'timezone',
  'phonenumbers',
  'ims',
  'photos',
  'addresses',
  'entitlements',
  'roles',
  'x509certificates',
]);
/** Server-assigned (RFC 7643 §3.1) or derived: ignored in a POST or PUT body, refused in a PATCH. */
export const READ_ONLY_ATTRIBUTES: ReadonlySet<string> = new Set(['id', 'meta', 'groups']);

const MEMBER_ID = /^user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NO_CONTROL = /^[^\p{Cc}]*$/u;

/** A User resource of a POST or PUT body. */
export function readUserResource(body: unknown): UserDraft {
  const attributes = attributesOf(body, 'the request body');
  checkSchemas(attributes.get('schemas'), USER_SCHEMA, [ENTERPRISE_USER_SCHEMA]);
  const draft: UserDraft = { userName: '', externalId: null, displayName: null, name: null, emails: [], active: undefined };
  for (const [key, value] of attributes) {
    if (key === 'schemas' || READ_ONLY_ATTRIBUTES.has(key) || IGNORED_USER_ATTRIBUTES.has(key) || key === ENTERPRISE_USER_SCHEMA.toLowerCase()) continue;
    setUserAttribute(draft, key, value, 'replace');
  }
  if (draft.userName === '') throw scimInvalidValue('userName is required');
  return draft;
}

/** A Group resource of a POST or PUT body. */
export function readGroupResource(body: unknown): GroupDraft {
  const attributes = attributesOf(body, 'the request body');
  checkSchemas(attributes.get('schemas'), GROUP_SCHEMA, []);
  const draft: GroupDraft = { displayName: '', externalId: null, members: [] };
  for (const [key, value] of attributes) {
    if (key === 'schemas' || READ_ONLY_ATTRIBUTES.has(key)) continue;
    setGroupAttribute(draft, key, value);
  }
  if (draft.displayName === '') throw scimInvalidValue('displayName is required');
  return draft;
}

/** Sets one top-level user attribute (no path below it): `add` merges `name` and appends to `emails`. */
export function setUserAttribute(draft: UserDraft, key: string, value: unknown, op: 'add' | 'replace'): void {
  switch (key) {
    case 'username':
      draft.userName = requiredString(value, 'userName');
      return;
    case 'externalid':
      draft.externalId = optionalString(value, 'externalId');
      return;
    case 'displayname':
      draft.displayName = optionalString(value, 'displayName');
      return;
    case 'active':
      if (typeof value !== 'boolean') throw scimInvalidValue('active must be a boolean (true or false, not a string)');
      draft.active = value;
      return;
    case 'name': {
      const parts = readName(value);
      // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not given are left unchanged.
      draft.name = parts === null ? null : { ...(draft.name ?? {}), ...parts };
      if (draft.name !== null && Object.keys(draft.name).length === 0) draft.name = null;
      return;
    }
    case 'emails': {
      const emails = readEmails(value);
      draft.emails = op === 'add' ? mergeEmails(draft.emails, emails) : emails;
      checkOnePrimary(draft.emails);
      return;
    }
    case 'password':
      throw refusedPassword();
    default:
      throw scimInvalidSyntax(`the attribute ${JSON.stringify(key.slice(0, 64))} is not defined by ${USER_SCHEMA}`);
  }
}

export function setGroupAttribute(draft: GroupDraft, key: string, value: unknown): void {
  switch (key) {
    case 'displayname':
      draft.displayName = requiredString(value, 'displayName');
      return;
    case 'externalid':
      draft.externalId = optionalString(value, 'externalId');
      return;
    case 'members':
      draft.members = readMembers(value, 'members');
      return;
    default:
      throw scimInvalidSyntax(`the attribute ${JSON.stringify(key.slice(0, 64))} is not defined by ${GROUP_SCHEMA}`);
  }
}

/** `name` (RFC 7643 §4.1.1): an object of known string sub-attributes, or null. */
export function readName(value: unknown): Record<string, string> | null {
  if (value === null) return null;
  const parts: Record<string, string> = {};
  for (const [key, part] of attributesOf(value, 'name')) {
    const canonical = NAME_PART_BY_KEY.get(key);
    if (canonical === undefined) throw scimInvalidSyntax(`name.${key.slice(0, 64)} is not a sub-attribute of name`);
    const text = optionalString(part, `name.${canonical}`);
    if (text !== null) parts[canonical] = text;
  }
  return parts;
}

export function readNamePart(subAttribute: string, value: unknown): [string, string | null] {
  const canonical = NAME_PART_BY_KEY.get(subAttribute);
  if (canonical === undefined) throw scimInvalidSyntax(`name.${subAttribute.slice(0, 64)} is not a sub-attribute of name`);
  return [canonical, optionalString(value, `name.${canonical}`)];
}

/** `emails` (RFC 7643 §4.1.2): an array of {value, type?, primary?, display?}; one object is taken as a one-element array. */
export function readEmails(value: unknown): ScimEmail[] {
  if (value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > MAX_EMAILS) throw scimInvalidValue(`emails may have at most ${MAX_EMAILS} values`);
  return list.map((item, i) => readEmail(item, `emails[${i}]`));
}

export function readEmail(value: unknown, where: string): ScimEmail {
  const email: Partial<ScimEmail> = {};
  for (const [key, part] of attributesOf(value, where)) {
    switch (key) {
      case 'value':
        email.value = requiredString(part, `${where}.value`);
        break;
      case 'type': {
        const type = optionalString(part, `${where}.type`, 64);
        if (type !== null) email.type = type;
        break;
      }
      case 'primary':
        if (typeof part !== 'boolean') throw scimInvalidValue(`${where}.primary must be a boolean`);
        email.primary = part;
        break;
      case 'display':
        optionalString(part, `${where}.display`);
        break;
      default:
        throw scimInvalidSyntax(`${where}.${key.slice(0, 64)} is not a sub-attribute of emails`);
    }
  }
  if (email.value === undefined) throw scimInvalidValue(`${where}.value is required`);
  return email as ScimEmail;
}

export function mergeEmails(current: readonly ScimEmail[], added: readonly ScimEmail[]): ScimEmail[] {
  const result = current.map((e) => ({ ...e }));
  for (const email of added) {
    if (email.primary === true) for (const other of result) other.primary = false;
    const same = result.find((e) => e.value.toLowerCase() === email.value.toLowerCase());
    if (same) Object.assign(same, email);
    else result.push({ ...email });
  }
  if (result.length > MAX_EMAILS) throw scimInvalidValue(`emails may have at most ${MAX_EMAILS} values`);
  return result;
}

/** RFC 7643 §2.4: the primary value `true` appears no more than once. */
export function checkOnePrimary(emails: readonly ScimEmail[]): void {
  if (emails.filter((e) => e.primary === true).length > 1) throw scimInvalidValue('emails: at most one value may be primary');
}

/** `members` (RFC 7643 §4.2): an array of {value: "user:<uuid>", type?: "User", display?, $ref?}. */
export function readMembers(value: unknown, where: string): string[] {
  if (value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > MAX_GROUP_MEMBERS) throw scimInvalidValue(`${where} may have at most ${MAX_GROUP_MEMBERS} values`);
  const ids = new Set<string>();
  list.forEach((item, i) => ids.add(readMember(item, `${where}[${i}]`)));
  return [...ids];
}

function readMember(value: unknown, where: string): string {
  let id: string | undefined;
  for (const [key, part] of attributesOf(value, where)) {
    switch (key) {
      case 'value':
        if (typeof part !== 'string' || !MEMBER_ID.test(part)) throw scimInvalidValue(`${where}.value must be the id of a User (user:<uuid>)`);
        id = part;
        break;
      case 'type':
        if (part !== 'User') throw scimInvalidValue(`${where}.type must be "User": nested groups are not supported`);
        break;
      case 'display':
      case '$ref':
        // Read-only or derived from value (RFC 7643 §4.2): checked for type, then ignored.
        optionalString(part, `${where}.${key}`, 2048);
        break;
      default:
        throw scimInvalidSyntax(`${where}.${key.slice(0, 64)} is not a sub-attribute of members`);
    }
  }
  if (id === undefined) throw scimInvalidValue(`${where}.value is required`);
  return id;
}

export function requiredString(value: unknown, where: string, max = 256): string {
  const text = optionalString(value, where, max);
  if (text === null) throw scimInvalidValue(`${where} must be a non-empty string`);
  return text;
}

/** A string of at most `max` characters without control characters; null and "" mean no value. */
export function optionalString(value: unknown, where: string, max = 256): string | null {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw scimInvalidValue(`${where} must be a string`);
  if (value.length > max) throw scimInvalidValue(`${where} must be at most ${max} characters`);
  if (!NO_CONTROL.test(value)) throw scimInvalidValue(`${where} must not contain control characters`);
  return value.normalize('NFC');
}

/**
 * The attributes of a JSON object keyed by lower-cased name (RFC 7643 §2.1: names are
 * case-insensitive); two keys differing only by case are refused rather than one of them dropped.
 */
export function attributesOf(value: unknown, where: string): Map<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw scimInvalidSyntax(`${where} must be a JSON object`);
  const attributes = new Map<string, unknown>();
  for (const [key, item] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (attributes.has(lower)) throw scimInvalidSyntax(`${where} names the attribute ${JSON.stringify(key.slice(0, 64))} twice`);
    attributes.set(lower, item);
  }
  return attributes;
}

/** `schemas` must list the resource's core schema, and nothing but it and `optional` ones. */
export function checkSchemas(value: unknown, core: string, optional: readonly string[]): void {
  if (!Array.isArray(value) || !value.every((s): s is string => typeof s === 'string')) throw scimInvalidSyntax(`schemas must be an array of schema URIs including ${core}`);
  const known = new Set([core, ...optional].map((s) => s.toLowerCase()));
  const unknown = value.find((s) => !known.has(s.toLowerCase()));
  if (unknown !== undefined) throw scimInvalidValue(`schemas: ${JSON.stringify(unknown.slice(0, 120))} is not supported (supported: ${[core, ...optional].join(', ')})`);
  if (!value.some((s) => s.toLowerCase() === core.toLowerCase())) throw scimInvalidSyntax(`schemas must include ${core}`);
}

function refusedPassword(): Error {
  return scimMutability('password is not accepted: users sign in through the IdP (SAML), the realm keeps no passwords');
}
