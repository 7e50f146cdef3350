/**
 * Shared by the end-to-end suites that put the appliance behind the hosted core: the core
 * simulator as a separate process (apps/core-sim), calls to its client and test-control APIs, and
 * a poll for conditions that become true asynchronously (links coming back, failures arriving).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { onLines, repoRoot } from '@realm/testing';

export const CORE_SIM_MAIN = join(repoRoot, 'apps/core-sim/dist/src/main.js');

export interface CoreProcess {
  readonly url: string;
  readonly caPem: string;
  readonly linkUrl: string;
  readonly caFile: string;
  readonly child: ChildProcess;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts apps/core-sim as a process with `env` (and PATH only) and reads its `listening` line; every line of its output goes to `output`. */
export function startCoreProcess(env: Record<string, string>, output: string[]): Promise<CoreProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CORE_SIM_MAIN], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      output.push(c.toString());
    });
    onLines(child.stdout!, (line) => {
      output.push(line);
      const entry = JSON.parse(line) as Record<string, string>;
      if (entry.msg === 'listening') {
        resolve({ url: entry.url!, linkUrl: entry.linkUrl!, caFile: entry.caFile!, caPem: readFileSync(entry.caFile!, 'utf8'), child, stop: () => (child.kill('SIGTERM'), exited) });
      }
    });
    void exited.then((code) => reject(new Error(`core-sim exited with ${code}: ${stderr}`)));
  });
}

/** One HTTPS call to the core, trusting only its certificate; the body is parsed as JSON when there is one. */
export function coreCall(core: { url: string; caPem: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${core.url}${path}`, { method, ca: core.caPem, headers: { ...(text !== undefined && { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Polls `check` every 50 ms until it returns a value other than undefined or false; fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
