import { hostname } from 'node:os';
import { MASK, type RealmConfig } from '@realm/config';
import { pino } from 'pino';

/** The structured logger of the appliance: one JSON object per line. */
export type Logger = pino.Logger;

export interface CreateLoggerOptions {
  /** Where the JSON lines go; defaults to stdout. Tests pass a capture stream. */
  readonly destination?: pino.DestinationStream;
  /** The `service` field of every line; defaults to `realm`. */
  readonly name?: string;
}

/** Header names that carry credentials (RFC 9110 §11.6.2, RFC 6265), in both spellings they are logged with. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'Authorization', 'Cookie', 'Set-Cookie', 'X-Api-Key', 'X-API-Key'];
/** Field names whose values are secrets wherever they appear. */
const SECRET_FIELDS = ['pin', 'password', 'token', 'secret'];
/**
 * How many levels below the top a name is redacted at. Redact paths have no recursive wildcard, so
 * each depth is a path of its own: `password`, `*.password`, … `*.*.*.*.password` covers
 * `err.config.headers.authorization` and similar shapes client libraries put in errors.
 */
const REDACT_DEPTH = 4;

/** The redact paths of {@link createLogger}, exported so tests can show what is covered. */
export const REDACTED_PATHS: readonly string[] = [...CREDENTIAL_HEADERS, ...SECRET_FIELDS].flatMap((name) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`;
  return Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => ('.*'.repeat(depth) + key).replace(/^\./, ''));
});

/**
 * The process logger: JSON lines on stdout (or `destination`), at `log.level`, with the service name,
 * pid and hostname on every line and credentials redacted to `****` (the mask {@link Secret} prints).
 * Levels are written as labels (`"level":"warn"`) so operators can read and filter them without
 * pino's numeric table.
 */
export function createLogger(config: RealmConfig, options: CreateLoggerOptions = {}): Logger {
  const loggerOptions: pino.LoggerOptions = {
    level: config.log.level,
    base: { service: options.name ?? 'realm', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACTED_PATHS], censor: MASK },
  };
  return options.destination === undefined ? pino(loggerOptions) : pino(loggerOptions, options.destination);
}
