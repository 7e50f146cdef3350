/**
 * `@realm/http`: the HTTP platform shared by the appliance and later a core simulator. HTTPS with
 * the configured or a development certificate, JSON logging with request ids, Prometheus metrics,
 * one error body for every failure, health endpoints, and the bootstrap that puts them together.
 */
export { configureHttpApp, createHttpsApp } from './app/http-app.js';
export { type DirectJsonRoute, serveJsonPostDirectly } from './app/direct-route.js';
export { defaultHttpErrorStatus, HTTP_ERROR_STATUS, type RealmErrorHttpStatus } from './errors/http-error-status.js';
export { HttpErrorFilter, VALIDATION_FAILED, type ErrorResponseBody } from './errors/http-error.filter.js';
export {
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  HEALTH_INDICATORS,
  HealthChecks,
  HealthController,
  HealthModule,
  type HealthCheckResult,
  type HealthIndicator,
  type HealthModuleOptions,
  type ReadinessReport,
} from './health/health.js';
export type { HttpMiddleware } from './http-types.js';
export { createLogger, redactSecrets, SECRET_LOG_FIELDS, type CreateLoggerOptions, type Logger } from './logging/logger.js';
export { NestPinoLogger } from './logging/nest-pino-logger.js';
export { REQUEST_ID_HEADER, requestIdOf, requestLogging } from './logging/request-logging.js';
export { MetricsController } from './metrics/metrics.controller.js';
export { httpMetrics, METRIC_PREFIX, Metrics } from './metrics/metrics.js';
export { MetricsModule } from './metrics/metrics.module.js';
export { loadTlsMaterial, TlsMaterial } from './tls/tls-material.js';
