import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { AuditEvent, AuditLog } from '@realm/audit';
import { KmsError, kmsStatusOf, type StaticPublicJwk } from '@realm/kms';
import type { LinkCredentials } from '../identity/link-identity.js';
import { fullJitterDelay, uniformRandom } from './backoff.js';
import { type ApplianceFrame, type CoreFrame, FrameViolation, type KmsRequestFrame, LINK_PROTOCOL_VERSION, LINK_SUBPROTOCOL, MAX_FRAME_BYTES, parseCoreFrame, type WelcomeFrame } from './link-frames.js';

export type CoreLinkState = 'stopped' | 'connecting' | 'open' | 'backoff' | 'draining' | 'closed';

/**
 * The KMS as POST /kms/messages reaches it (KmsService): the destination check, the batch limit,
 * then KmsPipeline.process, one answer per message in order; and GET /kms/discovery.
 */
export interface CoreLinkKms {
  messages(body: { destination?: string; kmsMessages: string[] }): Promise<{ kmsMessages: string[] }>;
  discovery(): Promise<{ kmsCluster: string; rsaPublicKey: StaticPublicJwk }>;
}

/** pino-compatible. Lines carry ids, counts, statuses and durations, never a KMS message. */
export interface CoreLinkLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Metrics hooks (the appliance maps them onto its Prometheus registry). */
export interface CoreLinkObserver {
  linkUp(up: boolean): void;
  connectAttempt(outcome: 'connected' | 'failed'): void;
  /** answered: kms.response sent; refused: an error frame instead; lost: the link closed before the answer could be sent. */
  batch(outcome: 'answered' | 'refused' | 'lost', messages: number, seconds: number): void;
  inFlight(count: number): void;
}

export interface CoreLinkOptions {
  /** wss://<core>/link/v1 */
  readonly url: string;
  /** PEM bundle the core's server certificate must chain to (never the public roots). */
  readonly caPem: string;
  readonly nodeId: string;
  readonly kmsCluster: string;
  readonly maxInFlight: number;
  /** kms.maxBatch and kms.maxMessageBytes: offered in hello, so the core never sends more. */
  readonly maxBatch: number;
  readonly maxMessageBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly drainTimeoutMs: number;
  /** How long after the upgrade the core's welcome may take (default 10 s). */
  readonly welcomeTimeoutMs?: number;
  /** How often the node checks whether the static key changed, to push discovery (default 60 s). */
  readonly discoveryCheckMs?: number;
  readonly software?: string;
  /** [0, 1); injectable for tests of the backoff. */
  readonly random?: () => number;
}

export interface CoreLinkDependencies {
  readonly kms: CoreLinkKms;
  readonly identity: { current(): Promise<LinkCredentials> };
  readonly audit: AuditLog;
  readonly log: CoreLinkLog;
}

export interface CoreLinkStatus {
  readonly state: CoreLinkState;
  readonly nodeId: string;
  readonly linkId?: string;
  readonly connectedAt?: string;
  readonly inFlight: number;
  readonly maxInFlight?: number;
  readonly reconnectAttempt: number;
  readonly batchesAnswered: number;
}

/** Above this many bytes queued on the socket, no new batch is started until it drains. */
const SEND_HIGH_WATER = 4 * 1024 * 1024;
/** Frame ids remembered per link, so a batch the core sends twice is never run twice. */
const SEEN_IDS = 16_384;

/** One WebSocket to the core, from the upgrade to its close. */
class Connection {
  welcome: WelcomeFrame | undefined;
  socket: TLSSocket | undefined;
  gone = false;
  failure: string | undefined;
  readonly inFlight = new Map<string, number>();
  readonly seen = new Set<string>();
  lastFrameAt = Date.now();
  pingNonce: string | undefined;
  pingSentAt = 0;
  connectedAt = 0;
  answered = 0;
  discoveryVersion: string | undefined;
  readonly timers: NodeJS.Timeout[] = [];
  drained: (() => void) | undefined;
  /** Set once the link is gone: the disconnect is logged and audited. */
  finished: Promise<void> | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly credentials: LinkCredentials,
  ) {}

  get open(): boolean {
    return !this.gone && this.ws.readyState === WebSocket.OPEN;
  }
}

