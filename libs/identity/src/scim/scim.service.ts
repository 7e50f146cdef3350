import { randomUUID } from 'node:crypto';
import type { AuditLog } from '@realm/audit';
import { type Database, isUniqueViolation } from '@realm/persistence';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError } from '../identity.error.js';
import { normalizeEmail, normalizeUserName, type Principal, sameRoles } from '../principals/principal.js';
import type { PrincipalService } from '../principals/principal.service.js';
import type { ScimGroupRow, ScimUserRow } from './scim.entities.js';
import { ScimRepository } from './scim.repository.js';
import { scimInvalidFilter, scimInvalidValue, scimMutability, scimNotFound, scimUniqueness } from './scim-errors.js';
import { parseEqualityFilter } from './scim-filter.js';
import { patchGroup, patchUser, readPatchRequest } from './scim-patch.js';
import { type GroupDraft, readGroupResource, readUserResource, type ScimEmail, type UserDraft } from './scim-payload.js';
import { rolesOfScimGroups, type ScimRoleGroups } from './scim-roles.js';
import { GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, MAX_GROUP_MEMBERS, MAX_PAGE_SIZE, USER_SCHEMA } from './scim-schemas.js';
import type { ScimClient } from './scim-token.service.js';

export type ScimResource = Record<string, unknown>;

export interface ScimListResponse {
  readonly schemas: readonly string[];
  readonly totalResults: number;
  readonly startIndex: number;
  readonly itemsPerPage: number;
  readonly Resources: ScimResource[];
}

/** The list parameters of RFC 7644 §3.4.2 this provider supports, as they came in the query string. */
export interface ScimListQuery {
  readonly filter?: string;
  readonly startIndex?: string;
  readonly count?: string;
  readonly attributes?: string;
  readonly excludedAttributes?: string;
}

/** Who is asking: the authenticated SCIM client and the request id, for the audit records. */
export interface ScimRequestContext {
  readonly client: ScimClient;
  readonly requestId?: string;
}

export interface ScimServiceOptions {
  /** identity.saml.roles.*: the same group → role mapping as SAML login. */
  readonly roleGroups: ScimRoleGroups;
  /** The public base URL of the SCIM endpoints (`<identity.issuer>/scim/v2`), for meta.location. */
  readonly baseUrl: string;
  readonly clock?: () => number;
}

const USER_ID = /^user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GROUP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INTEGER = /^[+-]?\d{1,9}$/;

/**
 * SCIM 2.0 Users and Groups (RFC 7643, RFC 7644 §3) over the realm's principals.
 *
 * A User is a user principal: its SCIM id is the principal id, userName and the one email kept
 * live on the principal, the other attributes in SCIM's own row. `active: false` disables the
 * principal (its tokens die on their next use); DELETE deletes it for good. A Group is SCIM's own;
 * a user's roles are recomputed from the displayNames of their groups whenever memberships change
 * (identity.saml.roles.*), and set only when they differ.
 *
 * Every change is audited as `identity.scim.<user|group>.<create|replace|patch|delete>` once it is
 * done, on top of the principal's own records.
 */
