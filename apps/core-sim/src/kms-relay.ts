import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { applianceFrames } from './contract/schemas.js';
import { validate } from './contract/validate.js';
import type { Logger } from './logger.js';
import type { FrameRecorder } from './recorder.js';
import type { CoreStore } from './store.js';

/**
 * The core's side of the appliance link (docs/narrow-api.md §3): one WebSocket per appliance
 * node, authenticated by its TLS client certificate; KMS batches routed to the least-loaded node
 * with room under its in-flight limit; heartbeats; the KMS static key fetched and cached.
 */

export const LINK_SUBPROTOCOL = 'realm-core-link.v1';

/** Close codes (RFC 6455 §7.4.2: 4000-4999 are for applications). */
export const CloseCode = {
  GOING_AWAY: 1001,
  BAD_FRAME: 4400,
  WRONG_CLUSTER: 4403,
  TIMEOUT: 4408,
  REPLACED: 4409,
  CLOSED_BY_CONTROL: 4410,
} as const;

export interface RelayLimits {
  maxInFlightPerLink: number;
  maxBatch: number;
  maxMessageBytes: number;
  kmsTimeoutMs: number;
  queueLimit: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  helloTimeoutMs: number;
  discoveryRefreshMs: number;
}

export type RelayResult =
  | { readonly kmsMessages: string[] }
  | { readonly failure: { readonly status: number; readonly code: 'KMS_UNAVAILABLE' | 'KMS_TIMEOUT' | 'LINK_LOST' | 'KMS_REFUSED'; readonly message: string } };

export interface RelayBatch {
  readonly batchId: string;
  /** The user whose events socket gets the answer; absent for batches the core made itself. */
  readonly userId?: string;
  readonly kmsMessages: string[];
  readonly hostile?: string;
  /** Called exactly once, with the answers or the failure. */
  readonly done: (result: RelayResult) => void;
}

interface Pending {
  readonly batch: RelayBatch;
  readonly frameId: string;
  link?: Link;
  timer: NodeJS.Timeout;
}

export interface LinkInfo {
  linkId: string;
  nodeId: string;
  kmsCluster: string;
  maxInFlight: number;
  inFlight: number;
  dispatched: number;
  draining: boolean;
  connectedAt: string;
  peerCertificate: { subject: string; issuer: string; fingerprint256: string; subjectAltName?: string };
}

class Link {
  readonly linkId = randomUUID();
  nodeId = '';
  ready = false;
  draining = false;
  closed = false;
  maxInFlight = 1;
  maxBatch = 1;
  maxMessageBytes = 1;
  readonly inFlight = new Map<string, Pending>();
  dispatched = 0;
  lastDispatch = 0;
  readonly connectedAt = new Date().toISOString();
  pingNonce: string | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  heartbeat: NodeJS.Timeout | undefined;
  helloTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly peer: LinkInfo['peerCertificate'],
  ) {}

  load(): number {
    return this.inFlight.size / this.maxInFlight;
  }
}

export class KmsRelay {
  private readonly links = new Set<Link>();
  private readonly queue: Pending[] = [];
  private readonly discoveryWaiters: ((ok: boolean) => void)[] = [];
  private discoveryTimer: NodeJS.Timeout | undefined;
  private nextFrame = 1;

  constructor(
    private readonly kmsCluster: string,
    private readonly limits: RelayLimits,
    private readonly store: CoreStore,
    private readonly recorder: FrameRecorder,
    private readonly log: Logger,
  ) {
    this.discoveryTimer = setInterval(() => this.requestDiscovery(), limits.discoveryRefreshMs);
    this.discoveryTimer.unref();
  }

  get cluster(): string {
    return this.kmsCluster;
  }

