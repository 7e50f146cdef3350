import { scimInvalidPath, scimInvalidSyntax, scimInvalidValue, scimMutability, scimNoTarget } from './scim-errors.js';
import { type EqualityFilter, type PatchPath, parsePatchPath } from './scim-filter.js';
import {
  attributesOf,
  checkOnePrimary,
  checkSchemas,
  type GroupDraft,
  IGNORED_USER_ATTRIBUTES,
  mergeEmails,
  optionalString,
  READ_ONLY_ATTRIBUTES,
  readEmail,
  readMembers,
  readNamePart,
  type ScimEmail,
  setGroupAttribute,
  setUserAttribute,
  type UserDraft,
} from './scim-payload.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, MAX_PATCH_OPERATIONS, PATCH_OP_SCHEMA, USER_SCHEMA } from './scim-schemas.js';

/** One operation of a PatchOp request (RFC 7644 §3.5.2). */
export interface PatchOperation {
  readonly op: 'add' | 'remove' | 'replace';
  readonly path?: string;
  readonly value?: unknown;
}

/**
 * Reads a PatchOp body: `schemas` is the PatchOp URN, `Operations` 1 to 100 operations, each with
 * `op` (case-insensitive: Entra ID sends "Replace"), an optional `path` and a `value` where the
 * operation needs one.
 */
export function readPatchRequest(body: unknown): PatchOperation[] {
  const attributes = attributesOf(body, 'the request body');
  checkSchemas(attributes.get('schemas'), PATCH_OP_SCHEMA, []);
  for (const key of attributes.keys()) if (key !== 'schemas' && key !== 'operations') throw scimInvalidSyntax(`the PatchOp attribute ${JSON.stringify(key.slice(0, 64))} is not defined`);
  const operations = attributes.get('operations');
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > MAX_PATCH_OPERATIONS) {
    throw scimInvalidSyntax(`Operations must be an array of 1 to ${MAX_PATCH_OPERATIONS} operations`);
  }
  return operations.map((operation, i) => {
    const where = `Operations[${i}]`;
    const fields = attributesOf(operation, where);
    for (const key of fields.keys()) if (key !== 'op' && key !== 'path' && key !== 'value') throw scimInvalidSyntax(`${where}.${key.slice(0, 64)} is not defined`);
    const op = fields.get('op');
    if (typeof op !== 'string' || !['add', 'remove', 'replace'].includes(op.toLowerCase())) throw scimInvalidValue(`${where}.op must be add, remove or replace`);
    const path = fields.get('path');
    if (path !== undefined && typeof path !== 'string') throw scimInvalidPath(`${where}.path must be a string`);
    const kind = op.toLowerCase() as PatchOperation['op'];
    if (kind !== 'remove' && !fields.has('value')) throw scimInvalidValue(`${where}.value is required for ${kind}`);
    // RFC 7644 §3.5.2.2: a remove without a path has no target.
    if (kind === 'remove' && path === undefined) throw scimNoTarget(`${where}: remove needs a path`);
    return { op: kind, ...(path !== undefined && { path }), ...(fields.has('value') && { value: fields.get('value') }) };
  });
}

/** Applies the operations to a copy of the user, in order; all or nothing. */
export function patchUser(current: UserDraft, operations: readonly PatchOperation[]): UserDraft {
  const draft: UserDraft = structuredClone(current);
  for (const operation of operations) {
    if (operation.path === undefined) {
      for (const [key, value] of attributesOf(operation.value, 'value')) {
        if (key === 'schemas' || IGNORED_USER_ATTRIBUTES.has(key) || key === ENTERPRISE_USER_SCHEMA.toLowerCase()) continue;
        if (READ_ONLY_ATTRIBUTES.has(key)) throw readOnly(key);
        setUserAttribute(draft, key, value, operation.op === 'add' ? 'add' : 'replace');
      }
      continue;
    }
    // Attributes of the enterprise extension, and core ones this provider does not store: dropped
    // as they are in a POST (see IGNORED_USER_ATTRIBUTES).
    if (operation.path.toLowerCase().startsWith(`${ENTERPRISE_USER_SCHEMA.toLowerCase()}:`)) continue;
    const path = parsePatchPath(operation.path, USER_SCHEMA);
    if (IGNORED_USER_ATTRIBUTES.has(path.attribute)) continue;
    if (READ_ONLY_ATTRIBUTES.has(path.attribute)) throw readOnly(path.attribute);
    patchUserPath(draft, path, operation);
  }
  checkOnePrimary(draft.emails);
  return draft;
}

