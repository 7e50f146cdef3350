import { randomUUID } from 'node:crypto';
import type { RealmConfig } from '@realm/config';
import { type Database, isUniqueViolation } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { KmsError } from '../kms.error.js';
import type { KmsAuthorizationRow, KmsKeyRow } from '../kms.entities.js';
import type { KmsUris } from '../protocol/kms-uris.js';
import type { KmsKeyRepository } from '../repositories/key.repository.js';
import type { KmsResourceRepository } from '../repositories/resource.repository.js';
import type { AuthorizationPolicy, KmsAction } from './authorization-policy.js';

/** Who asks: the authenticated principal, its client (device), and its roles. */
export interface KmsCaller {
  readonly principalId: string;
  readonly clientId: string;
  readonly roles: readonly string[];
  /** Compliance retrievals: the org-agent acts with the authorizations of this principal. */
  readonly onBehalfOf?: string;
}

/** A key as the protocol returns it (draft §3.1): the JWK carries the key material. */
export interface KeyRepresentation {
  uri: string;
  jwk: { kty: 'oct'; kid: string; k: string };
  userId: string;
  clientId: string;
  createDate: string;
  expirationDate: string;
  bindDate?: string;
  resourceUri?: string;
}

export interface AuthorizationRepresentation {
  uri: string;
  authId: string;
  resourceUri: string;
  createDate: string;
}

const MAX_AUTH_IDS = 1000;
const MAX_AUTH_ID_LENGTH = 256;

/**
 * The KMS domain: keys, resources (KROs) and authorizations, with the draft's rules — keys are
 * bound once and never rebound; an unbound key is visible to and bindable by its creator only
 * (the user, on the client that created it); creating a resource or a batch of authorizations is
 * all or nothing; whatever the caller may not see is reported exactly like what does not exist.
 */
export class KmsOperations {
  constructor(
    private readonly db: Database,
    private readonly vault: KeyVault,
    private readonly keys: KmsKeyRepository,
    private readonly resources: KmsResourceRepository,
    private readonly policy: AuthorizationPolicy,
    private readonly uris: KmsUris,
    private readonly config: RealmConfig['kms'],
    private readonly clock: () => number = Date.now,
  ) {}

