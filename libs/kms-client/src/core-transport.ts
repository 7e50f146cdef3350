import { request } from 'node:https';
import WebSocket from 'ws';
import type { KmsDiscovery, KmsTransport } from './kms-client.js';

/** A relayed batch the core could not deliver or answer (docs/narrow-api.md §4.1 step 5, §3.7). */
export interface CoreRelayFailure {
  /** The core's batchId, or undefined when POST /kms/messages itself was refused. */
  readonly batchId?: string;
  readonly status: number;
  /** KMS_UNAVAILABLE, KMS_BUSY, KMS_TIMEOUT, LINK_LOST, KMS_REFUSED, NO_EVENTS_SOCKET, … */
  readonly code: string;
  readonly message: string;
}

/** Thrown by {@link CoreKmsTransport.send} when the core refuses a batch at once (e.g. 503 KMS_UNAVAILABLE: no appliance connected). */
export class CoreRelayError extends Error {
  override readonly name = 'CoreRelayError';
  constructor(readonly failure: CoreRelayFailure) {
    super(`the core refused the KMS batch: ${failure.status} ${failure.code}: ${failure.message}`);
  }
}

export interface CoreKmsTransportOptions {
  /** https://<core host>[:port] */
  readonly url: string;
  /** PEM CA(s) for the core's TLS certificate (never the public roots alone: the core is a third party). */
  readonly ca: string | Buffer;
  /** The user's core token (`cst_…`, narrow-api §2.3): the core's own, worthless to the KMS. */
  readonly coreToken: () => string | Promise<string>;
}

/**
 * The KMS through the hosted core, as Webex does it (docs/narrow-api.md §4.1): one events
 * WebSocket per transport, batches posted with `POST /kms/messages` (202 + batchId), answers
 * delivered on the events socket as `kms.response`. The KMS client matches answers by requestId
 * after decrypting them and ignores everything else, so whatever the core puts there is harmless.
 *
 * A batch the core refuses at once (503 KMS_UNAVAILABLE when no appliance is connected) rejects
 * {@link send}; one that fails later arrives as `kms.failed` and goes to {@link onFailure}. Either
 * way the KMS client retries under a new requestId; nothing here retries by itself.
 */
export class CoreKmsTransport implements KmsTransport {
  private responses: ((messages: string[]) => void) | undefined;
  private readonly failureHandlers: ((failure: CoreRelayFailure) => void)[] = [];
  private readonly eventHandlers: ((event: Record<string, unknown>) => void)[] = [];
  private events: Promise<WebSocket> | undefined;
  private closed = false;

  constructor(private readonly options: CoreKmsTransportOptions) {}

  onResponses(handler: (messages: string[]) => void): void {
    this.responses = handler;
  }

  /** `kms.failed` events and batches refused by POST /kms/messages. */
  onFailure(handler: (failure: CoreRelayFailure) => void): void {
    this.failureHandlers.push(handler);
  }

  /** Every other event frame (`activity.created`, …), for callers that want them. */
  onEvent(handler: (event: Record<string, unknown>) => void): void {
    this.eventHandlers.push(handler);
  }

  /** Opens the events socket (also done by the first {@link send}); resolves on its `ready` frame. */
  async open(): Promise<void> {
    await this.eventsSocket();
  }

  async send(destination: string, messages: string[]): Promise<void> {
    // §4.1: the events socket must be open before the batch, or the core answers 409 NO_EVENTS_SOCKET.
    await this.eventsSocket();
    const reply = await this.call('POST', '/kms/messages', { destination, kmsMessages: messages });
    if (reply.status !== 202) {
      const failure = errorOf(reply);
      for (const handler of this.failureHandlers) handler(failure);
      throw new CoreRelayError(failure);
    }
  }

  /** GET /kms/{domain}: the static key as the core caches it. The KMS client validates it against its own roots. */
  async discovery(domain = 'kms.realm.test'): Promise<KmsDiscovery> {
    const reply = await this.call('GET', `/kms/${encodeURIComponent(domain)}`);
    if (reply.status !== 200) throw new CoreRelayError(errorOf(reply));
    return reply.body as KmsDiscovery;
  }

  close(): void {
    this.closed = true;
    void this.events?.then((ws) => ws.close(1000), () => undefined);
    this.events = undefined;
  }

  private eventsSocket(): Promise<WebSocket> {
    if (this.closed) return Promise.reject(new Error('the transport is closed'));
    this.events ??= this.connectEvents().catch((error: unknown) => {
      this.events = undefined;
      throw error;
    });
    return this.events;
  }

  private async connectEvents(): Promise<WebSocket> {
    const token = await this.options.coreToken();
    const ws = new WebSocket(`${this.options.url.replace(/^https:/, 'wss:')}/events`, { ca: this.options.ca, headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      let ready = false;
      ws.on('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        reject(new Error(`the core refused the events socket: HTTP ${res.statusCode}`));
      });
      ws.on('error', (error) => {
        if (!ready) reject(error);
      });
      ws.on('close', () => {
        // The next send opens a new socket.
        if (this.events && ready) this.events = undefined;
      });
      ws.on('message', (data) => {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          return;
        }
        if (event.type === 'ready' && !ready) {
          ready = true;
          resolve(ws);
        } else if (event.type === 'kms.response' && Array.isArray(event.kmsMessages)) {
          this.responses?.(event.kmsMessages.filter((m): m is string => typeof m === 'string'));
        } else if (event.type === 'kms.failed') {
          const failure = { batchId: String(event.batchId), status: Number(event.status), code: String(event.code), message: String(event.message) };
          for (const handler of this.failureHandlers) handler(failure);
        } else {
          for (const handler of this.eventHandlers) handler(event);
        }
      });
    });
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const token = await this.options.coreToken();
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.options.url}${path}`,
        { method, ca: this.options.ca, headers: { authorization: `Bearer ${token}`, ...(text !== undefined && { 'content-type': 'application/json' }) } },
        (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = data ? JSON.parse(data) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }
}

function errorOf(reply: { status: number; body: unknown }): CoreRelayFailure {
  const error = (reply.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return { status: reply.status, code: typeof error?.code === 'string' ? error.code : 'CORE_ERROR', message: typeof error?.message === 'string' ? error.message.slice(0, 300) : `HTTP ${reply.status}` };
}
