import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { refused } from '../identity.error.js';
import { type ApplianceSession, SessionService } from './session.service.js';

/** Methods that change nothing (RFC 9110 §9.2.1) need a session but no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The form field and header that carry the CSRF token. */
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const sessions = new WeakMap<object, ApplianceSession>();

/** The session {@link SessionGuard} admitted for this request. */
export function sessionOf(request: Request): ApplianceSession {
  const session = sessions.get(request);
  if (!session) throw new Error('sessionOf() needs SessionGuard on the route');
  return session;
}

/**
 * Admits a request of the appliance's pages only with a live session, and a POST, PUT, PATCH or
 * DELETE only with that session's CSRF token (form field `_csrf` or header `X-CSRF-Token`).
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(private readonly sessionService: SessionService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const session = await this.sessionService.current(request);
    if (!session) throw refused('IDENTITY_SESSION_REQUIRED', 'sign in first (GET /saml/login)', 'no live session');
    if (!SAFE_METHODS.has(request.method)) {
      const body = request.body as Record<string, unknown> | undefined;
      const submitted = body && typeof body === 'object' && CSRF_FIELD in body ? body[CSRF_FIELD] : request.headers[CSRF_HEADER];
      this.sessionService.checkCsrf(request, session, submitted);
    }
    sessions.set(request, session);
    return true;
  }
}