export class ScimService {
  private readonly repository: ScimRepository;
  private readonly clock: () => number;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly principals: PrincipalService,
    private readonly options: ScimServiceOptions,
  ) {
    this.repository = new ScimRepository(db);
    this.clock = options.clock ?? Date.now;
  }

  // ---- Users ---------------------------------------------------------------------------------

  async getUser(id: string, query: ScimListQuery = {}): Promise<ScimResource> {
    const principal = await this.liveUser(id);
    return project((await this.renderUsers([principal]))[0]!, query);
  }

  async listUsers(query: ScimListQuery): Promise<ScimListResponse> {
    const page = pageOf(query);
    let total: number;
    let principals: Principal[];
    if (query.filter !== undefined) {
      const filter = parseEqualityFilter(query.filter, USER_SCHEMA);
      if (filter.attribute !== 'username' || typeof filter.value !== 'string') throw scimInvalidFilter('filter: only userName eq "..." is supported for Users');
      const found = await this.findUserByName(filter.value);
      total = found ? 1 : 0;
      principals = found && page.offset === 0 && page.limit > 0 ? [found] : [];
    } else {
      ({ total, principals } = await this.principals.listUsers(page));
    }
    const resources = (await this.renderUsers(principals)).map((r) => project(r, query));
    return listResponse(total, page, resources);
  }

  async createUser(body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const draft = readUserResource(body);
    const userName = checkedUserName(draft.userName);
    const email = pickEmail(draft.emails);
    const audit = this.auditContext(context);
    let principal: Principal;
    try {
      principal = await this.principals.createUser({ userName, email: email?.value ?? null, roles: rolesOfScimGroups(this.options.roleGroups, [], []) }, audit);
    } catch (error) {
      throw takenUserName(error, userName);
    }
    const now = new Date(this.clock());
    const row: ScimUserRow = { principalId: principal.id, ...scimFieldsOf(draft, email), deactivatedAtEpoch: null, createdAt: now, updatedAt: now };
    if (draft.active === false) {
      principal = await this.principals.disable(principal.id, audit);
      row.deactivatedAtEpoch = principal.credentialEpoch;
    }
    await this.db.write((tx) => this.repository.saveUser(row, tx));
    await this.record(context, 'identity.scim.user.create', principal.id, { userName: principal.name, active: principal.status === 'active' });
    return (await this.renderUsers([principal]))[0]!;
  }

  async replaceUser(id: string, body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const principal = await this.liveUser(id);
    const draft = readUserResource(body);
    return this.applyUser(principal, draft, context, 'replace');
  }

  async patchUser(id: string, body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const principal = await this.liveUser(id);
    const operations = readPatchRequest(body);
    const row = await this.repository.findUser(principal.id);
    const draft = patchUser(userDraftOf(principal, row), operations);
    return this.applyUser(principal, draft, context, 'patch');
  }

  /** Deletes the user (final: the principal can never authenticate again) and its memberships. */
  async deleteUser(id: string, context: ScimRequestContext): Promise<void> {
    const principal = await this.liveUser(id);
    await this.principals.delete(principal.id, this.auditContext(context));
    await this.db.write((tx) => this.repository.removeUserFromAllGroups(principal.id, tx));
    await this.record(context, 'identity.scim.user.delete', principal.id, { userName: principal.name });
  }

  /**
   * Applies a replaced or patched user. Everything is checked before anything is written: a
   * request that fails leaves the user as it was.
   */
  private async applyUser(principal: Principal, draft: UserDraft, context: ScimRequestContext, verb: 'replace' | 'patch'): Promise<ScimResource> {
    const userName = checkedUserName(draft.userName);
    const email = pickEmail(draft.emails);
    const emailValue = email?.value ?? null;
    const current = await this.repository.findUser(principal.id);
    const wantsActive = draft.active ?? principal.status === 'active';
    // An administrator's disable bumps the epoch past the one SCIM recorded: only a user that SCIM
    // itself deactivated, and nobody changed since, may be re-activated by SCIM.
    if (wantsActive && principal.status !== 'active' && current?.deactivatedAtEpoch !== principal.credentialEpoch) {
      throw scimMutability('active: this user was disabled by a realm administrator, not through SCIM; enable it with realmctl');
    }
    const audit = this.auditContext(context);
    const changed: string[] = [];
    let updated = principal;
    if (userName !== principal.name || emailValue !== principal.email) {
      try {
        updated = await this.principals.updateUser(principal.id, { userName, email: emailValue }, audit);
      } catch (error) {
        throw takenUserName(error, userName);
      }
      if (userName !== principal.name) changed.push('userName');
      if (emailValue !== principal.email) changed.push('emails');
    }
    const now = new Date(this.clock());
    const row: ScimUserRow = current ? { ...current } : { principalId: principal.id, externalId: null, displayName: null, name: null, emailType: null, deactivatedAtEpoch: null, createdAt: now, updatedAt: now };
    const fields = scimFieldsOf(draft, email);
    for (const key of ['externalId', 'displayName', 'name', 'emailType'] as const) {
      if (JSON.stringify(row[key]) !== JSON.stringify(fields[key])) changed.push(key === 'emailType' ? 'emails' : key);
    }
    if (!wantsActive && updated.status === 'active') {
      updated = await this.principals.disable(principal.id, audit);
      row.deactivatedAtEpoch = updated.credentialEpoch;
      changed.push('active');
    } else if (wantsActive && updated.status !== 'active') {
      updated = await this.principals.enable(principal.id, audit);
      row.deactivatedAtEpoch = null;
      changed.push('active');
    }
    const nextRow: ScimUserRow = { ...row, ...fields };
    if (current === null || JSON.stringify(nextRow) !== JSON.stringify(current)) {
      await this.db.write((tx) => this.repository.saveUser({ ...nextRow, updatedAt: now }, tx));
    }
    const unique = [...new Set(changed)];
    if (unique.length > 0) await this.record(context, `identity.scim.user.${verb}`, principal.id, { userName: updated.name, active: updated.status === 'active', changed: unique });
    return (await this.renderUsers([updated]))[0]!;
  }

  // ---- Groups --------------------------------------------------------------------------------

  async getGroup(id: string, query: ScimListQuery = {}): Promise<ScimResource> {
    const group = await this.existingGroup(id);
    return project((await this.renderGroups([group]))[0]!, query);
  }

  async listGroups(query: ScimListQuery): Promise<ScimListResponse> {
    const page = pageOf(query);
    let total: number;
    let groups: ScimGroupRow[];
    if (query.filter !== undefined) {
      const filter = parseEqualityFilter(query.filter, GROUP_SCHEMA);
      if (filter.attribute !== 'displayname' || typeof filter.value !== 'string') throw scimInvalidFilter('filter: only displayName eq "..." is supported for Groups');
      const found = await this.repository.findGroupByDisplayName(filter.value);
      total = found ? 1 : 0;
      groups = found && page.offset === 0 && page.limit > 0 ? [found] : [];
    } else {
      total = await this.repository.countGroups();
      groups = page.limit === 0 ? [] : await this.repository.listGroups(page.offset, page.limit);
    }
    const resources = (await this.renderGroups(groups)).map((r) => project(r, query));
    return listResponse(total, page, resources);
  }

  async createGroup(body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const draft = readGroupResource(body);
    await this.checkMembers(draft.members);
    const now = new Date(this.clock());
    const row: ScimGroupRow = { id: randomUUID(), displayName: draft.displayName, externalId: draft.externalId, createdAt: now, updatedAt: now };
    if (await this.repository.findGroupByDisplayName(row.displayName)) throw takenDisplayName(row.displayName);
    try {
      await this.db.write(async (tx) => {
        await this.repository.insertGroup(row, tx);
        await this.repository.addMembers(row.id, draft.members, tx);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw takenDisplayName(row.displayName);
      throw error;
    }
    await this.record(context, 'identity.scim.group.create', `scim-group:${row.id}`, { displayName: row.displayName, added: draft.members });
    await this.recomputeRoles(draft.members, context);
    return (await this.renderGroups([row]))[0]!;
  }

  async replaceGroup(id: string, body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const group = await this.existingGroup(id);
    const draft = readGroupResource(body);
    return this.applyGroup(group, () => draft, context, 'replace');
  }

  async patchGroup(id: string, body: unknown, context: ScimRequestContext): Promise<ScimResource> {
    const group = await this.existingGroup(id);
    const operations = readPatchRequest(body);
    return this.applyGroup(group, (current) => patchGroup(current, operations), context, 'patch');
  }

  async deleteGroup(id: string, context: ScimRequestContext): Promise<void> {
    const group = await this.existingGroup(id);
    const members = await this.db.write(async (tx) => {
      const locked = await this.repository.lockGroup(group.id, tx);
      if (!locked) throw groupNotFound(id);
      const rows = await this.repository.membersOf([group.id], tx);
      await this.repository.deleteGroup(group.id, tx);
      return rows.map((m) => m.principalId);
    });
    await this.record(context, 'identity.scim.group.delete', `scim-group:${group.id}`, { displayName: group.displayName, removed: members });
    await this.recomputeRoles(members, context);
  }

  /**
   * Applies a replaced or patched group in one transaction, with the group row locked so that two
   * changes of one group serialise; then recomputes the roles of every user whose groups changed
   * (all members when the displayName changed).
   */
  private async applyGroup(group: ScimGroupRow, change: (current: GroupDraft) => GroupDraft, context: ScimRequestContext, verb: 'replace' | 'patch'): Promise<ScimResource> {
    let attempted = group.displayName;
    let outcome: { row: ScimGroupRow; added: string[]; removed: string[]; renamed: boolean; members: string[] };
    try {
      outcome = await this.db.write(async (tx) => {
        const locked = await this.repository.lockGroup(group.id, tx);
        if (!locked) throw groupNotFound(group.id);
        const current = (await this.repository.membersOf([group.id], tx)).map((m) => m.principalId);
        const draft = change({ displayName: locked.displayName, externalId: locked.externalId, members: current });
        attempted = draft.displayName;
        if (draft.members.length > MAX_GROUP_MEMBERS) throw scimInvalidValue(`members: a group may have at most ${MAX_GROUP_MEMBERS} members`);
        const currentSet = new Set(current);
        const wanted = new Set(draft.members);
        const added = draft.members.filter((id) => !currentSet.has(id));
        const removed = current.filter((id) => !wanted.has(id));
        await this.checkMembers(added);
        const renamed = draft.displayName !== locked.displayName;
        const row: ScimGroupRow = { ...locked, displayName: draft.displayName, externalId: draft.externalId };
        if (renamed || draft.externalId !== locked.externalId || added.length > 0 || removed.length > 0) {
          row.updatedAt = new Date(this.clock());
          await this.repository.updateGroup(row, tx);
          await this.repository.removeMembers(group.id, removed, tx);
          await this.repository.addMembers(group.id, added, tx);
        }
        return { row, added, removed, renamed, members: draft.members };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw takenDisplayName(attempted);
      throw error;
    }
    const { row, added, removed, renamed } = outcome;
    if (renamed || row.externalId !== group.externalId || added.length > 0 || removed.length > 0) {
      await this.record(context, `identity.scim.group.${verb}`, `scim-group:${row.id}`, { displayName: row.displayName, added, removed, ...(renamed && { previousDisplayName: group.displayName }) });
    }
    await this.recomputeRoles(renamed ? [...new Set([...outcome.members, ...removed])] : [...added, ...removed], context);
    return (await this.renderGroups([row]))[0]!;
  }

  /** Every id is a live user: members are users only, and unknown ids are refused (invalidValue). */
  private async checkMembers(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const found = new Map((await this.principals.findMany(ids)).map((p) => [p.id, p]));
    for (const id of ids) {
      const principal = found.get(id);
      if (!principal || principal.kind !== 'user' || principal.status === 'deleted') throw scimInvalidValue(`members: no user has the id ${id}`);
    }
  }

  /**
   * Sets each user's roles to those their groups grant, where they differ (a change bumps the
   * credential epoch and so revokes their tokens). Read again after writing: a concurrent
   * membership change that computed from older state is corrected by whichever runs last.
   */
  private async recomputeRoles(principalIds: readonly string[], context: ScimRequestContext): Promise<void> {
    let pending = [...new Set(principalIds)];
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const memberships = await this.repository.membershipsOf(pending);
      const groups = new Map((await this.repository.findGroups([...new Set(memberships.map((m) => m.groupId))])).map((g) => [g.id, g.displayName]));
      const changed: string[] = [];
      for (const principal of await this.principals.findMany(pending)) {
        if (principal.kind !== 'user' || principal.status === 'deleted') continue;
        const names = memberships.filter((m) => m.principalId === principal.id).map((m) => groups.get(m.groupId)).filter((n): n is string => n !== undefined);
        const wanted = rolesOfScimGroups(this.options.roleGroups, names, principal.roles);
        if (sameRoles(wanted, principal.roles)) continue;
        await this.principals.setRoles(principal.id, wanted, this.auditContext(context));
        changed.push(principal.id);
      }
      pending = changed;
    }
  }

  // ---- Rendering (RFC 7643 §4) -------------------------------------------------------------------

  private async renderUsers(principals: readonly Principal[]): Promise<ScimResource[]> {
    const ids = principals.map((p) => p.id);
    const [rows, memberships] = await Promise.all([this.repository.findUsers(ids), this.repository.membershipsOf(ids)]);
    const groups = new Map((await this.repository.findGroups([...new Set(memberships.map((m) => m.groupId))])).map((g) => [g.id, g]));
    const rowOf = new Map(rows.map((r) => [r.principalId, r]));
    return principals.map((principal) => {
      const row = rowOf.get(principal.id);
      const userGroups = memberships
        .filter((m) => m.principalId === principal.id)
        .map((m) => groups.get(m.groupId))
        .filter((g): g is ScimGroupRow => g !== undefined)
        .sort((a, b) => a.displayName.localeCompare(b.displayName));
      const lastModified = row && row.updatedAt > principal.updatedAt ? row.updatedAt : principal.updatedAt;
      return {
        schemas: [USER_SCHEMA],
        id: principal.id,
        ...(row?.externalId != null && { externalId: row.externalId }),
        userName: principal.name,
        ...(row?.name != null && { name: row.name }),
        ...(row?.displayName != null && { displayName: row.displayName }),
        ...(principal.email !== null && { emails: [{ value: principal.email, ...(row?.emailType != null && { type: row.emailType }), primary: true }] }),
        active: principal.status === 'active',
        groups: userGroups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${this.options.baseUrl}/Groups/${g.id}` })),
        meta: { resourceType: 'User', created: principal.createdAt.toISOString(), lastModified: lastModified.toISOString(), location: `${this.options.baseUrl}/Users/${principal.id}` },
      };
    });
  }

  private async renderGroups(groups: readonly ScimGroupRow[]): Promise<ScimResource[]> {
    const members = await this.repository.membersOf(groups.map((g) => g.id));
    const users = new Map((await this.principals.findMany([...new Set(members.map((m) => m.principalId))])).map((p) => [p.id, p]));
    return groups.map((group) => ({
      schemas: [GROUP_SCHEMA],
      id: group.id,
      ...(group.externalId !== null && { externalId: group.externalId }),
      displayName: group.displayName,
      members: members
        .filter((m) => m.groupId === group.id)
        .map((m) => users.get(m.principalId))
        .filter((p): p is Principal => p !== undefined && p.status !== 'deleted')
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => ({ value: p.id, display: p.name, type: 'User', $ref: `${this.options.baseUrl}/Users/${p.id}` })),
      meta: { resourceType: 'Group', created: group.createdAt.toISOString(), lastModified: group.updatedAt.toISOString(), location: `${this.options.baseUrl}/Groups/${group.id}` },
    }));
  }

  // ---- Helpers -----------------------------------------------------------------------------------

  private async liveUser(id: string): Promise<Principal> {
    const principal = USER_ID.test(id) ? await this.principals.find(id) : undefined;
    if (!principal || principal.kind !== 'user' || principal.status === 'deleted') throw scimNotFound(`no User has the id ${JSON.stringify(id.slice(0, 128))}`);
    return principal;
  }

  private async existingGroup(id: string): Promise<ScimGroupRow> {
    const group = GROUP_ID.test(id) ? await this.repository.findGroup(id) : null;
    if (!group) throw groupNotFound(id);
    return group;
  }

  private async findUserByName(userName: string): Promise<Principal | undefined> {
    try {
      return await this.principals.findUserByName(userName);
    } catch (error) {
      // A value no userName can have matches no user.
      if (error instanceof IdentityError && error.code === 'IDENTITY_INVALID_ARGUMENT') return undefined;
      throw error;
    }
  }

  private auditContext(context: ScimRequestContext): IdentityAuditContext {
    return { actor: scimActor(context.client), ...(context.requestId !== undefined && { requestId: context.requestId }) };
  }

  private record(context: ScimRequestContext, action: string, resource: string, details: Record<string, string | boolean | readonly string[]>): Promise<void> {
    return recordIdentityEvent(this.audit, this.auditContext(context), { action, outcome: 'success', resources: [resource], details: { ...details, scimClient: context.client.name } });
  }
}

/** The audit actor of a SCIM client: the token's id (its name is in the details). */
export function scimActor(client: ScimClient): { type: 'system'; id: string } {
  return { type: 'system', id: `scim:${client.tokenId}` };
}

function userDraftOf(principal: Principal, row: ScimUserRow | null): UserDraft {
  return {
    userName: principal.name,
    externalId: row?.externalId ?? null,
    displayName: row?.displayName ?? null,
    name: row?.name ?? null,
    emails: principal.email === null ? [] : [{ value: principal.email, ...(row?.emailType != null && { type: row.emailType }), primary: true }],
    active: principal.status === 'active',
  };
}

function scimFieldsOf(draft: UserDraft, email: ScimEmail | undefined): Pick<ScimUserRow, 'externalId' | 'displayName' | 'name' | 'emailType'> {
  return { externalId: draft.externalId, displayName: draft.displayName, name: draft.name, emailType: email?.type ?? null };
}

/** The one email kept: the primary one, or the first; its address checked by the principal rules. */
function pickEmail(emails: readonly ScimEmail[]): ScimEmail | undefined {
  const email = emails.find((e) => e.primary === true) ?? emails[0];
  if (email === undefined) return undefined;
  try {
    return { ...email, value: normalizeEmail(email.value)! };
  } catch {
    throw scimInvalidValue('emails: the value must be an address like local@domain (at most 320 characters)');
  }
}

function checkedUserName(userName: string): string {
  try {
    return normalizeUserName(userName);
  } catch {
    throw scimInvalidValue('userName must be 1 to 256 characters, without control characters or surrounding whitespace');
  }
}

function takenUserName(error: unknown, userName: string): unknown {
  if (error instanceof IdentityError && error.code === 'IDENTITY_PRINCIPAL_EXISTS') return scimUniqueness(`userName ${JSON.stringify(userName)} is already taken`);
  return error;
}

function takenDisplayName(displayName: string): IdentityError {
  return scimUniqueness(`displayName ${JSON.stringify(displayName)} is already taken by another group`);
}

function groupNotFound(id: string): IdentityError {
  return scimNotFound(`no Group has the id ${JSON.stringify(id.slice(0, 128))}`);
}

/** RFC 7644 §3.4.2.4: startIndex below 1 is 1, count below 0 is 0, count above the maximum is the maximum. */
function pageOf(query: ScimListQuery): { offset: number; limit: number; startIndex: number } {
  const startIndex = Math.max(1, integerParameter(query.startIndex, 'startIndex') ?? 1);
  const count = Math.min(MAX_PAGE_SIZE, Math.max(0, integerParameter(query.count, 'count') ?? MAX_PAGE_SIZE));
  return { offset: startIndex - 1, limit: count, startIndex };
}

function integerParameter(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!INTEGER.test(value)) throw scimInvalidValue(`${name} must be an integer`);
  return Number(value);
}

function listResponse(total: number, page: { startIndex: number }, resources: ScimResource[]): ScimListResponse {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, startIndex: page.startIndex, itemsPerPage: resources.length, Resources: resources };
}

/**
 * RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`, at the level of top-level attributes
 * (`name.givenName` keeps or drops all of `name`). `id` and `schemas` are always returned.
 */
function project(resource: ScimResource, query: ScimListQuery): ScimResource {
  const listed = (text: string | undefined) =>
    text === undefined ? undefined : new Set(text.split(',').map((a) => a.trim().replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '').split('.')[0]!.toLowerCase()).filter((a) => a !== ''));
  const keep = listed(query.attributes);
  const drop = listed(query.excludedAttributes);
  if (keep === undefined && drop === undefined) return resource;
  return Object.fromEntries(
    Object.entries(resource).filter(([key]) => {
      const lower = key.toLowerCase();
      if (lower === 'id' || lower === 'schemas') return true;
      if (keep !== undefined) return keep.has(lower);
      return !drop!.has(lower);
    }),
  );
}