  /** create /keys {count}: unbound keys owned by the caller. */
  async createUnboundKeys(caller: KmsCaller, count: unknown): Promise<KeyRepresentation[]> {
    if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > this.config.maxKeysPerRequest) {
      throw badRequest(`count must be an integer from 1 to ${this.config.maxKeysPerRequest}`);
    }
    const now = new Date(this.clock());
    const expirationDate = new Date(now.getTime() + this.config.unboundKeyLifetimeSeconds * 1000);
    const uris = Array.from({ length: count as number }, () => this.uris.of('keys', randomUUID()));
    const prepared = await this.vault.prepareKeys(uris);
    const rows: KmsKeyRow[] = uris.map((uri) => ({ uri, owner: caller.principalId, clientId: caller.clientId, resourceUri: null, createDate: now, expirationDate, bindDate: null }));
    await this.db.write(async (tx) => {
      await this.vault.store(prepared.sealed, tx);
      await this.keys.insert(rows, tx);
    });
    return rows.map((row, i) => representKey(row, prepared.keys[i]!));
  }

  /** retrieve /keys/<id>: the creator for an unbound key, a member of its KRO for a bound one. */
  async retrieveKey(caller: KmsCaller, uri: string): Promise<KeyRepresentation> {
    const [result] = await this.retrieveKeys([{ caller, uri }]);
    if (result instanceof KmsError) throw result;
    return result!;
  }

  /**
   * Many key retrievals at once, with the rules of {@link retrieveKey} for each: one query for the
   * key rows, one authorization decision per (subject, resource), one query for the key material.
   * Each result is the key or the error to answer.
   */
  async retrieveKeys(requests: readonly { caller: KmsCaller; uri: string }[]): Promise<(KeyRepresentation | KmsError)[]> {
    const rows = new Map((await this.keys.findMany([...new Set(requests.map((r) => r.uri))])).map((row) => [row.uri, row]));
    // Each distinct (subject, resource) is decided once, all together; then every request is
    // answered from the decisions, with no promise per request.
    const decisionKey = (caller: KmsCaller, resourceUri: string) => `${this.subjectOf(caller)}\n${resourceUri}`;
    const pending = new Map<string, { subject: string; resourceUri: string }>();
    for (const { caller, uri } of requests) {
      const resourceUri = rows.get(uri)?.resourceUri;
      if (resourceUri) pending.set(decisionKey(caller, resourceUri), { subject: this.subjectOf(caller), resourceUri });
    }
    const entries = [...pending];
    const verdicts = await Promise.all(entries.map(([, { subject, resourceUri }]) => this.policy.decide(subject, 'key.retrieve', resourceUri)));
    const decisions = new Map(entries.map(([key], i) => [key, verdicts[i]!.allowed]));
    const allowed = requests.map(({ caller, uri }) => {
      const row = rows.get(uri);
      if (!row) return undefined;
      // Unbound keys are the creator's own; nobody acts on their behalf (draft §6.2).
      if (row.resourceUri === null) return createdBy(row, caller) && caller.onBehalfOf === undefined ? row : undefined;
      return decisions.get(decisionKey(caller, row.resourceUri)) === true ? row : undefined;
    });
    const granted = allowed.filter((row) => row !== undefined);
    // Bound keys are never deleted or replaced: the vault may keep their sealed rows.
    const [bound, unbound] = await Promise.all([
      this.vault.getPermanentKeys([...new Set(granted.filter((row) => row.resourceUri !== null).map((row) => row.uri))]),
      this.vault.getKeys([...new Set(granted.filter((row) => row.resourceUri === null).map((row) => row.uri))]),
    ]);
    return allowed.map((row) => {
      if (!row) return notFound('key');
      const key = (row.resourceUri === null ? unbound : bound).get(row.uri);
      return key ? representKey(row, key) : new KmsError('KMS_INTERNAL', 'key material is missing');
    });
  }

  /** update /keys/<id> {resourceUri}: binds the caller's unbound key to a KRO the caller is authorized on. */
  async bindKey(caller: KmsCaller, uri: string, resourceUriField: unknown): Promise<KeyRepresentation> {
    this.refuseOnBehalfOf(caller);
    const resourceUri = this.uris.objectUri(resourceUriField, 'resources', 'resourceUri');
    const row = await this.keys.find(uri);
    if (!row || !createdBy(row, caller)) throw notFound('key');
    await this.requireAllowed(caller.principalId, 'key.bind', resourceUri, 'resource');
    if (row.resourceUri !== null) throw new KmsError('KMS_CONFLICT', 'the key is already bound: keys are bound once and never rebound');
    const now = new Date(this.clock());
    if (row.expirationDate.getTime() <= now.getTime()) throw new KmsError('KMS_CONFLICT', 'the unbound key expired and can no longer be bound');
    const expirationDate = new Date(now.getTime() + this.config.boundKeyLifetimeSeconds * 1000);
    const bound = await this.db.write((tx) => this.keys.bind(uri, caller, resourceUri, now, expirationDate, tx));
    if (!bound) throw new KmsError('KMS_CONFLICT', 'the key is already bound: keys are bound once and never rebound');
    return representKey({ ...row, resourceUri, bindDate: now, expirationDate }, await this.material(uri));
  }

  /** create /resources {authIds|userIds, keyUris}: a KRO, its authorizations and bound keys, atomically. */
  async createResource(caller: KmsCaller, body: Record<string, unknown>) {
    this.refuseOnBehalfOf(caller);
    const authIds = this.authIdsOf(body, false);
    const keyUris = this.keyUrisOf(body.keyUris);
    const now = new Date(this.clock());
    const resourceUri = this.uris.of('resources', randomUUID());
    await this.requireExistingKros(authIds);
    const members = [...new Set([caller.principalId, ...authIds])];
    const authorizations = members.map((authId): KmsAuthorizationRow => ({ uri: this.uris.of('authorizations', randomUUID()), resourceUri, authId, creator: caller.principalId, createDate: now }));
    const expirationDate = new Date(now.getTime() + this.config.boundKeyLifetimeSeconds * 1000);
    await this.db.write(async (tx) => {
      await this.resources.insertResource({ uri: resourceUri, creator: caller.principalId, createDate: now }, tx);
      await this.resources.insertAuthorizations(authorizations, tx);
      for (const keyUri of keyUris) {
        if (!(await this.keys.bind(keyUri, caller, resourceUri, now, expirationDate, tx))) {
          throw new KmsError('KMS_CONFLICT', `key ${keyUri} cannot be bound: it is not an unbound, unexpired key this client of the caller created`);
        }
      }
    });
    return { uri: resourceUri, authorizationUris: authorizations.map((a) => a.uri), keyUris };
  }

  /** retrieve /resources/<id>. */
  async retrieveResource(caller: KmsCaller, uri: string) {
    await this.requireAllowed(this.subjectOf(caller), 'resource.retrieve', uri, 'resource');
    const [authorizations, keys] = await Promise.all([this.resources.authorizationsOf(uri), this.keys.boundTo(uri, { count: this.config.maxKeysPerRequest })]);
    return { uri, authorizationUris: authorizations.map((a) => a.uri), keyUris: keys.map((k) => k.uri) };
  }

  /** retrieve /resources/<id>/keys {boundAfter, boundBefore, count}: newest first. */
  async retrieveResourceKeys(caller: KmsCaller, uri: string, body: Record<string, unknown>): Promise<KeyRepresentation[]> {
    await this.requireAllowed(this.subjectOf(caller), 'resource.keys', uri, 'resource');
    const count = body.count === undefined ? this.config.maxKeysPerRequest : body.count;
    if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > this.config.maxKeysPerRequest) {
      throw badRequest(`count must be an integer from 1 to ${this.config.maxKeysPerRequest}`);
    }
    const rows = await this.keys.boundTo(uri, {
      ...(body.boundAfter !== undefined && { boundAfter: dateField(body.boundAfter, 'boundAfter') }),
      ...(body.boundBefore !== undefined && { boundBefore: dateField(body.boundBefore, 'boundBefore') }),
      count: count as number,
    });
    const material = await this.vault.getPermanentKeys(rows.map((r) => r.uri));
    return rows.map((row) => representKey(row, material.get(row.uri)!));
  }

  /** create /authorizations {resourceUri, authIds|userIds}: all or nothing; existing ones are returned as they are. */
  async createAuthorizations(caller: KmsCaller, body: Record<string, unknown>): Promise<AuthorizationRepresentation[]> {
    this.refuseOnBehalfOf(caller);
    const resourceUri = this.uris.objectUri(body.resourceUri, 'resources', 'resourceUri');
    const authIds = [...new Set(this.authIdsOf(body, true))];
    await this.requireAllowed(caller.principalId, 'authorization.create', resourceUri, 'resource');
    await this.requireExistingKros(authIds);
    const now = new Date(this.clock());
    const write = async () =>
      this.db.write(async (tx) => {
        const existing = await this.resources.findByAuthIds(resourceUri, authIds, tx);
        const have = new Set(existing.map((a) => a.authId));
        const created = authIds.filter((id) => !have.has(id)).map((authId): KmsAuthorizationRow => ({ uri: this.uris.of('authorizations', randomUUID()), resourceUri, authId, creator: caller.principalId, createDate: now }));
        await this.resources.insertAuthorizations(created, tx);
        return [...existing, ...created];
      });
    let rows: KmsAuthorizationRow[];
    try {
      rows = await write();
    } catch (error) {
      // Another request authorized one of the same ids at the same moment: the second try sees it.
      if (!isUniqueViolation(error)) throw error;
      rows = await write();
    }
    const order = new Map(authIds.map((id, i) => [id, i]));
    return rows.sort((a, b) => order.get(a.authId)! - order.get(b.authId)!).map(representAuthorization);
  }

  /** retrieve /resources/<id>/authorizations[?authId=X]. */
  async listAuthorizations(caller: KmsCaller, resourceUri: string, authId?: string): Promise<AuthorizationRepresentation[]> {
    await this.requireAllowed(this.subjectOf(caller), 'authorization.list', resourceUri, 'resource');
    const rows = authId === undefined ? await this.resources.authorizationsOf(resourceUri) : await this.resources.findByAuthIds(resourceUri, [authId]);
    return rows.map(representAuthorization);
  }

  /**
   * delete /authorizations/<id>, delete /resources/<id>/authorizations?authId=X, or the bulk form
   * delete /authorizations {resourceUri, authIds}.
   */
  async deleteAuthorizations(caller: KmsCaller, target: { uri: string } | { resourceUri: string; authIds: string[] }): Promise<AuthorizationRepresentation[]> {
    this.refuseOnBehalfOf(caller);
    let rows: KmsAuthorizationRow[];
    if ('uri' in target) {
      const row = await this.resources.findAuthorization(target.uri);
      if (!row) throw notFound('authorization');
      await this.requireAllowed(caller.principalId, 'authorization.delete', row.resourceUri, 'authorization');
      rows = [row];
    } else {
      await this.requireAllowed(caller.principalId, 'authorization.delete', target.resourceUri, 'resource');
      rows = await this.resources.findByAuthIds(target.resourceUri, target.authIds);
    }
    await this.db.write((tx) => this.resources.deleteAuthorizations(rows.map((r) => r.uri), tx));
    return rows.map(representAuthorization);
  }

  /** The `authIds` (or Webex's `userIds`) of a request, validated. */
  authIdsOf(body: Record<string, unknown>, required: boolean): string[] {
    if (body.authIds !== undefined && body.userIds !== undefined) throw badRequest('give authIds or userIds, not both');
    const value = body.authIds ?? body.userIds;
    if (value === undefined) {
      if (required) throw badRequest('authIds must be a non-empty array of strings');
      return [];
    }
    if (!Array.isArray(value) || (required && value.length === 0) || value.length > MAX_AUTH_IDS) throw badRequest(`authIds must be an array of at most ${MAX_AUTH_IDS} strings`);
    return value.map((id) => {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_AUTH_ID_LENGTH) throw badRequest(`each authId must be a string of 1 to ${MAX_AUTH_ID_LENGTH} characters`);
      return id.startsWith('kms://') || id.startsWith('/resources/') ? this.uris.objectUri(id, 'resources', 'authId') : id;
    });
  }

  private keyUrisOf(value: unknown): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.length > this.config.maxKeysPerRequest) throw badRequest(`keyUris must be an array of at most ${this.config.maxKeysPerRequest} key URIs`);
    return [...new Set(value.map((uri, i) => this.uris.objectUri(uri, 'keys', `keyUris[${i}]`)))];
  }

  /** Authorizing one KRO by another needs the other KRO to exist. */
  private async requireExistingKros(authIds: string[]): Promise<void> {
    for (const id of authIds) {
      if (id.startsWith(`${this.uris.base}/resources/`) && !(await this.resources.findResource(id))) throw badRequest(`authId ${id} names a resource that does not exist`);
    }
  }

  private async requireAllowed(subject: string, action: KmsAction, resourceUri: string, what: string): Promise<void> {
    const decision = await this.policy.decide(subject, action, resourceUri);
    // Not authorized and not existing are the same answer: the response must not reveal which.
    if (!decision.allowed) throw notFound(what);
  }

  private subjectOf(caller: KmsCaller): string {
    return caller.onBehalfOf ?? caller.principalId;
  }

  private refuseOnBehalfOf(caller: KmsCaller): void {
    if (caller.onBehalfOf !== undefined) throw new KmsError('KMS_FORBIDDEN', 'onBehalfOf is allowed for retrievals only');
  }

  private async material(uri: string): Promise<Buffer> {
    const key = await this.vault.getKey(uri);
    if (!key) throw new KmsError('KMS_INTERNAL', 'key material is missing');
    return key;
  }
}

