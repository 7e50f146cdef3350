import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type CanActivate, type ExceptionFilter, type ExecutionContext, HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { AuditError, type AuditLog } from '@realm/audit';
import { isRealmError } from '@realm/errors';
import { PersistenceError } from '@realm/persistence';
import { recordIdentityEvent } from '../identity-audit.js';
import { IdentityError } from '../identity.error.js';
import { SCIM_ERROR_SCHEMA, type ScimErrorAnswer, scimAnswerOf } from './scim-errors.js';
import { SCIM_MEDIA_TYPE } from './scim-schemas.js';
import { type ScimClient, ScimTokenService, ScimUnauthorizedError } from './scim-token.service.js';

/** Injection token of the audit log SCIM records refusals in. */
export const SCIM_AUDIT = Symbol('SCIM_AUDIT');
/** Injection token of the largest body SCIM reads (http.bodyLimitBytes). */
export const SCIM_BODY_LIMIT = Symbol('SCIM_BODY_LIMIT');

export type ScimHttpRequest = IncomingMessage & { body?: unknown; _body?: boolean; id?: unknown; scimClient?: ScimClient; originalUrl?: string };

/** The request id the platform's request logging gave the request (X-Request-Id), if any. */
export function requestIdOf(req: ScimHttpRequest): string | undefined {
  return typeof req.id === 'string' ? req.id : undefined;
}

/**
 * Admits only requests bearing a SCIM token (RFC 6750 §2.1 Authorization: Bearer). A KMS access
 * token is refused here, as a SCIM token is refused by the KMS: neither parses as the other.
 */
@Injectable()
export class ScimBearerGuard implements CanActivate {
  constructor(@Inject(ScimTokenService) private readonly tokens: ScimTokenService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ScimHttpRequest>();
    req.scimClient = await this.tokens.authenticate(req.headers.authorization);
    return true;
  }
}

/**
 * Answers every failure under /scim/v2 in the SCIM error schema (RFC 7644 §3.12): `status` as a
 * string, `scimType` where the RFC defines one, `detail` naming the field. A 401 carries
 * `WWW-Authenticate: Bearer` (RFC 6750 §3), with `error="invalid_token"` when a credential was sent.
 * Each refusal (4xx) is audited as `identity.scim.refused` with its reason, never the credential;
 * server failures are logged with the request id and answered with a generic detail.
 */
@Injectable()
export class ScimErrorResponder {
  private readonly log = new Logger('Scim');

  constructor(@Inject(SCIM_AUDIT) private readonly audit: AuditLog) {}

  async respond(error: unknown, req: ScimHttpRequest, res: ServerResponse): Promise<void> {
    const requestId = requestIdOf(req);
    const answer = this.answerOf(error);
    if (answer.status >= 500) {
      this.log.error({ requestId, err: error, msg: 'SCIM request failed' });
    } else {
      await this.recordRefusal(error, answer, req, requestId);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ schemas: [SCIM_ERROR_SCHEMA], status: String(answer.status), ...(answer.scimType !== undefined && { scimType: answer.scimType }), detail: answer.detail });
    res.statusCode = answer.status;
    if (answer.status === 401) {
      res.setHeader('WWW-Authenticate', error instanceof ScimUnauthorizedError && error.credentialsPresent ? 'Bearer realm="scim", error="invalid_token"' : 'Bearer realm="scim"');
    }
    res.setHeader('Content-Type', `${SCIM_MEDIA_TYPE}; charset=utf-8`);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  }

  private answerOf(error: unknown): ScimErrorAnswer {
    if (error instanceof IdentityError) return scimAnswerOf(error.code, error.message) ?? serverError(500);
    if (error instanceof AuditError) return serverError(error.code === 'AUDIT_SIGNING_KEY_INVALID' ? 500 : 503);
    if (error instanceof PersistenceError) return serverError(error.code === 'DB_UNAVAILABLE' ? 503 : 500);
    if (isRealmError(error)) return serverError(500);
    if (error instanceof HttpException) return httpExceptionAnswer(error);
    const parser = bodyParserAnswer(error);
    return parser ?? serverError(500);
  }

  private async recordRefusal(error: unknown, answer: ScimErrorAnswer, req: ScimHttpRequest, requestId: string | undefined): Promise<void> {
    const reason = error instanceof ScimUnauthorizedError ? String((error.cause as Error).message) : `${answer.scimType ?? answer.status}: ${answer.detail}`.slice(0, 300);
    try {
      await recordIdentityEvent(
        this.audit,
        { actor: req.scimClient ? { type: 'system', id: `scim:${req.scimClient.tokenId}` } : { type: 'system', id: 'scim:unauthenticated' }, ...(requestId !== undefined && { requestId }) },
        { action: 'identity.scim.refused', outcome: 'denied', reason, details: { method: req.method ?? '', path: pathOf(req), status: answer.status } },
      );
    } catch (auditError) {
      // The refusal stands either way; a refusal that could not be audited is an operator's problem.
      this.log.error({ requestId, err: auditError, msg: 'could not audit a SCIM refusal' });
    }
  }
}

