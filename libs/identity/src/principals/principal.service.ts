import { randomUUID } from 'node:crypto';
import type { AuditLog } from '@realm/audit';
import { type Database, isUniqueViolation, type Tx } from '@realm/persistence';
import type { PrincipalKind, PrincipalRow, PrincipalStatus } from '../identity.entities.js';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { IdentityError, invalidArgument } from '../identity.error.js';
import {
  checkServiceName,
  normalizeEmail,
  normalizeRoles,
  normalizeUserName,
  type Principal,
  type PrincipalRole,
  sameRoles,
  servicePrincipalId,
  userPrincipalId,
} from './principal.js';
import { PrincipalRepository } from './principal.repository.js';

export interface UserInput {
  readonly userName: string;
  readonly email?: string | null;
  /** Default for a new user: `['user']`. */
  readonly roles?: readonly PrincipalRole[];
}

export interface PrincipalServiceOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
}

type Change = { readonly principal: Principal; readonly changed: boolean };

/**
 * Users and services. Every change is audited as `identity.principal.<verb>` after it commits.
 *
 * Disabling, deleting and changing roles bump the principal's credential epoch; access tokens
 * carry the epoch they were issued under, so each of those changes revokes every outstanding token
 * of the principal on its very next use. Deletion is final and keeps the row (ids in audit records
 * and KMS authorizations keep their meaning): a deleted user's name can go to a new user, who gets a
 * new id; a deleted service's name cannot be reused, because a service's id is its name.
 */
