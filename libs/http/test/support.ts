import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LogLevel, type RealmConfig } from '@realm/config';
import { createLogger, type Logger } from '../src/index.js';

/**
 * A configuration for tests, through the real schema; the HTTP settings can be overridden. `env`
 * relabels the result without the PKCS#11 settings production would also need: only the HTTP
 * layer, which reads `env` and `http`, is under test here.
 */
export function testConfig(options: {
  dataDir: string;
  env?: RealmConfig['env'];
  tls?: RealmConfig['http']['tls'];
  bodyLimitBytes?: number;
  keepAliveTimeout?: string;
  logLevel?: LogLevel;
}): RealmConfig {
  const env: Record<string, string> = {
    REALM_DATA_DIR: options.dataDir,
    REALM_HTTP_PORT: '0',
    REALM_LOG_LEVEL: options.logLevel ?? 'debug',
    REALM_DATABASE_URL: 'sqlite::memory:',
    ...(options.bodyLimitBytes !== undefined && { REALM_HTTP_BODY_LIMIT_BYTES: String(options.bodyLimitBytes) }),
    ...(options.keepAliveTimeout !== undefined && { REALM_HTTP_KEEP_ALIVE_TIMEOUT: options.keepAliveTimeout }),
    ...(options.tls?.certFile !== undefined && { REALM_HTTP_TLS_CERT_FILE: options.tls.certFile }),
    ...(options.tls?.keyFile !== undefined && { REALM_HTTP_TLS_KEY_FILE: options.tls.keyFile }),
  };
  return { ...loadConfig({ env }), env: options.env ?? 'development' };
}

export async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'realm-http-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export type LogRecord = Record<string, unknown>;

/** A logger writing into memory; `raw` keeps the exact lines to check nothing leaked. */
export function captureLogger(config: RealmConfig): { logger: Logger; records: () => LogRecord[]; raw: () => string } {
  const lines: string[] = [];
  const logger = createLogger(config, { destination: { write: (line: string) => void lines.push(line) }, name: 'realm-test' });
  return {
    logger,
    records: () => lines.map((line) => JSON.parse(line) as LogRecord),
    raw: () => lines.join(''),
  };
}

/** Polls until `find` returns a value (log lines are written when the response finishes). */
export async function eventually<T>(find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): unknown;
}

/** An HTTPS request that verifies the server against `ca`: certificate checks stay on. */
export function httpsRequest(
  port: number,
  ca: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, ca, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
