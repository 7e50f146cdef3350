import type { Request, Response } from 'express';
import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import { base64urlEncode, constantTimeEqual, hmacSha256, randomBytes, sha256 } from '@realm/crypto';
import type { Database } from '@realm/persistence';
import { type IdentityAuditContext, recordIdentityEvent } from '../identity-audit.js';
import { refused } from '../identity.error.js';
import type { PrincipalService } from '../principals/principal.service.js';
import { SessionRepository } from './session.repository.js';

/**
 * The session cookie. The `__Host-` prefix (RFC 6265bis §4.1.3.2) makes browsers accept it only
 * when Secure, Path=/ and without Domain: no sibling host or plain-HTTP page can set or shadow it.
 * The appliance is served over HTTPS only, so the prefix is always usable.
 */
export const SESSION_COOKIE = '__Host-realm_session';

/** 256 random bits, base64url: what the cookie carries. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const CSRF_LABEL = Buffer.from('realm appliance session csrf token v1', 'utf8');

export interface ApplianceSession {
  /** Never logged; the cookie carries it, the database only its SHA-256. */
  readonly id: string;
  readonly principalId: string;
  /** For state-changing requests of the appliance's pages; derived from the id, never stored. */
  readonly csrfToken: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
}

export interface SessionServiceOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
}

/**
 * Browser sessions of the appliance's own pages (OWASP Session Management Cheat Sheet): a new
 * random id at every login (no fixation), HttpOnly + Secure + SameSite=Lax cookie, idle and
 * absolute timeouts (identity.session.*), stored in the database so any node serves any request,
 * and ended as soon as the principal is disabled, deleted or changes roles (its credential epoch
 * moves). A CSRF token per session guards state-changing requests (compared in constant time).
 */
export class SessionService {
  private readonly repository: SessionRepository;
  private readonly clock: () => number;
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  private readonly origin: string;
  /** One lookup per request, however many guards and handlers ask. */
  private readonly resolved = new WeakMap<object, Promise<ApplianceSession | undefined>>();

  constructor(
    config: RealmConfig,
    db: Database,
    private readonly audit: AuditLog,
    private readonly principals: PrincipalService,
    options: SessionServiceOptions = {},
  ) {
    this.repository = new SessionRepository(db);
    this.clock = options.clock ?? Date.now;
    this.idleMs = config.identity.session.idleTimeoutSeconds * 1000;
    this.absoluteMs = config.identity.session.absoluteTimeoutSeconds * 1000;
    this.origin = new URL(config.identity.issuer).origin;
  }

  /** The live session of this request's cookie (idle and absolute timeouts applied, principal active), or undefined. */
  current(request: Request): Promise<ApplianceSession | undefined> {
    let session = this.resolved.get(request);
    if (!session) {
      session = this.lookup(request);
      this.resolved.set(request, session);
    }
    return session;
  }

  /** New session id at login (session fixation), Set-Cookie HttpOnly; Secure; SameSite=Lax; Path=/. */
  async start(principalId: string, request: Request, response: Response, context?: IdentityAuditContext): Promise<ApplianceSession> {
    const principal = await this.principals.find(principalId);
    if (!principal || principal.status !== 'active') throw refused('IDENTITY_PRINCIPAL_DISABLED', 'this account is disabled on the appliance', `principal is ${principal?.status ?? 'missing'}`);
    // Whatever session the browser had (another user's, or one planted by an attacker) ends here.
    const previous = sessionIdOf(request);
    if (previous !== undefined) await this.repository.delete(idHashOf(previous));

    const id = base64urlEncode(randomBytes(32));
    const now = new Date(this.clock());
    const idHash = idHashOf(id);
    await this.repository.insert(
      { idHash, principalId, credentialEpoch: principal.credentialEpoch, createdAt: now, lastSeenAt: now },
      new Date(now.getTime() - this.idleMs),
      new Date(now.getTime() - this.absoluteMs),
    );
    response.append('Set-Cookie', `${SESSION_COOKIE}=${id}; Path=/; Secure; HttpOnly; SameSite=Lax`);
    const session: ApplianceSession = { id, principalId, csrfToken: csrfTokenOf(id), createdAt: now, lastSeenAt: now };
    this.resolved.set(request, Promise.resolve(session));
    await recordIdentityEvent(this.audit, context, {
      action: 'identity.session.start',
      outcome: 'success',
      actor: { type: 'user', id: principalId },
      resources: [principalId],
      details: { session: sessionReference(idHash), idleTimeoutSeconds: this.idleMs / 1000, absoluteTimeoutSeconds: this.absoluteMs / 1000 },
    });
    return session;
  }