export class PrincipalService {
  private readonly repository: PrincipalRepository;
  private readonly clock: () => number;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    options: PrincipalServiceOptions = {},
  ) {
    this.repository = new PrincipalRepository(db);
    this.clock = options.clock ?? Date.now;
  }

  /** The principal, or undefined. Read from the database on every call: no cache to go stale. */
  async find(id: string): Promise<Principal | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) return undefined;
    const row = await this.repository.find(id);
    return row ? toPrincipal(row) : undefined;
  }

  async get(id: string): Promise<Principal> {
    const principal = await this.find(id);
    if (!principal) throw notFound();
    return principal;
  }

  /** The live (not deleted) user with that userName, compared case-insensitively. */
  async findUserByName(userName: string): Promise<Principal | undefined> {
    const row = await this.repository.findLiveByName('user', normalizeUserName(userName));
    return row ? toPrincipal(row) : undefined;
  }

  /** Live users, oldest first, one page of them, and how many there are in all (SCIM listing). */
  async listUsers(page: { offset: number; limit: number }): Promise<{ total: number; principals: Principal[] }> {
    const [total, rows] = await Promise.all([this.repository.countLiveUsers(), page.limit > 0 ? this.repository.listLiveUsers(page.offset, page.limit) : []]);
    return { total, principals: rows.map(toPrincipal) };
  }

  /** The principals among `ids` that exist, in any state. */
  async findMany(ids: readonly string[]): Promise<Principal[]> {
    return (await this.repository.findMany(ids)).map(toPrincipal);
  }

  /**
   * Renames a user and/or changes its email (SCIM replace and patch). Neither touches the
   * credential epoch: tokens name the principal by id. IDENTITY_PRINCIPAL_EXISTS when another live
   * user has the new userName.
   */
  async updateUser(id: string, input: { userName?: string; email?: string | null }, context?: IdentityAuditContext): Promise<Principal> {
    const name = input.userName === undefined ? undefined : normalizeUserName(input.userName);
    const email = input.email === undefined ? undefined : normalizeEmail(input.email);
    let change: Change | 'deleted';
    try {
      change = await this.change(id, (row) => {
        if (row.kind !== 'user') throw invalidArgument(`${id} is not a user`);
        return { ...(name !== undefined && name !== row.name && { name }), ...(email !== undefined && email !== row.email && { email }) };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new IdentityError('IDENTITY_PRINCIPAL_EXISTS', `a user named ${JSON.stringify(name)} already exists`);
      throw error;
    }
    if (change === 'deleted') throw deleted();
    return this.auditedChange('update', change, context);
  }

  async findServiceByName(name: string): Promise<Principal | undefined> {
    const row = await this.repository.find(servicePrincipalId(checkServiceName(name)));
    return row ? toPrincipal(row) : undefined;
  }

  /** Creates a user; IDENTITY_PRINCIPAL_EXISTS when a live user has that userName. */
  async createUser(input: UserInput, context?: IdentityAuditContext): Promise<Principal> {
    const row = this.newRow('user', userPrincipalId(randomUUID()), normalizeUserName(input.userName), normalizeEmail(input.email), normalizeRoles(input.roles ?? ['user']));
    await this.insertOrExplain(row);
    return this.audited('create', toPrincipal(row), context);
  }

  /**
   * Creates the user, or updates the live user with that userName: email when given, roles when
   * given (a role change bumps the credential epoch). The status is left alone: provisioning
   * (SAML, SCIM) must not re-enable a user an administrator disabled.
   */
  async upsertUser(input: UserInput, context?: IdentityAuditContext): Promise<{ principal: Principal; created: boolean }> {
    const name = normalizeUserName(input.userName);
    const email = input.email === undefined ? undefined : normalizeEmail(input.email);
    const roles = input.roles === undefined ? undefined : normalizeRoles(input.roles);
    // A race with another node (same user created, or the user deleted) is retried a few times.
    for (let attempt = 1; ; attempt++) {
      const existing = await this.repository.findLiveByName('user', name);
      if (existing) {
        const change = await this.change(existing.id, (row) => ({
          ...(email !== undefined && email !== row.email && { email }),
          ...(roles !== undefined && !sameRoles(roles, row.roles) && { roles, credentialEpoch: row.credentialEpoch + 1 }),
        }));
        // The user was deleted between the lookup and the lock: create a new one instead.
        if (change === 'deleted' && attempt < 3) continue;
        if (change === 'deleted') throw deleted();
        return { principal: await this.auditedChange('update', change, context), created: false };
      }
      const row = this.newRow('user', userPrincipalId(randomUUID()), name, email ?? null, roles ?? ['user']);
      try {
        await this.db.write((tx) => this.repository.insert(row, tx));
      } catch (error) {
        // Another node created the same user at the same moment: update theirs.
        if (isUniqueViolation(error) && attempt < 3) continue;
        throw error;
      }
      return { principal: await this.audited('create', toPrincipal(row), context), created: true };
    }
  }

  /** Creates a service principal `service:<name>`; IDENTITY_PRINCIPAL_EXISTS when it exists (in any state). */
  async createService(name: string, options: { roles?: readonly PrincipalRole[] } = {}, context?: IdentityAuditContext): Promise<Principal> {
    const serviceName = checkServiceName(name);
    const row = this.newRow('service', servicePrincipalId(serviceName), serviceName, null, normalizeRoles(options.roles ?? ['service']));
    await this.insertOrExplain(row);
    return this.audited('create', toPrincipal(row), context);
  }

  /** The service principal, created with the `service` role when missing. It may be disabled or deleted: callers check. */
  async ensureService(name: string, context?: IdentityAuditContext): Promise<Principal> {
    const existing = await this.findServiceByName(name);
    if (existing) return existing;
    try {
      return await this.createService(name, {}, context);
    } catch (error) {
      if (error instanceof IdentityError && error.code === 'IDENTITY_PRINCIPAL_EXISTS') return this.get(servicePrincipalId(name));
      throw error;
    }
  }

  /** Stops the principal from obtaining or using any credential, from its next request on. */
  disable(id: string, context?: IdentityAuditContext): Promise<Principal> {
    return this.transition(id, 'disable', 'disabled', context);
  }

  /** Lets a disabled principal obtain credentials again. Tokens issued before it was disabled stay dead. */
  enable(id: string, context?: IdentityAuditContext): Promise<Principal> {
    return this.transition(id, 'enable', 'active', context);
  }

  /** Final: the principal can never authenticate again; its id is never reused. */
  async delete(id: string, context?: IdentityAuditContext): Promise<Principal> {
    return this.transition(id, 'delete', 'deleted', context);
  }

  /**
   * Revokes every outstanding access token of the principal on its next use, on every node, by
   * bumping its credential epoch (e.g. after one of its authorization codes or refresh tokens was
   * replayed: RFC 6749 §4.1.2, RFC 9700 §4.14.2). Audited as `identity.principal.revoke-tokens`.
   */
  async revokeTokens(id: string, context?: IdentityAuditContext): Promise<Principal> {
    const change = await this.change(id, (row) => ({ credentialEpoch: row.credentialEpoch + 1 }));
    if (change === 'deleted') throw deleted();
    return this.auditedChange('revoke-tokens', change, context);
  }

  /** Replaces the principal's roles; outstanding tokens are revoked when the set changes. */
  async setRoles(id: string, roles: readonly PrincipalRole[], context?: IdentityAuditContext): Promise<Principal> {
    const wanted = normalizeRoles(roles);
    const change = await this.change(id, (row) => (sameRoles(wanted, row.roles) ? {} : { roles: wanted, credentialEpoch: row.credentialEpoch + 1 }));
    if (change === 'deleted') throw deleted();
    return this.auditedChange('roles', change, context);
  }

  private async transition(id: string, verb: 'disable' | 'enable' | 'delete', status: PrincipalStatus, context?: IdentityAuditContext): Promise<Principal> {
    const change = await this.change(
      id,
      (row) => {
        if (row.status === status) return {};
        // Leaving `active` revokes every token; returning to it does not resurrect them.
        return status === 'active' ? { status } : { status, credentialEpoch: row.credentialEpoch + 1 };
      },
      verb === 'delete',
    );
    if (change === 'deleted') throw deleted();
    return this.auditedChange(verb, change, context);
  }

  /**
   * Applies `patch` to the locked row in one transaction. Returns `deleted` for a deleted principal
   * (unless `onDeleted` allows touching it, for an idempotent delete).
   */
  private async change(id: string, patch: (row: PrincipalRow) => Partial<PrincipalRow>, onDeleted = false): Promise<Change | 'deleted'> {
    return this.db.write(async (tx: Tx) => {
      const row = await this.repository.lock(id, tx);
      if (!row) throw notFound();
      if (row.status === 'deleted') return onDeleted ? { principal: toPrincipal(row), changed: false } : 'deleted';
      const fields = patch(row);
      if (Object.keys(fields).length === 0) return { principal: toPrincipal(row), changed: false };
      const updated: PrincipalRow = { ...row, ...fields, updatedAt: new Date(this.clock()) };
      await this.repository.update(updated, tx);
      return { principal: toPrincipal(updated), changed: true };
    });
  }

  private newRow(kind: PrincipalKind, id: string, name: string, email: string | null, roles: PrincipalRole[]): PrincipalRow {
    const now = new Date(this.clock());
    return { id, kind, name, email, status: 'active', roles, credentialEpoch: 0, createdAt: now, updatedAt: now };
  }

  private async insertOrExplain(row: PrincipalRow): Promise<void> {
    try {
      await this.db.write((tx) => this.repository.insert(row, tx));
    } catch (error) {
      if (isUniqueViolation(error)) throw new IdentityError('IDENTITY_PRINCIPAL_EXISTS', `a ${row.kind} named ${JSON.stringify(row.name)} already exists`);
      throw error;
    }
  }

  /** Audits a change that happened; a no-op changes nothing and writes nothing. */
  private async auditedChange(verb: string, change: Change, context?: IdentityAuditContext): Promise<Principal> {
    return change.changed ? this.audited(verb, change.principal, context) : change.principal;
  }

  private async audited(verb: string, principal: Principal, context?: IdentityAuditContext): Promise<Principal> {
    await recordIdentityEvent(this.audit, context, {
      action: `identity.principal.${verb}`,
      outcome: 'success',
      resources: [principal.id],
      details: { kind: principal.kind, name: principal.name, status: principal.status, roles: [...principal.roles], credentialEpoch: principal.credentialEpoch },
    });
    return principal;
  }
}

export function toPrincipal(row: PrincipalRow): Principal {
  return Object.freeze({
    id: row.id,
    kind: row.kind,
    name: row.name,
    email: row.email,
    status: row.status,
    roles: Object.freeze([...(row.roles as PrincipalRole[])]),
    credentialEpoch: Number(row.credentialEpoch),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  });
}

function notFound(): IdentityError {
  return new IdentityError('IDENTITY_PRINCIPAL_NOT_FOUND', 'no such principal');
}

function deleted(): IdentityError {
  return new IdentityError('IDENTITY_PRINCIPAL_DELETED', 'the principal was deleted; deletion is final');
}