/**
 * Whether the caller created the key: its user, on the same client. The draft
 * (draft-abiggs-saag-key-management-service) gives an unbound key to the user who created it, and
 * says the client SHOULD match too: a client asks for unbound keys to encrypt its own next
 * messages, so another device of that user has no use for them, and should not be able to read or
 * bind them before they are bound. The clientId is the one the caller's channel was opened with.
 */
function createdBy(row: KmsKeyRow, caller: KmsCaller): boolean {
  return row.owner === caller.principalId && row.clientId === caller.clientId;
}

function representKey(row: KmsKeyRow, material: Buffer): KeyRepresentation {
  return {
    uri: row.uri,
    jwk: { kty: 'oct', kid: row.uri, k: material.toString('base64url') },
    userId: row.owner,
    clientId: row.clientId,
    createDate: isoDate(row.createDate),
    expirationDate: isoDate(row.expirationDate),
    ...(row.bindDate && { bindDate: isoDate(row.bindDate) }),
    ...(row.resourceUri && { resourceUri: row.resourceUri }),
  };
}

/**
 * `toISOString()` of dates met recently. Keys are created and bound by the batch, so the keys of
 * one retrieval batch share a few dates, and each formatting costs some 0.4 µs (three per key).
 * Bounded: full, it starts over.
 */
const isoDates = new Map<number, string>();
function isoDate(date: Date): string {
  const time = date.getTime();
  let iso = isoDates.get(time);
  if (iso === undefined) {
    iso = date.toISOString();
    if (isoDates.size >= 1024) isoDates.clear();
    isoDates.set(time, iso);
  }
  return iso;
}

function representAuthorization(row: KmsAuthorizationRow): AuthorizationRepresentation {
  return { uri: row.uri, authId: row.authId, resourceUri: row.resourceUri, createDate: row.createDate.toISOString() };
}

function dateField(value: unknown, field: string): Date {
  const date = typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw badRequest(`${field} must be an RFC 3339 date`);
  return date;
}

function notFound(what: string): KmsError {
  return new KmsError('KMS_NOT_FOUND', `no such ${what}, or not authorized`);
}

function badRequest(reason: string): KmsError {
  return new KmsError('KMS_BAD_REQUEST', reason);
}