/** The filter of the SCIM controllers: hands every exception to {@link ScimErrorResponder}. */
@Catch()
@Injectable()
export class ScimExceptionFilter implements ExceptionFilter {
  constructor(@Inject(ScimErrorResponder) private readonly responder: ScimErrorResponder) {}

  catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    const http = host.switchToHttp();
    return this.responder.respond(exception, http.getRequest<ScimHttpRequest>(), http.getResponse<ServerResponse>());
  }
}

/**
 * Reads an `application/scim+json` body (RFC 7644 §3.1; the platform's parser reads only
 * application/json): at most `limit` bytes, strict UTF-8, JSON. Failures go to `next(error)`, where
 * the SCIM error handler answers them.
 */
export function scimBodyReader(limit: number) {
  return (req: ScimHttpRequest, _res: ServerResponse, next: (error?: unknown) => void): void => {
    if (!['POST', 'PUT', 'PATCH'].includes(req.method ?? '')) return next();
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // Checked even when the platform already parsed the body (application/x-www-form-urlencoded).
    if (type !== SCIM_MEDIA_TYPE && type !== 'application/json') {
      return next(new IdentityError('IDENTITY_SCIM_MEDIA_TYPE', `the body must be ${SCIM_MEDIA_TYPE} (or application/json)`));
    }
    // application/json: read by the platform's parser, with the same limit.
    if (req._body === true) return next();
    const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.headers['content-type'] ?? '')?.[2]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8') return next(new IdentityError('IDENTITY_SCIM_MEDIA_TYPE', 'the body must be UTF-8 (RFC 7644 §3.1; RFC 8259 §8.1)'));
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return tooLarge(req, limit, next);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        return tooLarge(req, limit, next);
      }
      chunks.push(chunk);
    });
    req.on('error', (error) => {
      if (done) return;
      done = true;
      next(error);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Buffer.concat(chunks));
      } catch {
        return next(new IdentityError('IDENTITY_SCIM_INVALID_SYNTAX', 'the request body is not UTF-8'));
      }
      try {
        req.body = JSON.parse(text) as unknown;
      } catch {
        return next(new IdentityError('IDENTITY_SCIM_INVALID_SYNTAX', 'the request body is not well-formed JSON'));
      }
      req._body = true;
      next();
    });
  };
}

function tooLarge(req: ScimHttpRequest, limit: number, next: (error?: unknown) => void): void {
  // Stop reading; the answer is sent and the connection closed by the error handler's response.
  req.pause();
  req.unpipe?.();
  next(new IdentityError('IDENTITY_SCIM_TOO_LARGE', `the request body is larger than ${limit} bytes (http.bodyLimitBytes)`));
}

function httpExceptionAnswer(error: HttpException): ScimErrorAnswer {
  const status = error.getStatus();
  if (!Number.isInteger(status) || status < 400 || status >= 500) return serverError(500);
  const response = error.getResponse();
  // ValidationPipe on the query parameters: one message per parameter, written by class-validator.
  const messages = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : undefined;
  if (Array.isArray(messages) && messages.every((m) => typeof m === 'string')) return { status, scimType: 'invalidValue', detail: messages.slice(0, 10).join('; ') };
  if (status === 404) return { status, detail: 'no such SCIM endpoint' };
  return { status, detail: typeof messages === 'string' ? messages : 'the request was refused' };
}

/** Failures of the platform's application/json parser (body-parser), which run before routing. */
function bodyParserAnswer(error: unknown): ScimErrorAnswer | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  switch ((error as { type?: unknown }).type) {
    case 'entity.too.large':
      return { status: 413, detail: 'the request body is larger than the limit (http.bodyLimitBytes)' };
    case 'entity.parse.failed':
      return { status: 400, scimType: 'invalidSyntax', detail: 'the request body is not well-formed JSON' };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, detail: 'the request body must be UTF-8' };
    default:
      return (error as { expose?: unknown; statusCode?: unknown }).expose === true && typeof (error as { statusCode?: unknown }).statusCode === 'number'
        ? { status: (error as { statusCode: number }).statusCode, detail: 'the request body could not be read' }
        : undefined;
  }
}

function serverError(status: 500 | 503): ScimErrorAnswer {
  return { status, detail: status === 503 ? 'the service is unavailable; retry later' : 'internal error' };
}

function pathOf(req: ScimHttpRequest): string {
  return (req.originalUrl ?? req.url ?? '').split('?')[0]!.slice(0, 200);
}