function patchUserPath(draft: UserDraft, path: PatchPath, operation: PatchOperation): void {
  const { op, value } = operation;
  if (path.attribute === 'emails') return patchEmails(draft, path, operation);
  if (path.filter) throw scimInvalidPath(`path: a value filter applies to a multi-valued attribute, not ${path.attribute}`);
  if (path.attribute === 'name' && path.subAttribute !== undefined) {
    const [part, text] = readNamePart(path.subAttribute, op === 'remove' ? null : value);
    const name = { ...(draft.name ?? {}) };
    if (text === null) delete name[part];
    else name[part] = text;
    draft.name = Object.keys(name).length === 0 ? null : name;
    return;
  }
  if (path.subAttribute !== undefined) throw scimInvalidPath(`path: ${path.attribute} has no sub-attribute ${path.subAttribute}`);
  if (op !== 'remove') return setUserAttribute(draft, path.attribute, value, op);
  switch (path.attribute) {
    case 'username':
      throw scimMutability('userName is required and cannot be removed');
    case 'active':
      throw scimMutability('active cannot be removed: replace it with true or false');
    default:
      // Removing an optional attribute is setting it to no value (RFC 7644 §3.5.2.2).
      setUserAttribute(draft, path.attribute, null, 'replace');
  }
}

function patchEmails(draft: UserDraft, path: PatchPath, operation: PatchOperation): void {
  const { op, value } = operation;
  if (path.filter === undefined) {
    if (path.subAttribute !== undefined) throw scimInvalidPath('path: emails.<sub-attribute> needs a value filter, e.g. emails[type eq "work"].value');
    if (op === 'remove') draft.emails = [];
    else setUserAttribute(draft, 'emails', value, op);
    return;
  }
  const matches = draft.emails.filter((email) => emailMatches(email, path.filter!));
  if (op === 'remove') {
    if (path.subAttribute === undefined) draft.emails = draft.emails.filter((email) => !matches.includes(email));
    else if (path.subAttribute === 'value') throw scimMutability('emails[...].value cannot be removed: remove the email instead');
    else for (const email of matches) delete email[subAttributeKey(path.subAttribute)];
    return;
  }
  if (matches.length === 0) {
    // RFC 7644 §3.5.2.3: replacing what does not exist is an add. The filter's own equality
    // (`type eq "work"`) is part of the new value.
    if (path.filter.attribute !== 'type' || typeof path.filter.value !== 'string') throw scimNoTarget(`path: no email matches ${path.filter.attribute} eq ${JSON.stringify(path.filter.value)}`);
    const added = path.subAttribute === undefined ? readEmail(value, 'value') : { ...setEmailPart({ value: '' }, path.subAttribute, value) };
    draft.emails = mergeEmails(draft.emails, [{ ...added, type: path.filter.value }]);
    if (draft.emails.some((e) => e.value === '')) throw scimInvalidValue('value: an email needs a value');
    return;
  }
  for (const email of matches) {
    if (path.subAttribute === undefined) Object.assign(email, readEmail(value, 'value'));
    else setEmailPart(email, path.subAttribute, value);
    if (email.primary === true) for (const other of draft.emails) if (other !== email) other.primary = false;
  }
}