  /** Links that finished their hello, including draining ones. */
  info(): LinkInfo[] {
    return [...this.links]
      .filter((l) => l.ready)
      .map((l) => ({
        linkId: l.linkId,
        nodeId: l.nodeId,
        kmsCluster: this.kmsCluster,
        maxInFlight: l.maxInFlight,
        inFlight: l.inFlight.size,
        dispatched: l.dispatched,
        draining: l.draining,
        connectedAt: l.connectedAt,
        peerCertificate: l.peer,
      }));
  }

  readyLinks(): number {
    return [...this.links].filter((l) => l.ready && !l.closed && !l.draining).length;
  }

  // ---- links ----

  /** A WebSocket whose TLS client certificate was already verified (server.ts checks it at the upgrade). */
  attach(ws: WebSocket, socket: TLSSocket): void {
    const cert = socket.getPeerCertificate();
    const link = new Link(ws, {
      subject: formatName(cert.subject),
      issuer: formatName(cert.issuer),
      fingerprint256: cert.fingerprint256,
      ...(cert.subjectaltname && { subjectAltName: cert.subjectaltname }),
    });
    this.links.add(link);
    link.helloTimer = setTimeout(() => this.drop(link, CloseCode.TIMEOUT, 'no hello within the hello timeout'), this.limits.helloTimeoutMs);
    ws.on('message', (data, isBinary) => this.onFrame(link, data.toString(), isBinary));
    ws.on('close', () => this.drop(link, undefined, 'closed by the appliance'));
    ws.on('error', () => this.drop(link, undefined, 'socket error'));
  }

  /** Closes links (control API, shutdown). */
  closeLinks(filter: { nodeId?: string }, mode: 'close' | 'terminate', code: number = CloseCode.CLOSED_BY_CONTROL): number {
    let n = 0;
    for (const link of [...this.links]) {
      if (filter.nodeId !== undefined && link.nodeId !== filter.nodeId) continue;
      n++;
      if (mode === 'terminate') {
        link.ws.terminate();
        this.drop(link, undefined, 'terminated');
      } else this.drop(link, code, code === CloseCode.GOING_AWAY ? 'core shutting down' : 'closed by control');
    }
    return n;
  }

  shutdown(): void {
    clearInterval(this.discoveryTimer);
    this.closeLinks({}, 'close', CloseCode.GOING_AWAY);
    for (const p of this.queue.splice(0)) this.fail(p, 503, 'KMS_UNAVAILABLE', 'the core is shutting down');
  }

  private send(link: Link, frame: Record<string, unknown>, extra: { batchId?: string; userId?: string; hostile?: string } = {}): void {
    if (link.closed || link.ws.readyState !== link.ws.OPEN) return;
    link.ws.send(JSON.stringify(frame));
    const kmsMessages = frame.kmsMessages as string[] | undefined;
    this.recorder.record({
      channel: 'link',
      direction: 'core→appliance',
      type: frame.type as string,
      linkId: link.linkId,
      nodeId: link.nodeId || undefined,
      frameId: (frame.id as string | undefined) ?? (frame.nonce as string | undefined),
      ...(kmsMessages && { kmsMessages }),
      ...(typeof frame.code === 'string' && { note: frame.code }),
      ...extra,
    } as Parameters<FrameRecorder['record']>[0]);
  }

  private sendError(link: Link, status: number, code: string, message: string, id?: string): void {
    this.send(link, { type: 'error', ...(id !== undefined && { id }), status, code, message });
  }