/**
 * The appliance node's side of the link to the hosted core (docs/narrow-api.md §3): an outbound
 * WebSocket over TLS 1.3 with the link client certificate, hello/welcome, heartbeats, reconnection
 * with exponential backoff and full jitter, flow control (never more than the agreed maxInFlight
 * batches in the pipeline, and no new batch while the socket's send buffer is full), discovery,
 * and a graceful drain on shutdown.
 *
 * Every relayed batch goes through the very path of POST /kms/messages and is processed at most
 * once: the link never re-runs a batch, and an answer whose link closed is dropped (the core has
 * already failed it with LINK_LOST; the client retries under a new requestId).
 */
export class CoreLink extends EventEmitter {
  private stateValue: CoreLinkState = 'stopped';
  private connection: Connection | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private failureAudited = false;
  private nonce = 0;
  private batchesAnswered = 0;
  private observer: CoreLinkObserver | undefined;
  private readonly random: () => number;
  private readonly actor: AuditEvent['actor'];

  constructor(
    private readonly options: CoreLinkOptions,
    private readonly deps: CoreLinkDependencies,
  ) {
    super();
    this.random = options.random ?? uniformRandom;
    this.actor = { type: 'system', id: `core-link:${options.nodeId}` };
  }

  get state(): CoreLinkState {
    return this.stateValue;
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  observe(observer: CoreLinkObserver): void {
    this.observer = observer;
    observer.linkUp(this.stateValue === 'open');
  }

  status(): CoreLinkStatus {
    const c = this.connection;
    return {
      state: this.stateValue,
      nodeId: this.options.nodeId,
      ...(c?.welcome && !c.gone && { linkId: c.welcome.linkId, connectedAt: new Date(c.connectedAt).toISOString(), maxInFlight: c.welcome.maxInFlight }),
      inFlight: c && !c.gone ? c.inFlight.size : 0,
      reconnectAttempt: this.attempt,
      batchesAnswered: this.batchesAnswered,
    };
  }

  /** Starts connecting in the background; the link then keeps itself up until {@link close}. */
  start(): void {
    if (this.stateValue !== 'stopped') return;
    this.deps.log.info({ nodeId: this.options.nodeId, core: originOf(this.options.url) }, 'core link starting');
    void this.connect();
  }

  /** Resolves once the link is open (for tests and start-up checks); rejects after `timeoutMs`. */
  whenOpen(timeoutMs: number): Promise<void> {
    if (this.stateValue === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (state: CoreLinkState) => {
        if (state !== 'open') return;
        clearTimeout(timer);
        this.off('state', onState);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('state', onState);
        reject(new Error(`the core link did not open within ${timeoutMs} ms (state ${this.stateValue})`));
      }, timeoutMs);
      this.on('state', onState);
    });
  }

  /**
   * Graceful shutdown (§3.6): `drain`, wait for the batches in flight to be answered (at most
   * coreLink.drainTimeout), close with 1000, and stop reconnecting.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    const c = this.connection;
    if (c && !c.gone) {
      if (c.open && c.welcome) {
        this.setState('draining');
        this.send(c, { type: 'drain' });
        if (c.inFlight.size > 0) {
          const pending = c.inFlight.size;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.options.drainTimeoutMs);
            c.drained = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.deps.log.info({ nodeId: this.options.nodeId, answered: pending - c.inFlight.size, unanswered: c.inFlight.size }, 'core link drained');
        }
      }
      const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
      if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000, 'node shutting down');
      else c.ws.terminate();
      // RFC 6455 §7.1.1: a peer that never completes the closing handshake is cut.
      const cut = setTimeout(() => c.ws.terminate(), 1000);
      await closed;
      clearTimeout(cut);
      await this.onGone(c, 1000, 'node shutting down');
    }
    this.setState('closed');
  }

  // ---- connecting ----

  private async connect(): Promise<void> {
    if (this.stopping) return;
    this.setState('connecting');
    let credentials: LinkCredentials;
    try {
      credentials = await this.deps.identity.current();
    } catch (error) {
      this.deps.log.error({ nodeId: this.options.nodeId, err: error }, 'core link: no link identity (client certificate)');
      this.scheduleReconnect();
      return;
    }
    if (this.stopping) return;
    const ws = new WebSocket(this.options.url, [LINK_SUBPROTOCOL], {
      // RFC 8446: TLS 1.3 only; the client certificate of §2.1; the core verified against caPem only.
      minVersion: 'TLSv1.3',
      ca: this.options.caPem,
      cert: credentials.certificateChainPem,
      key: credentials.privateKeyPem,
      // Passed through to tls.connect, which takes Error | undefined (@types/ws types it as the older boolean form).
      checkServerIdentity: verifyCoreHostName as unknown as WebSocket.ClientOptions['checkServerIdentity'],
      handshakeTimeout: 10_000,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      followRedirects: false,
    });
    const c = new Connection(ws, credentials);
    this.connection = c;
    ws.on('upgrade', (res: IncomingMessage) => {
      c.socket = res.socket as TLSSocket;
    });
    ws.on('unexpected-response', (req, res) => {
      // §2.1: 401 no certificate, 403 not from the org's applianceCa, 400 no subprotocol.
      c.failure = `the core refused the link upgrade with HTTP ${res.statusCode}`;
      res.resume();
      req.destroy();
      ws.terminate();
      void this.onGone(c, 1006, c.failure);
    });
    ws.on('error', (error: Error) => {
      c.failure ??= safeMessage(error);
    });
    ws.on('open', () => this.onOpen(c));
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    ws.on('close', (code, reason) => void this.onGone(c, code, reason.toString('utf8')));
  }

  private onOpen(c: Connection): void {
    const protocol = c.socket?.getProtocol();
    if (protocol !== 'TLSv1.3') {
      c.failure = `the core negotiated ${protocol ?? 'no TLS'}, not TLS 1.3`;
      c.ws.terminate();
      return;
    }
    c.lastFrameAt = Date.now();
    this.send(c, {
      type: 'hello',
      protocol: LINK_PROTOCOL_VERSION,
      nodeId: this.options.nodeId,
      kmsCluster: this.options.kmsCluster,
      maxInFlight: this.options.maxInFlight,
      maxBatch: this.options.maxBatch,
      maxMessageBytes: this.options.maxMessageBytes,
      ...(this.options.software !== undefined && { software: this.options.software }),
    });
    c.timers.push(
      setTimeout(() => {
        if (c.welcome || c.gone) return;
        c.failure = 'no welcome from the core in time';
        c.ws.terminate();
      }, this.options.welcomeTimeoutMs ?? 10_000),
    );
  }

  private onWelcome(c: Connection, welcome: WelcomeFrame): void {
    if (welcome.maxInFlight > this.options.maxInFlight) {
      // §3.3: the effective limit is min(ours, the core's). A core that raises it is not believed.
      welcome = { ...welcome, maxInFlight: this.options.maxInFlight };
    }
    c.welcome = welcome;
    c.connectedAt = Date.now();
    this.attempt = 0;
    this.failureAudited = false;
    this.setState('open');
    this.observer?.connectAttempt('connected');
    this.observer?.linkUp(true);
    const peer = c.socket?.getPeerCertificate() as PeerCertificate | undefined;
    const details = {
      nodeId: this.options.nodeId,
      linkId: welcome.linkId,
      core: originOf(this.options.url),
      tls: c.socket?.getProtocol() ?? 'unknown',
      coreCertificateSha256: peer?.fingerprint256 ?? null,
      clientCertificateSerial: c.credentials.serial,
      maxInFlight: welcome.maxInFlight,
    };
    this.deps.log.info(details, 'core link up');
    this.audit({ action: 'core-link.connect', outcome: 'success', details });
    const tick = Math.min(1000, Math.max(50, Math.floor(Math.min(this.options.heartbeatIntervalMs, welcome.heartbeatTimeoutMs) / 4)));
    c.timers.push(setInterval(() => this.heartbeat(c), tick));
    c.timers.push(setInterval(() => void this.checkDiscovery(c), this.options.discoveryCheckMs ?? 60_000));
  }

  // ---- frames ----

  private onMessage(c: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (c.gone) return;
    c.lastFrameAt = Date.now();
    let frame: CoreFrame;
    try {
      if (isBinary) throw new FrameViolation('(frame): binary frames are refused; frames are UTF-8 JSON text');
      frame = parseCoreFrame(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    } catch (error) {
      const message = error instanceof FrameViolation ? error.message : 'malformed frame';
      this.deps.log.warn({ nodeId: this.options.nodeId, problem: message.slice(0, 200) }, 'core link: refused a malformed frame');
      if (!c.welcome) {
        c.failure = `malformed frame before welcome: ${message.slice(0, 100)}`;
        c.ws.close(1002, 'malformed frame before welcome');
        return;
      }
      this.send(c, { type: 'error', ...(error instanceof FrameViolation && error.id !== undefined && { id: error.id }), status: 400, code: 'BAD_FRAME', message: message.slice(0, 1024) });
      return;
    }
    if (frame.type === 'ping') {
      // §3.3: heartbeats bypass flow control.
      this.send(c, { type: 'pong', nonce: frame.nonce });
      return;
    }
    if (frame.type === 'pong') {
      if (frame.nonce === c.pingNonce) c.pingNonce = undefined;
      return;
    }
    if (frame.type === 'error') {
      this.deps.log.warn({ nodeId: this.options.nodeId, status: frame.status, code: frame.code, id: frame.id, message: frame.message.slice(0, 200) }, 'core link: the core reported an error');
      return;
    }
    if (frame.type === 'welcome') {
      if (c.welcome) {
        this.send(c, { type: 'error', status: 400, code: 'BAD_FRAME', message: 'type: welcome was already received' });
        return;
      }
      this.onWelcome(c, frame);
      return;
    }
    if (!c.welcome) {
      c.failure = `the core sent ${frame.type} before welcome`;
      c.ws.close(1002, 'frame before welcome');
      return;
    }
    if (frame.type === 'kms.request') void this.onKmsRequest(c, frame);
    else void this.onDiscoveryRequest(c, frame.id);
  }

  private async onKmsRequest(c: Connection, frame: KmsRequestFrame): Promise<void> {
    const count = frame.kmsMessages.length;
    const refuse = (status: number, code: string, message: string) => {
      this.send(c, { type: 'error', id: frame.id, status, code, message });
      this.observer?.batch('refused', count, 0);
    };
    if (this.stopping) return refuse(503, 'NODE_DRAINING', 'this node is shutting down: send the batch to another node');
    // At most once: a frame id seen on this link is never run again, whatever the core does.
    if (c.seen.has(frame.id)) return refuse(409, 'DUPLICATE_REQUEST', `id: kms.request ${frame.id} was already received on this link; it is not processed twice`);
    c.seen.add(frame.id);
    if (c.seen.size > SEEN_IDS) c.seen.delete(c.seen.values().next().value!);
    if (c.inFlight.size >= c.welcome!.maxInFlight) {
      return refuse(503, 'NODE_BUSY', `more than maxInFlight (${c.welcome!.maxInFlight}) kms.request frames unanswered on this link`);
    }
    const started = performance.now();
    c.inFlight.set(frame.id, started);
    this.observer?.inFlight(c.inFlight.size);
    try {
      // Backpressure: answers still queued on the socket hold the batch's slot, so the core sends no more.
      while (c.open && c.ws.bufferedAmount > SEND_HIGH_WATER) await new Promise((resolve) => setTimeout(resolve, 5));
      if (!c.open) return this.lost(c, frame, started);
      let answers: string[];
      try {
        answers = (await this.deps.kms.messages({ destination: frame.destination, kmsMessages: frame.kmsMessages })).kmsMessages;
        if (answers.length !== count) throw new KmsError('KMS_INTERNAL', 'the pipeline answered with the wrong number of messages');
      } catch (error) {
        const known = error instanceof KmsError;
        if (!known) this.deps.log.error({ nodeId: this.options.nodeId, id: frame.id, err: error }, 'core link: the KMS failed a relayed batch');
        if (!c.open) return this.lost(c, frame, started);
        const status = known ? kmsStatusOf(error.code) : 500;
        this.send(c, { type: 'error', id: frame.id, status, code: known ? error.code : 'KMS_INTERNAL', message: known && status < 500 ? error.message.slice(0, 1024) : 'the KMS could not process the batch' });
        this.observer?.batch('refused', count, (performance.now() - started) / 1000);
        return;
      }
      if (!c.open) return this.lost(c, frame, started);
      this.send(c, { type: 'kms.response', id: frame.id, kmsMessages: answers });
      c.answered++;
      this.batchesAnswered++;
      this.observer?.batch('answered', count, (performance.now() - started) / 1000);
    } finally {
      c.inFlight.delete(frame.id);
      this.observer?.inFlight(c.inFlight.size);
      if (c.inFlight.size === 0) c.drained?.();
    }
  }

  /** The link closed while the batch was processed: the answer is dropped, never re-sent on a later link. */
  private lost(c: Connection, frame: KmsRequestFrame, started: number): void {
    this.deps.log.warn({ nodeId: this.options.nodeId, id: frame.id, linkId: c.welcome?.linkId, messages: frame.kmsMessages.length }, 'core link: answer dropped, the link closed before it could be sent');
    this.observer?.batch('lost', frame.kmsMessages.length, (performance.now() - started) / 1000);
  }

  private async onDiscoveryRequest(c: Connection, id: string | undefined): Promise<void> {
    let discovery: { kmsCluster: string; rsaPublicKey: StaticPublicJwk };
    try {
      discovery = await this.deps.kms.discovery();
    } catch (error) {
      this.deps.log.error({ nodeId: this.options.nodeId, err: error }, 'core link: cannot read the KMS static key for discovery');
      if (id !== undefined) this.send(c, { type: 'error', id, status: 503, code: 'KMS_UNAVAILABLE', message: 'the KMS static key cannot be read now' });
      return;
    }
    const { kty, kid, n, e, x5c } = discovery.rsaPublicKey;
    if (!x5c || x5c.length === 0) {
      // §6.9: the key is published with its chain only; clients would refuse it anyway.
      if (id !== undefined) this.send(c, { type: 'error', id, status: 503, code: 'KMS_NO_CERTIFICATE', message: 'the KMS static key has no certificate chain yet (realmctl kms import-certificate)' });
      return;
    }
    c.discoveryVersion = `${kid} ${x5c[0]}`;
    this.send(c, { type: 'kms.discovery.response', ...(id !== undefined && { id }), kmsCluster: discovery.kmsCluster, rsaPublicKey: { kty, kid, n, e, x5c } });
  }

  /** §3.5: after a static-key rotation (on any node, or by realmctl) the node pushes the new key unasked. */
  private async checkDiscovery(c: Connection): Promise<void> {
    if (!c.open || c.discoveryVersion === undefined) return;
    const discovery = await this.deps.kms.discovery().catch(() => undefined);
    const x5c = discovery?.rsaPublicKey.x5c;
    if (!discovery || !x5c?.length || `${discovery.rsaPublicKey.kid} ${x5c[0]}` === c.discoveryVersion) return;
    this.deps.log.info({ nodeId: this.options.nodeId, kid: discovery.rsaPublicKey.kid }, 'core link: the KMS static key changed, pushing discovery');
    await this.onDiscoveryRequest(c, undefined);
  }

  // ---- heartbeats and closing ----

  /** §3.4: our own ping when idle; a pong overdue, or silence beyond the core's interval plus timeout, is a dead link. */
  private heartbeat(c: Connection): void {
    if (!c.open || !c.welcome) return;
    const now = Date.now();
    const silence = now - c.lastFrameAt;
    let dead: string | undefined;
    if (c.pingNonce !== undefined && now - c.pingSentAt > this.options.heartbeatTimeoutMs) dead = `no pong within ${this.options.heartbeatTimeoutMs} ms`;
    else if (silence > c.welcome.heartbeatIntervalMs + c.welcome.heartbeatTimeoutMs) dead = `no frame from the core for ${silence} ms`;
    if (dead) {
      c.failure = dead;
      this.deps.log.warn({ nodeId: this.options.nodeId, linkId: c.welcome.linkId, reason: dead }, 'core link: heartbeat lost, reconnecting');
      c.ws.terminate();
      return;
    }
    if (c.pingNonce === undefined && silence >= this.options.heartbeatIntervalMs) {
      c.pingNonce = `n${++this.nonce}`;
      c.pingSentAt = now;
      this.send(c, { type: 'ping', nonce: c.pingNonce });
    }
  }

  private onGone(c: Connection, code: number, reason: string): Promise<void> {
    c.finished ??= this.finish(c, code, reason);
    return c.finished;
  }

  private async finish(c: Connection, code: number, reason: string): Promise<void> {
    c.gone = true;
    for (const timer of c.timers) clearTimeout(timer);
    c.drained?.();
    if (c.welcome) {
      this.observer?.linkUp(false);
      this.observer?.inFlight(0);
      const details = {
        nodeId: this.options.nodeId,
        linkId: c.welcome.linkId,
        code,
        reason: (c.failure ?? reason ?? '').slice(0, 200) || closeMeaning(code),
        connectedSeconds: Math.round((Date.now() - c.connectedAt) / 1000),
        batchesAnswered: c.answered,
        unansweredInFlight: c.inFlight.size,
      };
      this.deps.log[this.stopping ? 'info' : 'warn'](details, 'core link down');
      const recorded = this.audit({ action: 'core-link.disconnect', outcome: this.stopping ? 'success' : 'failure', details });
      // A shutdown completes only once its disconnect is on record.
      if (this.stopping) await recorded;
    } else {
      this.observer?.connectAttempt('failed');
      const why = c.failure ?? (reason || closeMeaning(code));
      this.deps.log.warn({ nodeId: this.options.nodeId, core: originOf(this.options.url), code, reason: why.slice(0, 200), attempt: this.attempt }, 'core link: cannot connect');
      // One record per outage, not one per retry.
      if (!this.failureAudited && !this.stopping) {
        this.failureAudited = true;
        this.audit({ action: 'core-link.connect', outcome: 'failure', reason: why.slice(0, 200), details: { nodeId: this.options.nodeId, core: originOf(this.options.url) } });
      }
    }
    if (code === 4409) this.deps.log.warn({ nodeId: this.options.nodeId }, 'core link: replaced by a newer link with the same nodeId; if this repeats, two processes share coreLink.nodeId');
    if (code === 4403) this.deps.log.error({ nodeId: this.options.nodeId, kmsCluster: this.options.kmsCluster }, "core link: the core does not serve this KMS cluster (kms.domain must be the org's cluster at the core)");
    if (this.connection === c) this.connection = undefined;
    if (this.stopping) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopping) return;
    const delay = fullJitterDelay(this.attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs, this.random);
    this.attempt++;
    this.setState('backoff');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private send(c: Connection, frame: ApplianceFrame): void {
    if (!c.open) return;
    c.ws.send(JSON.stringify(frame));
  }

  private setState(state: CoreLinkState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }

  private audit(event: Omit<AuditEvent, 'actor'>): Promise<void> {
    return this.deps.audit.record({ ...event, actor: this.actor }).catch((error: unknown) => this.deps.log.error({ err: error, action: event.action }, 'core link: audit record failed'));
  }
}

