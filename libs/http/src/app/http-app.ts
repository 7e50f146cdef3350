import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ValidationPipe, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory, type IEntryNestModule } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import type { RealmConfig } from '@realm/config';
import helmet from 'helmet';
import { HTTP_ERROR_STATUS, type RealmErrorHttpStatus } from '../errors/http-error-status.js';
import { HttpErrorFilter } from '../errors/http-error.filter.js';
import type { HttpMiddleware } from '../http-types.js';
import type { Logger } from '../logging/logger.js';
import { NestPinoLogger } from '../logging/nest-pino-logger.js';
import { requestLogging } from '../logging/request-logging.js';
import { httpMetrics, Metrics } from '../metrics/metrics.js';
import type { TlsMaterial } from '../tls/tls-material.js';

/**
 * Security headers for a JSON API that no browser should render, frame or cache:
 * - CSP `default-src 'none'` (W3C CSP3) and `frame-ancestors 'none'`: a response rendered as a
 *   document can load nothing and be embedded nowhere.
 * - HSTS (RFC 6797) for one year: the appliance is only ever served over HTTPS.
 * - `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` for
 *   clients that predate CSP, and helmet's other defaults.
 */
const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  strictTransportSecurity: { maxAge: 365 * 86_400, includeSubDomains: true },
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
});

/**
 * Responses carry keys, tokens and audit records: nothing may be stored by a cache on the way
 * (RFC 9111 §5.2.2.5). A handler that serves something cacheable overrides the header.
 */
const noStore: HttpMiddleware = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * Applies the HTTP platform to an Express-based Nest application, before `init()`/`listen()`:
 *
 * 1. request logging (request id, one line per request) and HTTP metrics, first, so that requests
 *    refused by anything after them are still logged and counted;
 * 2. security headers (helmet), `Cache-Control: no-store`, no `X-Powered-By`;
 * 3. JSON and URL-encoded body parsers limited to `http.bodyLimitBytes`: a larger body is a 413
 *    answered by the error filter like any other error;
 * 4. `trust proxy`: with `http.trustProxy`, the one reverse proxy in front of the appliance (one
 *    hop) is trusted for X-Forwarded-*, so a client cannot pick its own address by adding entries;
 * 5. a global ValidationPipe that strips nothing silently: unknown properties are refused;
 * 6. {@link HttpErrorFilter} with the app's {@link HTTP_ERROR_STATUS} mapping;
 * Signals are the entry point's to handle (see apps/realm main.ts): it closes the app, which runs
 * every shutdown hook, and exits 0, where Nest's own hooks would re-raise the signal.
 *
 * The app must import `MetricsModule` and provide `HTTP_ERROR_STATUS`, and be created with
 * `bodyParser: false` (as {@link createHttpsApp} does) so that these parsers, with the configured
 * limit, are the only ones.
 */
export function configureHttpApp<Server extends HttpServer | HttpsServer>(app: NestExpressApplication<Server>, config: RealmConfig, logger: Logger): void {
  const metrics = resolveRequired<Metrics>(app, Metrics, 'Metrics (import MetricsModule in the application module)');
  const errorStatus = resolveRequired<RealmErrorHttpStatus>(app, HTTP_ERROR_STATUS, 'HTTP_ERROR_STATUS (provide the RealmError to HTTP status mapping)');

  app.disable('x-powered-by');
  // Every answer is Cache-Control: no-store (noStore below), so an ETag is never used; Express would
  // hash each response body for it (a SHA-1 over 60 KB per KMS batch answer).
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy ? 1 : false);

  const middleware = [requestLogging(logger), httpMetrics(metrics), securityHeaders, noStore];
  for (const m of middleware) app.use(m);
  const bodyParsers = { json: { limit: config.http.bodyLimitBytes }, urlencoded: { limit: config.http.bodyLimitBytes, extended: false } };
  app.useBodyParser('json', bodyParsers.json);
  app.useBodyParser('urlencoded', bodyParsers.urlencoded);

  const validation = new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    // Types are converted by explicit @Type() only: implicit conversion turns "false" into true.
    transformOptions: { enableImplicitConversion: false },
    // Keep submitted values out of ValidationError objects, should anything ever log them.
    validationError: { target: false, value: false },
    maxErrorMessagesLength: 8_192,
  });
  const errors = new HttpErrorFilter(errorStatus, logger);
  app.useGlobalPipes(validation);
  app.useGlobalFilters(errors);
  platforms.set(app, { middleware, bodyParsers, validation, errors });
}

