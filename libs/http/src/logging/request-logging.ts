import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import { pathOf, type HttpMiddleware } from '../http-types.js';
import type { Logger } from './logger.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/**
 * What an incoming `X-Request-Id` may look like to be kept: short, and only characters that cannot
 * break a log line, a header or a shell when an operator pastes it.
 */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One log line per request, and a request id on every request.
 *
 * The id is the caller's `X-Request-Id` when it has the accepted shape (so a reverse proxy's id
 * follows the request), a random UUID otherwise. It is sent back in `X-Request-Id`, kept as
 * `req.id` (read it with {@link requestIdOf}), and bound as `requestId` on `req.log`, a child logger
 * handlers can use. The line has the method, the path without its query string (query strings may
 * carry credentials), the status and `durationMs`; it never has headers or
 * bodies. A failed request's exception is logged once, by the error filter, under the same id.
 *
 * Register it first, so requests rejected by later middleware are logged too.
 */
export function requestLogging(logger: Logger): HttpMiddleware {
  const accessFields = (req: IncomingMessage, res: ServerResponse, logged: { durationMs?: unknown }) => ({
    method: req.method,
    path: pathOf(req),
    status: res.statusCode,
    durationMs: logged.durationMs,
  });
  const httpLogger = pinoHttp({
    logger,
    // Bind only the id to req.log and the access line; the fields above are all the line needs.
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    wrapSerializers: false,
    serializers: { req: (req: IncomingMessage) => ({ method: req.method, path: pathOf(req) }) },
    customLogLevel: (_req, res, error) => (error !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, res, logged: { durationMs?: unknown }) => accessFields(req, res, logged),
    customErrorObject: (req, res, _error, logged: { durationMs?: unknown }) => accessFields(req, res, logged),
    customSuccessMessage: (_req, res) => (res.writableEnded ? 'request completed' : 'request aborted'),
    customErrorMessage: () => 'request failed',
  });
  return (req, res, next) => {
    const id = acceptedRequestId(req.headers['x-request-id']) ?? randomUUID();
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    httpLogger(req, res, next);
  };
}

/** The id {@link requestLogging} gave the request, or undefined before it ran. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  const id: unknown = req.id;
  return typeof id === 'string' ? id : undefined;
}

function acceptedRequestId(header: string | string[] | undefined): string | undefined {
  // Node joins repeated headers with ", ", which the pattern refuses: two ids mean neither is trusted.
  return typeof header === 'string' && ACCEPTED_REQUEST_ID.test(header) ? header : undefined;
}