  private onFrame(link: Link, text: string, isBinary: boolean): void {
    if (link.closed) return;
    let frame: Record<string, unknown>;
    try {
      if (isBinary) throw new Error('binary');
      frame = JSON.parse(text) as Record<string, unknown>;
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new Error('not an object');
    } catch {
      return this.badFrame(link, '(frame): must be a JSON object in a text frame');
    }
    const type = frame.type;
    const schema = typeof type === 'string' ? applianceFrames[type] : undefined;
    const kmsMessages = Array.isArray(frame.kmsMessages) && frame.kmsMessages.every((m) => typeof m === 'string') ? (frame.kmsMessages as string[]) : undefined;
    this.recorder.record({
      channel: 'link',
      direction: 'appliance→core',
      type: typeof type === 'string' ? type.slice(0, 40) : '(invalid)',
      linkId: link.linkId,
      nodeId: link.nodeId || undefined,
      frameId: typeof frame.id === 'string' ? frame.id.slice(0, 128) : typeof frame.nonce === 'string' ? frame.nonce.slice(0, 128) : undefined,
      ...(kmsMessages && { kmsMessages }),
      ...(type === 'kms.response' && typeof frame.id === 'string' && batchMeta(link.inFlight.get(frame.id))),
    });
    if (!schema) return this.badFrame(link, `type: must be one of ${Object.keys(applianceFrames).join(', ')}`);
    const violation = validate(schema, frame);
    if (violation) return this.badFrame(link, `${violation.path}: ${violation.message}`, typeof frame.id === 'string' ? frame.id : undefined);
    if (!link.ready && type !== 'hello') return this.badFrame(link, 'the first frame must be hello');
    switch (type) {
      case 'hello':
        return this.onHello(link, frame);
      case 'kms.response':
        return this.onResponse(link, frame.id as string, frame.kmsMessages as string[]);
      case 'kms.discovery.response':
        return this.onDiscovery(link, frame);
      case 'ping':
        return this.send(link, { type: 'pong', nonce: frame.nonce });
      case 'pong':
        if (frame.nonce === link.pingNonce) {
          link.pingNonce = undefined;
          clearTimeout(link.pingTimer);
        }
        return;
      case 'drain':
        link.draining = true;
        this.log.info('link draining', { linkId: link.linkId, nodeId: link.nodeId });
        return;
      case 'error':
        return this.onApplianceError(link, frame);
    }
  }

  private badFrame(link: Link, message: string, id?: string): void {
    if (!link.ready) return this.drop(link, CloseCode.BAD_FRAME, message.slice(0, 120));
    this.sendError(link, 400, 'BAD_FRAME', message, id);
  }

  private onHello(link: Link, hello: Record<string, unknown>): void {
    if (link.ready) return this.sendError(link, 400, 'BAD_FRAME', 'hello was already received');
    if (hello.kmsCluster !== this.kmsCluster) {
      return this.drop(link, CloseCode.WRONG_CLUSTER, `this core serves ${this.kmsCluster} only`);
    }
    clearTimeout(link.helloTimer);
    link.nodeId = hello.nodeId as string;
    link.maxInFlight = Math.min(hello.maxInFlight as number, this.limits.maxInFlightPerLink);
    link.maxBatch = Math.min((hello.maxBatch as number | undefined) ?? this.limits.maxBatch, this.limits.maxBatch);
    link.maxMessageBytes = Math.min((hello.maxMessageBytes as number | undefined) ?? this.limits.maxMessageBytes, this.limits.maxMessageBytes);
    // One link per node: a reconnecting node replaces the link the core has not yet seen die.
    for (const other of this.links) {
      if (other !== link && other.ready && other.nodeId === link.nodeId) this.drop(other, CloseCode.REPLACED, 'replaced by a newer link of the same node');
    }
    link.ready = true;
    this.send(link, {
      type: 'welcome',
      protocol: 1,
      linkId: link.linkId,
      maxInFlight: link.maxInFlight,
      maxBatch: link.maxBatch,
      maxMessageBytes: link.maxMessageBytes,
      heartbeatIntervalMs: this.limits.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.limits.heartbeatTimeoutMs,
    });
    this.log.info('appliance link up', { linkId: link.linkId, nodeId: link.nodeId, subject: link.peer.subject, maxInFlight: link.maxInFlight });
    link.heartbeat = setInterval(() => this.ping(link), this.limits.heartbeatIntervalMs);
    this.requestDiscovery(link);
    this.pump();
  }