/** What {@link configureHttpApp} applied to an app, for routes served ahead of Express (direct-route.ts). */
export interface HttpPlatform {
  /** Request logging, metrics, security headers and no-store, in the order every request passes them. */
  readonly middleware: readonly HttpMiddleware[];
  /** The options of the app's body parsers (body-parser's `json` and `urlencoded`, as Express has them). */
  readonly bodyParsers: { readonly json: { readonly limit: number }; readonly urlencoded: { readonly limit: number; readonly extended: boolean } };
  readonly validation: ValidationPipe;
  readonly errors: HttpErrorFilter;
}

const platforms = new WeakMap<object, HttpPlatform>();

/** The platform configured on `app`; throws if {@link configureHttpApp} has not run on it. */
export function httpPlatformOf(app: object): HttpPlatform {
  const platform = platforms.get(app);
  if (!platform) throw new Error('the app has no HTTP platform: create it with createHttpsApp or configureHttpApp first');
  return platform;
}

/**
 * Creates the Nest application on Express over HTTPS with `tls`, logging through `logger`, and
 * applies {@link configureHttpApp}. The modules are instantiated but the application is not yet
 * listening: the caller decides when, with `app.listen(config.http.port, config.http.host)`.
 *
 * `abortOnError: false` makes a failing module surface as a rejected promise the caller can print
 * as one line, instead of Nest exiting the process itself.
 */
export async function createHttpsApp(
  module: IEntryNestModule,
  config: RealmConfig,
  logger: Logger,
  tls: Pick<TlsMaterial, 'key' | 'cert'>,
): Promise<NestExpressApplication<HttpsServer>> {
  // minVersion is explicit so that no --tls-min-v1.0 flag or OpenSSL configuration can lower it.
  // Nest's HttpsOptions type predates minVersion; the object goes to https.createServer as is.
  const httpsOptions: Pick<HttpsServerOptions, 'key' | 'cert' | 'minVersion'> = { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' };
  const app = await NestFactory.create<NestExpressApplication<HttpsServer>>(module, new ExpressAdapter(), {
    httpsOptions,
    logger: new NestPinoLogger(logger),
    bodyParser: false,
    abortOnError: false,
    // Keep-alive connections would otherwise hold app.close() (and a SIGTERM) open until they idle out.
    forceCloseConnections: true,
  });
  const server = app.getHttpServer();
  server.on('secureConnection', raiseWriteHighWaterMark);
  // Node's default of 5 s is shorter than the idle timeout of most load balancers and connection
  // pools (60 s is common), which do not read the Keep-Alive hint: one that sends on an idle
  // connection just as the server closes it gets a reset and no answer. Node's own agent closes a
  // second before the hint, unless its event loop is held up longer than that.
  server.keepAliveTimeout = config.http.keepAliveTimeoutSeconds * 1000;
  try {
    configureHttpApp(app, config, logger);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/**
 * Every response is written whole (`res.end`), so the server's buffering is the same whatever the
 * socket's high-water mark; the mark only decides `needDrain`, and with it a Node 20 defect.
 * Node's HTTP server pauses its parser when a request arrives on a keep-alive connection whose
 * previous response has not drained yet (`needDrain`), but on a TLS socket the cleartext already
 * decrypted still reaches the consumed parser, which then fails with HPE_PAUSED and resets the
 * connection with no answer. A KMS batch answer is tens of kilobytes, above the 16 KiB default,
 * so a client sending its next batch as soon as it has read an answer hit this under load. Node's
 * TLS server does not pass the `highWaterMark` server option to its sockets; this sets it on each.
 */
const WRITE_HIGH_WATER_MARK = 64 * 1024 * 1024;

function raiseWriteHighWaterMark(socket: TLSSocket): void {
  const state = (socket as unknown as { _writableState?: { highWaterMark: number } })._writableState;
  if (state && state.highWaterMark < WRITE_HIGH_WATER_MARK) state.highWaterMark = WRITE_HIGH_WATER_MARK;
}

function resolveRequired<T>(app: INestApplicationContext, token: Type<T> | symbol, what: string): T {
  try {
    return app.get<T>(token);
  } catch {
    throw new Error(`the HTTP platform needs ${what}`);
  }
}
