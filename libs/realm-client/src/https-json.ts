import { request } from 'node:https';
import { RealmClientError } from './realm-client.error.js';

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Largest answer body read (the core's own body limit is 8 MiB). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * One HTTPS request that trusts only `ca` (never the public roots: the development core and
 * appliance have their own certificates, and a client pinned to them is the stricter default).
 */
export function httpsCall(method: string, url: string, ca: string | Buffer | readonly (string | Buffer)[], options: { body?: string; contentType?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const req = request(url, { method, ca: Array.isArray(ca) ? [...(ca as readonly (string | Buffer)[])] : (ca as string | Buffer), headers, agent: false, minVersion: 'TLSv1.2' }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', (error) => reject(new RealmClientError('REALM_CLIENT_UNREACHABLE', `${method} ${new URL(url).origin}${new URL(url).pathname}: ${error.message}`, undefined, undefined, { cause: error })));
    req.end(options.body);
  });
}

/** Parses a JSON object answer, or fails as REALM_CLIENT_UNREACHABLE naming the call (never echoing the body, which may hold a token). */
export function jsonObject(answer: HttpsAnswer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    throw new RealmClientError('REALM_CLIENT_UNREACHABLE', `${what}: the answer (HTTP ${answer.status}) is not JSON`, answer.status);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RealmClientError('REALM_CLIENT_UNREACHABLE', `${what}: the answer (HTTP ${answer.status}) is not a JSON object`, answer.status);
  return parsed as Record<string, unknown>;
}
