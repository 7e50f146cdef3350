import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { Catch, HttpException, NotFoundException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { isRealmError, type RealmError } from '@realm/errors';
import { pathOf } from '../http-types.js';
import type { Logger } from '../logging/logger.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../logging/request-logging.js';
import type { RealmErrorHttpStatus } from './http-error-status.js';

/** The body of every error response. */
export interface ErrorResponseBody {
  readonly error: {
    /** Stable and machine-readable: a {@link RealmError} code, or the status name (`NOT_FOUND`). */
    readonly code: string;
    readonly message: string;
    /** Also in the `X-Request-Id` header; the log lines of the request carry it as `requestId`. */
    readonly requestId: string;
    /** For a validation failure, one message per offending field. */
    readonly details?: readonly string[];
  };
}

interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: readonly string[];
}

export const VALIDATION_FAILED = 'VALIDATION_FAILED';
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MAX_DETAILS = 50;

/**
 * Turns every exception of an HTTP request into `{ error: { code, message, requestId } }` with the
 * `X-Request-Id` header.
 *
 * - {@link RealmError}: the status comes from the app's {@link RealmErrorHttpStatus}, the message is
 *   the error's own (written for operators, free of secrets by the RealmError discipline).
 * - Nest `HttpException`: its status, and a message known to be safe: the thrower's, the list of
 *   field messages of a validation failure, or the status text where the exception wraps a body
 *   parser or URL decoding error (a JSON parse error quotes the body it failed on).
 * - Anything else: 500 `internal error`.
 *
 * Every 5xx body is generic: the status name and text, whatever the exception. Stack traces,
 * causes and internal messages never reach the client; they are logged at error level with the
 * request id, so an operator can find them from what the client reports.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(
    private readonly statusOfRealmError: RealmErrorHttpStatus,
    private readonly logger: Logger,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      this.logger.error({ err: exception, context: host.getType() }, 'HttpErrorFilter received an exception outside an HTTP request');
      return;
    }
    this.respond(exception, host.switchToHttp().getRequest<IncomingMessage>(), host.switchToHttp().getResponse<ServerResponse>());
  }

  /** Answers `exception` on `res` (for routes served outside Nest's router, as {@link catch} does for Nest's). */
  respond(exception: unknown, req: IncomingMessage, res: ServerResponse): void {
    const requestId = requestIdOf(req) ?? randomUUID();
    const answer = this.answerFor(exception, req, requestId);

    if (answer.status >= 500) {
      this.logger.error({ requestId, status: answer.status, err: exception }, 'request failed');
    } else {
      // The request's access line already has the status; the code and message are detail.
      this.logger.debug({ requestId, status: answer.status, code: answer.code }, answer.message);
    }

    if (res.headersSent) {
      // Part of a response is out: ending it normally would pass a truncated body off as complete.
      res.destroy();
      return;
    }
    const body: ErrorResponseBody = {
      error: { code: answer.code, message: answer.message, requestId, ...(answer.details !== undefined && { details: answer.details }) },
    };
    const text = JSON.stringify(body);
    res.statusCode = answer.status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.end(text);
  }

  private answerFor(exception: unknown, req: IncomingMessage, requestId: string): ErrorAnswer {
    if (isRealmError(exception)) {
      const status = this.statusOf(exception, requestId);
      return status >= 500 ? serverError(status) : { status, code: exception.code, message: exception.message };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (!Number.isInteger(status) || status < 400 || status > 599) return serverError(500);
      return status >= 500 ? serverError(status) : clientError(exception, status, req);
    }
    return serverError(500);
  }

  private statusOf(error: RealmError, requestId: string): number {
    let status: number;
    try {
      status = this.statusOfRealmError(error);
    } catch (mappingError) {
      this.logger.error({ requestId, code: error.code, err: mappingError }, 'HTTP_ERROR_STATUS threw; answering 500');
      return 500;
    }
    if (Number.isInteger(status) && status >= 400 && status <= 599) return status;
    this.logger.error({ requestId, code: error.code, status }, 'HTTP_ERROR_STATUS returned a status outside 400-599; answering 500');
    return 500;
  }
}

function clientError(exception: HttpException, status: number, req: IncomingMessage): ErrorAnswer {
  const response = exception.getResponse();
  const fieldMessages = validationMessagesOf(response);
  if (fieldMessages !== undefined) {
    return { status, code: VALIDATION_FAILED, message: 'the request is not valid', details: fieldMessages };
  }
  const code = exception.errorCode !== undefined && ERROR_CODE.test(exception.errorCode) ? exception.errorCode : statusName(status);

  const adapterMessage = adapterErrorMessage(exception.cause);
  if (adapterMessage !== undefined) return { status, code, message: adapterMessage };
  // Nest's router answers unknown routes with "Cannot GET <url>", which includes the query string.
  if (exception instanceof NotFoundException && exception.message === `Cannot ${req.method} ${(req as { originalUrl?: string }).originalUrl ?? req.url}`) {
    return { status, code, message: `no route for ${req.method} ${pathOf(req)}` };
  }
  if (typeof response === 'string') return { status, code, message: response };
  if (isRecord(response) && typeof response['message'] === 'string' && !(response instanceof Error)) return { status, code, message: response['message'] };
  // An HttpException built from an Error keeps that error's message for the log only.
  return { status, code, message: statusText(status) };
}

/**
 * The message for an error raised before routing by Express's body parsers or URL decoding, which
 * the adapter wraps in an HttpException with the original as its cause; undefined for any other
 * cause. Their own messages are not used: a JSON parse error quotes the body.
 */
function adapterErrorMessage(cause: unknown): string | undefined {
  if (cause instanceof URIError) return 'the request URL is not well-formed';
  if (cause instanceof SyntaxError) return 'the request body is not well-formed';
  if (!isRecord(cause) || typeof cause['statusCode'] !== 'number' || typeof cause['expose'] !== 'boolean') return undefined;
  switch (cause['type']) {
    case 'entity.too.large':
      return 'the request body is larger than the limit';
    case 'entity.parse.failed':
      return 'the request body is not well-formed';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'the request body encoding is not supported';
    default:
      return statusText(cause['statusCode']);
  }
}

/** The field messages of a ValidationPipe failure (`{ message: string[] }`), or undefined. */
function validationMessagesOf(response: unknown): string[] | undefined {
  if (!isRecord(response)) return undefined;
  const messages = response['message'];
  if (!Array.isArray(messages) || !messages.every((m): m is string => typeof m === 'string')) return undefined;
  return messages.length > MAX_DETAILS ? [...messages.slice(0, MAX_DETAILS), `and ${messages.length - MAX_DETAILS} more`] : messages;
}

function serverError(status: number): ErrorAnswer {
  return status === 500 ? { status, code: 'INTERNAL_ERROR', message: 'internal error' } : { status, code: statusName(status), message: statusText(status) };
}

/** `Payload Too Large` → `PAYLOAD_TOO_LARGE`. */
function statusName(status: number): string {
  return (STATUS_CODES[status] ?? `HTTP ${status}`).toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

function statusText(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