  private ping(link: Link): void {
    if (link.pingNonce !== undefined) return; // the previous ping's timer is still running
    link.pingNonce = `p${this.nextFrame++}`;
    this.send(link, { type: 'ping', nonce: link.pingNonce });
    link.pingTimer = setTimeout(() => {
      this.log.warn('appliance link heartbeat timeout', { linkId: link.linkId, nodeId: link.nodeId });
      this.drop(link, CloseCode.TIMEOUT, 'heartbeat timeout');
    }, this.limits.heartbeatTimeoutMs);
  }

  /** Takes the link out of routing at once, fails what it had in flight, then closes the socket. */
  private drop(link: Link, code: number | undefined, reason: string): void {
    if (link.closed) return;
    link.closed = true;
    this.links.delete(link);
    clearTimeout(link.helloTimer);
    clearTimeout(link.pingTimer);
    clearInterval(link.heartbeat);
    if (code !== undefined && link.ws.readyState === link.ws.OPEN) {
      link.ws.close(code, reason);
      // A dead peer never completes the closing handshake (RFC 6455 §7.1.1).
      setTimeout(() => link.ws.terminate(), 1000).unref();
    }
    if (link.ready) this.log.info('appliance link down', { linkId: link.linkId, nodeId: link.nodeId, reason, inFlight: link.inFlight.size });
    for (const pending of [...link.inFlight.values()]) {
      link.inFlight.delete(pending.frameId);
      // Never re-sent elsewhere: the node may have processed it already.
      this.fail(pending, 503, 'LINK_LOST', 'the link to the KMS went down before it answered; retry');
    }
    if (this.readyLinks() === 0) {
      for (const p of this.queue.splice(0)) this.fail(p, 503, 'KMS_UNAVAILABLE', 'no KMS node is connected to the core');
    } else this.pump();
  }

  // ---- KMS batches ----

  /** Queues a batch for the least-loaded node; throws a RelayRefusal when none can take it now. */
  submit(batch: RelayBatch): void {
    if (this.readyLinks() === 0) throw new RelayRefusal(503, 'KMS_UNAVAILABLE', `no KMS node of ${this.kmsCluster} is connected to the core; retry later`);
    if (this.queue.length >= this.limits.queueLimit) throw new RelayRefusal(503, 'KMS_BUSY', 'too many KMS batches are waiting; retry later');
    const frameId = `r${this.nextFrame++}`;
    const pending: Pending = {
      batch,
      frameId,
      timer: setTimeout(() => {
        this.forget(pending);
        this.fail(pending, 504, 'KMS_TIMEOUT', `the KMS did not answer within ${this.limits.kmsTimeoutMs} ms`);
      }, this.limits.kmsTimeoutMs),
    };
    this.queue.push(pending);
    this.pump();
  }

  private forget(pending: Pending): void {
    const i = this.queue.indexOf(pending);
    if (i >= 0) this.queue.splice(i, 1);
    pending.link?.inFlight.delete(pending.frameId);
  }

  /** Sends queued batches while some node has room: the lowest inFlight/maxInFlight, then the least recently used. */
  private pump(): void {
    while (this.queue.length > 0) {
      const pending = this.queue[0]!;
      const fits = (l: Link) => pending.batch.kmsMessages.length <= l.maxBatch && pending.batch.kmsMessages.every((m) => m.length <= l.maxMessageBytes);
      const candidates = [...this.links].filter((l) => l.ready && !l.closed && !l.draining);
      if (candidates.length > 0 && !candidates.some(fits)) {
        this.queue.shift();
        clearTimeout(pending.timer);
        this.fail(pending, 413, 'KMS_REFUSED', 'the batch exceeds the connected KMS nodes\' limits');
        continue;
      }
      const open = candidates.filter((l) => fits(l) && l.inFlight.size < l.maxInFlight);
      if (open.length === 0) return;
      open.sort((a, b) => a.load() - b.load() || a.lastDispatch - b.lastDispatch);
      const link = open[0]!;
      this.queue.shift();
      pending.link = link;
      link.inFlight.set(pending.frameId, pending);
      link.dispatched++;
      link.lastDispatch = performance.now();
      const { batchId, userId, hostile } = pending.batch;
      this.send(link, { type: 'kms.request', id: pending.frameId, destination: this.kmsCluster, kmsMessages: pending.batch.kmsMessages }, { batchId, ...(userId !== undefined && { userId }), ...(hostile !== undefined && { hostile }) });
    }
  }