/**
 * RFC 6125 §6: the URL's host against the certificate's subjectAltName only. Node falls back to
 * the CN when there is no SAN; a certificate without one is refused here instead (§6.4.4).
 */
export function verifyCoreHostName(host: string, certificate: PeerCertificate): Error | undefined {
  if (!certificate.subjectaltname) return new Error(`the core's certificate has no subjectAltName; ${host} cannot be verified`);
  return checkServerIdentity(host, certificate);
}

function originOf(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
}

/** Error messages of the TLS and socket layers name hosts, codes and certificate problems, nothing secret. */
function safeMessage(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return `${code ? `${code}: ` : ''}${error.message}`.slice(0, 200);
}

function closeMeaning(code: number): string {
  switch (code) {
    case 1000:
      return 'normal closure';
    case 1001:
      return 'the core is going away';
    case 1006:
      return 'the connection was lost';
    case 1009:
      return 'frame too large';
    case 4400:
      return 'the core refused a malformed frame';
    case 4403:
      return 'wrong KMS cluster for this core';
    case 4408:
      return 'hello or heartbeat timeout at the core';
    case 4409:
      return 'replaced by a newer link of the same node';
    case 4410:
      return 'closed by an operator of the core';
    default:
      return `closed with code ${code}`;
  }
}