  /** Ends this request's session (if any) and clears the cookie. */
  async end(request: Request, response: Response, context?: IdentityAuditContext): Promise<void> {
    const id = sessionIdOf(request);
    response.append('Set-Cookie', `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`);
    this.resolved.set(request, Promise.resolve(undefined));
    if (id === undefined) return;
    const idHash = idHashOf(id);
    const row = await this.repository.find(idHash);
    if (!row) return;
    await this.repository.delete(idHash);
    await recordIdentityEvent(this.audit, context, {
      action: 'identity.session.end',
      outcome: 'success',
      actor: { type: 'user', id: row.principalId },
      resources: [row.principalId],
      details: { session: sessionReference(idHash), reason: 'logout' },
    });
  }

  /**
   * Refuses a state-changing request that does not carry the session's CSRF token (OWASP CSRF
   * Prevention: synchronizer token), or that a browser says comes from another origin (Fetch
   * §3.1 `Origin`, Fetch Metadata `Sec-Fetch-Site`). The token is compared in constant time.
   */
  checkCsrf(request: Request, session: ApplianceSession, submitted: unknown): void {
    const origin = request.headers.origin;
    // Fetch §3.2.5 (serializing a request origin): a form POST from a page served with
    // `Referrer-Policy: no-referrer`, as every appliance page is, carries `Origin: null` even
    // from this origin. Then the browser's own Sec-Fetch-Site (a forbidden header) says where it
    // came from; the token below is required either way.
    const opaqueFromHere = origin === 'null' && request.headers['sec-fetch-site'] === 'same-origin';
    if (origin !== undefined && origin !== this.origin && !opaqueFromHere) throw refused('IDENTITY_SESSION_CSRF', 'the request comes from another site', 'Origin mismatch');
    if (request.headers['sec-fetch-site'] === 'cross-site') throw refused('IDENTITY_SESSION_CSRF', 'the request comes from another site', 'Sec-Fetch-Site cross-site');
    const ok = typeof submitted === 'string' && submitted.length <= 128 && constantTimeEqual(Buffer.from(submitted, 'utf8'), Buffer.from(session.csrfToken, 'utf8'));
    if (!ok) throw refused('IDENTITY_SESSION_CSRF', 'the form is missing its CSRF token or it does not match the session; reload the page', 'CSRF token mismatch');
  }

  /** Ends every session of a principal (for example after an administrator disables it). */
  endAllOf(principalId: string): Promise<number> {
    return this.repository.deleteOfPrincipal(principalId);
  }

  private async lookup(request: Request): Promise<ApplianceSession | undefined> {
    const id = sessionIdOf(request);
    if (id === undefined) return undefined;
    const idHash = idHashOf(id);
    const row = await this.repository.find(idHash);
    if (!row) return undefined;
    const now = this.clock();
    const expired = now - row.lastSeenAt.getTime() >= this.idleMs || now - row.createdAt.getTime() >= this.absoluteMs;
    const principal = expired ? undefined : await this.principals.find(row.principalId);
    if (!principal || principal.status !== 'active' || principal.credentialEpoch !== Number(row.credentialEpoch)) {
      await this.repository.delete(idHash);
      await recordIdentityEvent(this.audit, undefined, {
        action: 'identity.session.end',
        outcome: 'success',
        resources: [row.principalId],
        details: { session: sessionReference(idHash), reason: expired ? 'timeout' : 'principal changed' },
      });
      return undefined;
    }
    const lastSeenAt = new Date(now);
    if (lastSeenAt > row.lastSeenAt) await this.repository.touch(idHash, lastSeenAt);
    return { id, principalId: row.principalId, csrfToken: csrfTokenOf(id), createdAt: row.createdAt, lastSeenAt };
  }
}

/**
 * The session id of the request's Cookie header (RFC 6265 §5.4), or undefined when absent,
 * malformed, or present more than once (an attacker's cookie next to the real one).
 */
export function sessionIdOf(request: Pick<Request, 'headers'>): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  const values = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.startsWith(`${SESSION_COOKIE}=`))
    .map((pair) => pair.slice(SESSION_COOKIE.length + 1));
  if (values.length !== 1 || !SESSION_ID.test(values[0]!)) return undefined;
  return values[0];
}

function idHashOf(id: string): string {
  return sha256(Buffer.from(id, 'utf8')).toString('hex');
}

/** HMAC of a fixed label under the session id: unguessable without the id, and nothing to store. */
function csrfTokenOf(id: string): string {
  return base64urlEncode(hmacSha256(Buffer.from(id, 'ascii'), CSRF_LABEL));
}

/** A short, one-way reference to a session for the audit log (correlates start and end, opens nothing). */
function sessionReference(idHash: string): string {
  return sha256(Buffer.from(`audit:${idHash}`, 'utf8')).toString('hex').slice(0, 16);
}