  private onResponse(link: Link, id: string, kmsMessages: string[]): void {
    const pending = link.inFlight.get(id);
    if (!pending) return this.sendError(link, 404, 'UNKNOWN_REQUEST', `no kms.request ${id} is awaiting an answer on this link (late or never sent)`, id);
    link.inFlight.delete(id);
    clearTimeout(pending.timer);
    if (kmsMessages.length !== pending.batch.kmsMessages.length) {
      this.sendError(link, 400, 'BAD_FRAME', `kmsMessages: ${kmsMessages.length} answers to ${pending.batch.kmsMessages.length} messages`, id);
      this.fail(pending, 502, 'KMS_REFUSED', 'the KMS answered with the wrong number of messages');
    } else pending.batch.done({ kmsMessages });
    this.pump();
  }

  private onApplianceError(link: Link, frame: Record<string, unknown>): void {
    this.log.warn('appliance reported an error', { linkId: link.linkId, code: frame.code, status: frame.status });
    const pending = typeof frame.id === 'string' ? link.inFlight.get(frame.id) : undefined;
    if (!pending) return;
    link.inFlight.delete(pending.frameId);
    clearTimeout(pending.timer);
    this.fail(pending, frame.status as number, 'KMS_REFUSED', `the KMS refused the batch: ${String(frame.code)}: ${String(frame.message)}`);
    this.pump();
  }

  private fail(pending: Pending, status: number, code: 'KMS_UNAVAILABLE' | 'KMS_TIMEOUT' | 'LINK_LOST' | 'KMS_REFUSED', message: string): void {
    clearTimeout(pending.timer);
    pending.batch.done({ failure: { status, code, message } });
  }

  // ---- discovery ----

  /** Asks one link (the given one, or the least loaded) for the static key; false when none is connected. */
  requestDiscovery(link?: Link): boolean {
    const target = link ?? [...this.links].filter((l) => l.ready && !l.closed).sort((a, b) => a.load() - b.load())[0];
    if (!target) return false;
    this.send(target, { type: 'kms.discovery.request', id: `d${this.nextFrame++}` });
    return true;
  }

  /** Resolves once a discovery answer arrives (true) or after `timeoutMs` (false). */
  fetchDiscovery(timeoutMs: number): Promise<boolean> {
    if (!this.requestDiscovery()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        const i = this.discoveryWaiters.indexOf(settle);
        if (i >= 0) this.discoveryWaiters.splice(i, 1);
        resolve(ok);
      };
      this.discoveryWaiters.push(settle);
    });
  }

  private onDiscovery(link: Link, frame: Record<string, unknown>): void {
    const key = frame.rsaPublicKey as { kid: string };
    if (frame.kmsCluster !== this.kmsCluster || !key.kid.startsWith(`${this.kmsCluster}/`)) {
      return this.sendError(link, 400, 'WRONG_CLUSTER', `the static key must belong to ${this.kmsCluster}`, frame.id as string | undefined);
    }
    this.store.saveDiscovery(this.kmsCluster, frame.rsaPublicKey);
    for (const waiter of [...this.discoveryWaiters]) waiter(true);
  }
}

export class RelayRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function formatName(name: object | undefined): string {
  if (!name) return '';
  return Object.entries(name as Record<string, string | string[]>)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

function batchMeta(pending: Pending | undefined): { batchId?: string; userId?: string; hostile?: string } {
  if (!pending) return {};
  const { batchId, userId, hostile } = pending.batch;
  return { batchId, ...(userId !== undefined && { userId }), ...(hostile !== undefined && { hostile }) };
}