function setEmailPart(email: ScimEmail, subAttribute: string, value: unknown): ScimEmail {
  switch (subAttribute) {
    case 'value': {
      const text = optionalString(value, 'value');
      if (text === null) throw scimInvalidValue('value: an email needs a value');
      email.value = text;
      return email;
    }
    case 'type': {
      const text = optionalString(value, 'value', 64);
      if (text === null) delete email.type;
      else email.type = text;
      return email;
    }
    case 'primary':
      if (typeof value !== 'boolean') throw scimInvalidValue('value: emails.primary must be a boolean');
      email.primary = value;
      return email;
    default:
      throw scimInvalidPath(`path: emails has no sub-attribute ${subAttribute.slice(0, 64)}`);
  }
}

function subAttributeKey(subAttribute: string): 'type' | 'primary' {
  if (subAttribute === 'type' || subAttribute === 'primary') return subAttribute;
  throw scimInvalidPath(`path: emails has no removable sub-attribute ${subAttribute.slice(0, 64)}`);
}

function emailMatches(email: ScimEmail, filter: EqualityFilter): boolean {
  switch (filter.attribute) {
    case 'type':
      return typeof filter.value === 'string' && (email.type ?? '').toLowerCase() === filter.value.toLowerCase();
    case 'value':
      return typeof filter.value === 'string' && email.value.toLowerCase() === filter.value.toLowerCase();
    case 'primary':
      return (email.primary ?? false) === filter.value;
    default:
      throw scimInvalidPath(`path: emails cannot be filtered by ${filter.attribute.slice(0, 64)}`);
  }
}

/** Applies the operations to a copy of the group, in order; all or nothing. */
export function patchGroup(current: GroupDraft, operations: readonly PatchOperation[]): GroupDraft {
  const draft: GroupDraft = structuredClone(current);
  for (const operation of operations) {
    if (operation.path === undefined) {
      for (const [key, value] of attributesOf(operation.value, 'value')) {
        if (key === 'schemas') continue;
        if (READ_ONLY_ATTRIBUTES.has(key)) throw readOnly(key);
        if (key === 'members' && operation.op === 'add') addMembers(draft, value);
        else setGroupAttribute(draft, key, value);
      }
      continue;
    }
    const path = parsePatchPath(operation.path, GROUP_SCHEMA);
    if (READ_ONLY_ATTRIBUTES.has(path.attribute)) throw readOnly(path.attribute);
    if (path.attribute !== 'members') {
      if (path.filter !== undefined || path.subAttribute !== undefined) throw scimInvalidPath(`path: ${path.attribute} has no sub-attributes or values to filter`);
      if (operation.op !== 'remove') setGroupAttribute(draft, path.attribute, operation.value);
      else if (path.attribute === 'displayname') throw scimMutability('displayName is required and cannot be removed');
      else setGroupAttribute(draft, path.attribute, null);
      continue;
    }
    if (path.subAttribute !== undefined) throw scimInvalidPath('path: members are changed whole (add or remove members, or members[value eq "..."])');
    if (path.filter !== undefined) {
      if (path.filter.attribute !== 'value' || typeof path.filter.value !== 'string') throw scimInvalidPath('path: members can be filtered by value only');
      if (operation.op !== 'remove') throw scimInvalidPath('path: members[value eq "..."] can only be removed; add members with path "members"');
      const id = path.filter.value;
      draft.members = draft.members.filter((member) => member !== id);
      continue;
    }
    if (operation.op === 'add') addMembers(draft, operation.value);
    else if (operation.op === 'replace') draft.members = readMembers(operation.value, 'members');
    else if (operation.value === undefined) draft.members = [];
    else {
      // Entra ID removes members with path "members" and the members as the value; RFC 7644
      // §3.5.2.2 would remove them all. The narrower reading is the safe one.
      const removed = new Set(readMembers(operation.value, 'members'));
      draft.members = draft.members.filter((member) => !removed.has(member));
    }
  }
  return draft;
}

function addMembers(draft: GroupDraft, value: unknown): void {
  const members = new Set(draft.members);
  for (const id of readMembers(value, 'members')) members.add(id);
  draft.members = [...members];
}

function readOnly(attribute: string): Error {
  return scimMutability(`${attribute} is read-only`);
}
