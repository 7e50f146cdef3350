import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { repoRoot } from './support.js';

export const APPLIANCE_MAIN = join(repoRoot, 'apps/realm/dist/src/main.js');
export const REALMCTL_MAIN = join(repoRoot, 'apps/realmctl/dist/src/main.js');

/** The environment of a child: PATH and SOFTHSM2_CONF from this process, then only `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...(process.env.SOFTHSM2_CONF && { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF }), REALM_LOG_LEVEL: 'info', ...env };
}

/** Calls `onLine` with each complete line a child writes to `stream`. */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) onLine(line);
  });
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a node script to completion. */
export function runNode(script: string, args: string[], env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function realmctl(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runNode(REALMCTL_MAIN, args, env);
}

export interface RunningAppliance {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Every JSON log line written so far. */
  readonly logs: Record<string, unknown>[];
  /**
   * The first log line that `matches`, waiting for it: a line reaches the log a moment after the
   * response it describes (pino-http writes it when the response closes), so read it this way.
   * Rejects after `timeoutMs`, naming `what`.
   */
  untilLogged(what: string, matches: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly stderr: () => string;
  /** GET over HTTPS, trusting only the appliance's development certificate. */
  get(path: string, headers?: Record<string, string>): Promise<HttpsResponse>;
  /** SIGTERM, then how the process ended: its exit code, or the signal that killed it. */
  stop(): Promise<number | string | null>;
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * Starts the appliance (the built apps/realm) with `env` on a free port and resolves once it
 * logs that it is listening; rejects with its stderr if it exits first.
 */
export function startAppliance(env: Record<string, string>, caFile?: string, nodeArgs: readonly string[] = []): Promise<RunningAppliance> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, APPLIANCE_MAIN], { env: childEnv({ REALM_HTTP_PORT: '0', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: Record<string, unknown>[] = [];
    const logWaiters = new Set<(entry: Record<string, unknown>) => void>();
    let stderr = '';
    let started = false;
    const exited = new Promise<number | string | null>((done) => child.on('exit', (code, signal) => done(code ?? signal)));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    onLines(child.stdout, (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { unparsable: line };
      }
      logs.push(entry);
      for (const waiter of logWaiters) waiter(entry);
      if (!started && entry.msg === 'security realm listening') {
        started = true;
        const port = entry.port as number;
        const url = `https://127.0.0.1:${port}`;
        const ca = readFileSync(caFile ?? join(env.REALM_DATA_DIR!, 'tls', 'dev-cert.pem'));
        resolve({
          url,
          port,
          child,
          logs,
          stderr: () => stderr,
          untilLogged: (what, matches, timeoutMs = 10_000) =>
            new Promise((found, fail) => {
              const seen = logs.find(matches);
              if (seen) return found(seen);
              const timer = setTimeout(() => {
                logWaiters.delete(waiter);
                fail(new Error(`no log line ${what} within ${timeoutMs} ms`));
              }, timeoutMs);
              const waiter = (entry: Record<string, unknown>) => {
                if (!matches(entry)) return;
                clearTimeout(timer);
                logWaiters.delete(waiter);
                found(entry);
              };
              logWaiters.add(waiter);
            }),
          get: (path, headers = {}) => httpsGet(`${url}${path}`, ca, headers),
          async stop() {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      if (!started) reject(new Error(`the appliance exited with ${code} before listening: ${stderr.trim()}`));
    });
  });
}

export function httpsGet(url: string, ca: Buffer | string, headers: Record<string, string> = {}): Promise<HttpsResponse> {
  return httpsRequest('GET', url, ca, undefined, headers);
}

/** One HTTPS request trusting only `ca`; `body` is sent as is (JSON text, or anything hostile). */
export function httpsRequest(method: string, url: string, ca: Buffer | string, body?: string, headers: Record<string, string> = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
