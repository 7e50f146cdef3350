import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, type LogLevel, type RealmConfig } from '@realm/config';
import { createLogger, type Logger } from '../src/index.js';

/** A complete configuration for tests; the HTTP settings can be overridden. */
export function testConfig(options: {
  dataDir: string;
  env?: RealmConfig['env'];
  tls?: RealmConfig['http']['tls'];
  bodyLimitBytes?: number;
  logLevel?: LogLevel;
}): RealmConfig {
  return {
    env: options.env ?? 'development',
    dataDir: options.dataDir,
    log: { level: options.logLevel ?? 'debug' },
    http: { host: '127.0.0.1', port: 0, tls: options.tls ?? {}, bodyLimitBytes: options.bodyLimitBytes ?? 1_048_576, trustProxy: false },
    database: { driver: 'sqlite', url: new Secret('sqlite::memory:'), sqlitePath: ':memory:', poolSize: 1 },
    vault: { backend: 'software', masterKeyLabel: 'realm-master', kekEpochSeconds: 2_592_000, kekCacheSize: 16 },
    audit: { checkpointEvery: 256, checkpointIntervalSeconds: 60 },
    kms: { domain: 'kms.realm.test' },
    sources: {},
  };
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
export async function eventually<T>(find: () => T | undefined, timeoutMs = 2_000): Promise<T> {
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
