import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { type CoreSim, type CoreSimOptions, LINK_SUBPROTOCOL, startCoreSim } from '../src/index.js';
import { issueCertificate } from '../src/tls/x509-cert.js';
import type { ClientCert } from './test-certs.js';

/** Test-side clients of the simulator: HTTPS calls, a user's events socket, and a minimal appliance link. */

export const CLUSTER = 'kms://kms.realm.test';
export const CONTROL_TOKEN = 'test-control-token';

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'core-sim-test-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function startSim(options: Partial<CoreSimOptions> = {}): Promise<CoreSim> {
  return startCoreSim({ dataDir: tempDir(), kmsCluster: CLUSTER, controlToken: CONTROL_TOKEN, logLevel: 'silent', ...options });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One HTTPS call trusting only the simulator's certificate. */
export function call(
  sim: { url: string; caPem: string },
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; control?: boolean } = {},
): Promise<Reply> {
  const text = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      `${sim.url}${path}`,
      {
        method,
        ca: sim.caPem,
        headers: {
          ...(text !== undefined && { 'content-type': 'application/json' }),
          ...(options.token && { authorization: `Bearer ${options.token}` }),
          ...(options.control && { 'x-control-token': CONTROL_TOKEN }),
          ...options.headers,
        },
      },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data ? JSON.parse(data) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

export const control = (sim: CoreSim, method: string, path: string, body?: unknown) => call(sim, method, `/control${path}`, { control: true, ...(body !== undefined && { body }) });

export async function signIn(sim: CoreSim, userId: string, kind?: 'person' | 'org-bot'): Promise<string> {
  const reply = await call(sim, 'POST', '/users', { body: { userId, ...(kind && { kind }) } });
  if (reply.status !== 201 && reply.status !== 200) throw new Error(`sign-in ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.token as string;
}

/** Collects JSON frames; `next` waits for the first one (seen or future) matching and consumes it. */
class FrameQueue {
  readonly frames: any[] = [];
  private waiters: { match: (f: any) => boolean; resolve: (f: any) => void }[] = [];

  push(frame: any): void {
    const i = this.waiters.findIndex((w) => w.match(frame));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
    else this.frames.push(frame);
  }

  next(match: (f: any) => boolean = () => true, timeoutMs = 3000): Promise<any> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: any) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; unconsumed: ${JSON.stringify(this.frames).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if nothing matching arrives within `ms`. */
  async none(match: (f: any) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(match, ms);
      return false;
    } catch {
      return true;
    }
  }
}

export interface EventsClient {
  readonly ws: WebSocket;
  readonly queue: FrameQueue;
  /** The core's first frame. */
  readonly ready: any;
  close(): void;
}

export function openEvents(sim: CoreSim, token: string, query = ''): Promise<EventsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${sim.url.replace('https:', 'wss:')}/events${query}`, { ca: sim.caPem, headers: { authorization: `Bearer ${token}` } });
    const queue = new FrameQueue();
    ws.on('message', (data) => queue.push(JSON.parse(data.toString())));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`events refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
    // Ready once the core's first frame arrived: the socket is registered by then.
    queue.next((f) => f.type === 'ready').then((ready) => resolve({ ws, queue, ready, close: () => ws.close() }), reject);
  });
}

// ---- a minimal appliance link ------------------------------------------------------------------

/** A KMS answer the core cannot tell from a real one: a JWS-shaped string naming the message it answers. */
export function fakeAnswer(message: string): string {
  const digest = createHash('sha256').update(message).digest('hex').slice(0, 16);
  return `${Buffer.from('{"alg":"PS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ answers: digest })).toString('base64url')}.c2lnbmF0dXJl`;
}

export function answeredDigest(answer: string): string {
  return JSON.parse(Buffer.from(answer.split('.')[1]!, 'base64url').toString()).answers as string;
}

export const digest16 = (message: string): string => createHash('sha256').update(message).digest('hex').slice(0, 16);

let staticKey: { jwk: Record<string, unknown>; privateKey: import('node:crypto').KeyObject } | undefined;

/** The test KMS static key: RSA-2048 with a self-signed x5c naming the KMS domain. */
export function testStaticKey(): { jwk: Record<string, unknown>; privateKey: import('node:crypto').KeyObject } {
  if (!staticKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = issueCertificate({ commonName: 'kms.realm.test', publicKey, signingKey: privateKey, serverAuth: true, dnsNames: ['kms.realm.test'] });
    const { n, e } = publicKey.export({ format: 'jwk' });
    staticKey = { jwk: { kty: 'RSA', kid: `${CLUSTER}/static/test-1`, n, e, x5c: [pem.replace(/-----[^-]+-----|\s/g, '')] }, privateKey };
  }
  return staticKey;
}

export interface LinkOptions {
  cert?: ClientCert;
  nodeId?: string;
  kmsCluster?: string;
  maxInFlight?: number;
  /** Answer kms.request frames with fakeAnswer (default true); false leaves them to the test. */
  autoAnswer?: boolean;
  answerDelayMs?: number;
  answerPings?: boolean;
  protocols?: string[];
  hello?: boolean;
  /** Another URL than the simulator's link URL. */
  url?: string;
}

export interface TestLink {
  readonly ws: WebSocket;
  readonly queue: FrameQueue;
  /** Every kms.request this link received. */
  readonly requests: any[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The core's welcome (absent with hello: false). */
  welcome?: any;
  send(frame: unknown): void;
  close(): void;
}

export function connectLink(sim: CoreSim, options: LinkOptions): Promise<TestLink> {
  const { autoAnswer = true, answerPings = true, answerDelayMs = 0 } = options;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(options.url ?? sim.linkUrl, options.protocols ?? [LINK_SUBPROTOCOL], {
      ca: sim.caPem,
      ...(options.cert && { cert: options.cert.certPem, key: options.cert.keyPem }),
    });
    const queue = new FrameQueue();
    const requests: any[] = [];
    const send = (frame: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(frame));
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ping') {
        if (answerPings) send({ type: 'pong', nonce: frame.nonce });
        return;
      }
      if (frame.type === 'kms.discovery.request') return send({ type: 'kms.discovery.response', id: frame.id, kmsCluster: CLUSTER, rsaPublicKey: testStaticKey().jwk });
      if (frame.type === 'kms.request') {
        requests.push(frame);
        if (autoAnswer) {
          const answer = () => send({ type: 'kms.response', id: frame.id, kmsMessages: frame.kmsMessages.map(fakeAnswer) });
          if (answerDelayMs > 0) setTimeout(answer, answerDelayMs);
          else answer();
          return;
        }
      }
      queue.push(frame);
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`link refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
    });
    ws.on('error', reject);
    ws.on('open', () => {
      const link: TestLink = { ws, queue, requests, closed, send, close: () => ws.close(1000) };
      if (options.hello === false) return resolve(link);
      send({ type: 'hello', protocol: 1, nodeId: options.nodeId ?? 'node-1', kmsCluster: options.kmsCluster ?? CLUSTER, maxInFlight: options.maxInFlight ?? 16 });
      queue.next((f) => f.type === 'welcome').then((welcome) => ((link.welcome = welcome), resolve(link)), reject);
      closed.then((c) => reject(Object.assign(new Error(`link closed ${c.code} ${c.reason}`), c)));
    });
  });
}

/** Polls until `check` is true. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A compact JWE shaped like a KMS request (the core cannot tell it from a real one). */
export function fakeKmsMessage(label: string): string {
  const b = (s: string) => Buffer.from(s).toString('base64url');
  return [b('{"alg":"dir","enc":"A256GCM","kid":"kms://kms.realm.test/ecdhe/x"}'), '', b('iv-iv-iv-iv'), b(`ciphertext of ${label}`), b('tag-tag-tag-tag')].join('.');
}

/** A compact JWE shaped like Webex content (dir + A256GCM). */
export function fakeContent(label: string): string {
  const b = (s: string) => Buffer.from(s).toString('base64url');
  return [b('{"alg":"dir","enc":"A256GCM"}'), '', b('iv-iv-iv-iv'), b(`sealed ${label}`), b('tag-tag-tag-tag')].join('.');
}

export const KEY_1 = `${CLUSTER}/keys/11111111-1111-4111-8111-111111111111`;
export const KEY_2 = `${CLUSTER}/keys/22222222-2222-4222-8222-222222222222`;
export const KRO = `${CLUSTER}/resources/33333333-3333-4333-8333-333333333333`;
