import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import * as S from './contract/schemas.js';
import { EventHub } from './events.js';
import { BatchPath, type Faults } from './hostile.js';
import { badField, checked, HttpError, intParam, queryOf, readJson, refuseUpgrade, sendError, sendJson, timeParam } from './http.js';
import { KmsRelay, LINK_SUBPROTOCOL, RelayRefusal, type RelayLimits } from './kms-relay.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { FrameRecorder } from './recorder.js';
import { CoreStore, type Room, type User, type UserKind } from './store.js';
import { selfSignedServerCertificate } from './tls/x509-cert.js';

export interface CoreSimOptions {
  /** Directory of the SQLite database and the generated TLS certificate. */
  dataDir: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The appliance link's port; 0 (default) picks a free one. */
  linkPort?: number;
  /** The core's TLS certificate chain and key (PEM); absent: a self-signed one in dataDir/tls. */
  tls?: { certPem: string; keyPem: string };
  /** CA certificate(s) (PEM) that sign the org's appliance client certificates; absent: every link is refused. */
  applianceCaPem?: string;
  /** The org's KMS cluster, kms://<kms domain>. */
  kmsCluster?: string;
  /** Enables the test-control API (/control/...) for callers presenting this token. */
  controlToken?: string;
  logLevel?: LogLevel;
  /** Where log lines go (default stdout). */
  logSink?: (line: string) => void;
  limits?: Partial<RelayLimits> & { bodyLimitBytes?: number };
}

export interface CoreSim {
  readonly url: string;
  readonly port: number;
  /** wss://…/link/v1 on a port of its own, where TLS requires an appliance client certificate. */
  readonly linkUrl: string;
  readonly linkPort: number;
  /** The PEM clients and appliances trust for the core's TLS certificate. */
  readonly caPem: string;
  readonly kmsCluster: string;
  stop(): Promise<void>;
}

const DEFAULT_LIMITS: RelayLimits & { bodyLimitBytes: number } = {
  maxInFlightPerLink: 64,
  maxBatch: 100,
  maxMessageBytes: 65536,
  kmsTimeoutMs: 15_000,
  queueLimit: 1024,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 10_000,
  helloTimeoutMs: 5_000,
  discoveryRefreshMs: 300_000,
  bodyLimitBytes: 8 * 1024 * 1024,
};

export async function startCoreSim(options: CoreSimOptions): Promise<CoreSim> {
  const host = options.host ?? '127.0.0.1';
  const kmsCluster = options.kmsCluster ?? 'kms://kms.realm.test';
  if (!/^kms:\/\/[A-Za-z0-9.-]{1,253}$/.test(kmsCluster)) throw new Error(`kmsCluster: must be kms://<domain>, got ${kmsCluster}`);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = createLogger(options.logLevel ?? 'info', options.logSink);
  mkdirSync(options.dataDir, { recursive: true });
  const tls = options.tls ?? devCertificate(options.dataDir, host);

  const store = new CoreStore(join(options.dataDir, 'core-sim.db'));
  const recorder = new FrameRecorder();
  const relay = new KmsRelay(kmsCluster, limits, store, recorder, log);
  const events = new EventHub(store, recorder);
  const path = new BatchPath(relay, events, store, recorder);
  const control = options.controlToken ? createHash('sha256').update(options.controlToken).digest() : undefined;
  const api = new Api(store, relay, events, path, recorder, limits.bodyLimitBytes, kmsCluster, control);

  // Clients and bots: server authentication only.
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.3' });
  // The appliance link has a port of its own where TLS itself requires a client certificate from the
  // org's appliance CA (RFC 8446 §4.3.2, §4.4.2): a peer without one never completes the handshake.
  // Without a configured CA the list is empty, so every link is refused (never the public roots).
  const linkServer: Server = createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true, ca: options.applianceCaPem ?? [] });
  const linkWss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024, handleProtocols: (protocols) => (protocols.has(LINK_SUBPROTOCOL) ? LINK_SUBPROTOCOL : false) });
  const eventsWss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  server.on('request', (req, res) => void api.handle(req, res));
  // Set at stop: an upgrade that arrives while stopping would hold server.close() open for ever.
  let closing = false;
  let linkUrl = '';
  server.on('upgrade', (req: IncomingMessage, socket: TLSSocket, head: Buffer) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'https://core');
    if (url.pathname === '/link/v1') return refuseUpgrade(socket, 404, 'LINK_ON_ITS_OWN_PORT', `the appliance link is served at ${linkUrl}`);
    if (url.pathname === '/events') {
      try {
        const user = api.authenticate(req);
        const query = queryOf(url, ['activitiesSince']);
        const since = intParam(query, 'activitiesSince', 0, Number.MAX_SAFE_INTEGER);
        eventsWss.handleUpgrade(req, socket, head, (ws) => events.attach(ws, user, since));
      } catch (e) {
        const error = e instanceof HttpError ? e : new HttpError(500, 'INTERNAL', 'internal error');
        refuseUpgrade(socket, error.status, error.code, error.message);
      }
      return;
    }
    refuseUpgrade(socket, 404, 'NOT_FOUND', 'no WebSocket endpoint here');
  });

  linkServer.on('tlsClientError', (error: Error) => log.warn('appliance link refused at the TLS handshake', { reason: error.message }));
  linkServer.on('request', (_req: IncomingMessage, res: ServerResponse) => sendError(res, new HttpError(426, 'UPGRADE_REQUIRED', `this port serves the appliance link only: a WebSocket at /link/v1`), randomUUID()));
  linkServer.on('upgrade', (req: IncomingMessage, socket: TLSSocket, head: Buffer) => {
    if (closing || !socket.authorized) {
      socket.destroy();
      return;
    }
    if (new URL(req.url ?? '/', 'https://core').pathname !== '/link/v1') return refuseUpgrade(socket, 404, 'NOT_FOUND', 'the appliance link is at /link/v1');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(LINK_SUBPROTOCOL)) return refuseUpgrade(socket, 400, 'SUBPROTOCOL_REQUIRED', `offer the WebSocket subprotocol ${LINK_SUBPROTOCOL}`);
    linkWss.handleUpgrade(req, socket, head, (ws) => relay.attach(ws, socket));
  });

  const listen = (target: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      target.once('error', reject);
      target.listen(port, host, () => resolve((target.address() as AddressInfo).port));
    });
  const port = await listen(server, options.port ?? 0);
  const linkPort = await listen(linkServer, options.linkPort ?? 0).catch(async (error: unknown) => {
    await new Promise((resolve) => server.close(resolve));
    throw error;
  });
  const authority = host.includes(':') ? `[${host}]` : host;
  const url = `https://${authority}:${port}`;
  linkUrl = `wss://${authority}:${linkPort}/link/v1`;

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    linkUrl,
    linkPort,
    caPem: tls.certPem,
    kmsCluster,
    stop: () =>
      (stopping ??= (async () => {
        closing = true;
        relay.shutdown();
        events.close();
        // Give peers a moment to complete the closing handshake (1001), then cut what is left.
        const deadline = Date.now() + 500;
        while (linkWss.clients.size + eventsWss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        for (const wss of [linkWss, eventsWss]) for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        linkServer.closeAllConnections();
        const closed = Promise.all([server, linkServer].map((target) => new Promise<void>((resolve) => target.close(() => resolve()))));
        // Upgraded sockets are not HTTP connections: whatever is still open is cut, and the store
        // closes after at most two seconds whatever a peer does.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
        clearTimeout(timer);
        for (const wss of [linkWss, eventsWss]) for (const ws of wss.clients) ws.terminate();
        store.close();
      })()),
  };
}

/** The development certificate: generated once into dataDir/tls, then reused. */
function devCertificate(dataDir: string, host: string): { certPem: string; keyPem: string } {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'core-sim-cert.pem');
  const keyFile = join(dir, 'core-sim-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  mkdirSync(dir, { recursive: true });
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', host].filter((h) => h !== '0.0.0.0' && h !== '::'))];
  const { certPem, keyPem } = selfSignedServerCertificate('core-sim development certificate', hosts);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, certPem);
  return { certPem, keyPem };
}

// ---- the HTTP API ----------------------------------------------------------------------------------

type Handler = (ctx: Ctx) => Promise<[number, unknown]> | [number, unknown];

interface Ctx {
  req: IncomingMessage;
  url: URL;
  params: string[];
  body: () => Promise<unknown>;
  user: () => User;
}

const USER_ID = '([A-Za-z0-9][A-Za-z0-9._@+:%-]{0,599})';
const UUID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';

class Api {
  private readonly routes: { method: string; pattern: RegExp; name: string; handler: Handler }[] = [];

  constructor(
    private readonly store: CoreStore,
    private readonly relay: KmsRelay,
    private readonly events: EventHub,
    private readonly path: BatchPath,
    private readonly recorder: FrameRecorder,
    private readonly bodyLimit: number,
    private readonly kmsCluster: string,
    private readonly controlTokenHash: Buffer | undefined,
  ) {
    this.publicRoutes();
    if (controlTokenHash) this.controlRoutes();
  }

  private route(method: string, path: string, handler: Handler): void {
    const pattern = new RegExp(`^${path.replace(/:uuid/g, UUID).replace(/:user/g, USER_ID).replace(/:any/g, '([^/]+)')}$`);
    this.routes.push({ method, pattern, name: `${method} ${path.replace(/:(uuid|user|any)/g, '{id}')}`, handler });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestIdHeader = req.headers['x-request-id'];
    const requestId = typeof requestIdHeader === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(requestIdHeader) ? requestIdHeader : randomUUID();
    res.setHeader('x-request-id', requestId);
    let routeName = `${req.method} (unknown)`;
    let userId: string | undefined;
    try {
      const url = new URL(req.url ?? '/', 'https://core');
      const matching = this.routes.filter((r) => r.pattern.test(url.pathname));
      if (matching.length === 0) {
        if (url.pathname === '/link/v1' || url.pathname === '/events') throw new HttpError(426, 'UPGRADE_REQUIRED', 'this endpoint is a WebSocket');
        throw new HttpError(404, 'NOT_FOUND', 'no such endpoint');
      }
      const route = matching.find((r) => r.method === req.method);
      if (!route) {
        res.setHeader('allow', matching.map((r) => r.method).join(', '));
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${matching.map((r) => r.method).join(' or ')}`);
      }
      routeName = route.name;
      const params = route.pattern.exec(url.pathname)!.slice(1).map((p) => decodeURIComponent(p));
      const [status, body] = await route.handler({
        req,
        url,
        params,
        body: () => readJson(req, this.bodyLimit),
        user: () => {
          const user = this.authenticate(req);
          userId = user.userId;
          return user;
        },
      });
      this.recorder.record({ channel: 'http', direction: 'client→core', type: routeName, status, ...(userId && { userId }) });
      sendJson(res, status, body);
    } catch (e) {
      const error = e instanceof HttpError ? e : e instanceof RelayRefusal ? new HttpError(e.status, e.code, e.message) : undefined;
      if (!error) {
        sendError(res, new HttpError(500, 'INTERNAL', 'internal error'), requestId);
        process.stderr.write(`${JSON.stringify({ level: 'error', service: 'core-sim', msg: 'unhandled error', route: routeName, requestId, error: String((e as Error)?.stack ?? e) })}\n`);
        return;
      }
      this.recorder.record({ channel: 'http', direction: 'client→core', type: routeName, status: error.status, ...(userId && { userId }), note: error.code });
      sendError(res, error, requestId, error.status === 503 ? { 'retry-after': '1' } : error.status === 401 ? { 'www-authenticate': 'Bearer realm="core"' } : {});
    }
  }

  /** The core's own bearer token (RFC 6750). Worthless to the KMS, which never sees it. */
  authenticate(req: IncomingMessage): User {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw new HttpError(401, 'UNAUTHENTICATED', 'send Authorization: Bearer <core token> (from POST /users)');
    const user = this.store.userByToken(match[1]!);
    if (!user) throw new HttpError(401, 'UNAUTHENTICATED', 'the core token is unknown or expired');
    return user;
  }

  // ---- the client-facing API (docs/narrow-api.md §2) ----

  private publicRoutes(): void {
    this.route('GET', '/health', () => [200, { status: 'ok', kmsCluster: this.kmsCluster, applianceLinks: this.relay.readyLinks() }]);

    this.route('POST', '/users', async (c) => {
      const body = checked<{ userId: string; displayName?: string; kind?: UserKind }>(S.userCreateRequest, await c.body());
      const existing = this.store.user(body.userId);
      if (existing && body.kind !== undefined && existing.kind !== body.kind) throw badField('kind', `the user exists as ${existing.kind}`);
      const { user, created, token, expiresAt } = this.store.signIn(body.userId, body.displayName, body.kind ?? 'person');
      return [created ? 201 : 200, { user, token, expiresAt }];
    });
    this.route('GET', '/users/me', (c) => [200, c.user()]);

    this.route('GET', '/kms/:any', async (c) => {
      c.user();
      const asked = c.params[0]!;
      if (asked !== this.kmsCluster && `kms://${asked}` !== this.kmsCluster) throw new HttpError(404, 'UNKNOWN_KMS_CLUSTER', `this core relays to ${this.kmsCluster} only`);
      let key = this.path.discovery();
      if (!key && (await this.relay.fetchDiscovery(5000))) key = this.path.discovery();
      if (!key) throw new HttpError(503, 'KMS_UNAVAILABLE', 'the KMS static key is not known yet: no KMS node has connected');
      return [200, { kmsCluster: this.kmsCluster, rsaPublicKey: key }];
    });

    this.route('POST', '/kms/messages', async (c) => {
      const user = c.user();
      const body = checked<{ destination: string; kmsMessages: string[] }>(S.kmsMessagesRequest, await c.body());
      if (body.destination !== this.kmsCluster) throw new HttpError(404, 'UNKNOWN_KMS_CLUSTER', `destination: this core relays to ${this.kmsCluster} only`, 'destination');
      if (!this.events.connected(user.userId)) throw new HttpError(409, 'NO_EVENTS_SOCKET', 'open GET /events first: the KMS answers arrive there');
      const batchId = this.path.clientBatch(user.userId, body.kmsMessages);
      return [202, { batchId, messageCount: body.kmsMessages.length }];
    });

    this.route('POST', '/rooms', async (c) => {
      const user = c.user();
      const body = checked<{ kmsResourceObjectUrl: string; defaultActivityEncryptionKeyUrl: string; participants: string[]; encryptedTitle?: string }>(S.roomCreateRequest, await c.body());
      this.sameCluster('kmsResourceObjectUrl', body.kmsResourceObjectUrl);
      this.sameCluster('defaultActivityEncryptionKeyUrl', body.defaultActivityEncryptionKeyUrl);
      if (body.encryptedTitle !== undefined) contentHeader('encryptedTitle', body.encryptedTitle);
      const missing = this.store.missingUsers(body.participants);
      if (missing.length > 0) throw new HttpError(400, 'UNKNOWN_USER', `participants[${missing[0]}]: no such user`, `participants[${missing[0]}]`);
      return [201, this.store.createRoom({ ...body, createdBy: user.userId })];
    });
    this.route('GET', '/rooms', (c) => [200, { items: this.store.roomsOf(c.user().userId) }]);
    this.route('GET', '/rooms/:uuid', (c) => [200, this.readableRoom(c.user(), c.params[0]!)]);
    this.route('PATCH', '/rooms/:uuid', async (c) => {
      const room = this.memberRoom(c.user(), c.params[0]!);
      const body = checked<{ kmsResourceObjectUrl?: string; defaultActivityEncryptionKeyUrl?: string; encryptedTitle?: string }>(S.roomUpdateRequest, await c.body());
      if (body.kmsResourceObjectUrl) this.sameCluster('kmsResourceObjectUrl', body.kmsResourceObjectUrl);
      if (body.defaultActivityEncryptionKeyUrl) this.sameCluster('defaultActivityEncryptionKeyUrl', body.defaultActivityEncryptionKeyUrl);
      if (body.encryptedTitle !== undefined) contentHeader('encryptedTitle', body.encryptedTitle);
      return [200, this.store.updateRoom(room.id, body)];
    });
    this.route('POST', '/rooms/:uuid/participants', async (c) => {
      const room = this.memberRoom(c.user(), c.params[0]!);
      const body = checked<{ userId: string }>(S.participantAddRequest, await c.body());
      if (!this.store.user(body.userId)) throw new HttpError(400, 'UNKNOWN_USER', 'userId: no such user', 'userId');
      return [200, this.store.addParticipant(room.id, body.userId)];
    });
    this.route('DELETE', '/rooms/:uuid/participants/:user', (c) => {
      const room = this.memberRoom(c.user(), c.params[0]!);
      if (!room.participants.includes(c.params[1]!)) throw new HttpError(404, 'PARTICIPANT_NOT_FOUND', 'that user is not a participant of the room');
      return [200, this.store.removeParticipant(room.id, c.params[1]!)];
    });

    this.route('POST', '/rooms/:uuid/activities', async (c) => {
      const user = c.user();
      const room = this.memberRoom(user, c.params[0]!);
      const body = checked<{ encryptedContent: string; encryptionKeyUrl: string; clientActivityId?: string }>(S.activityCreateRequest, await c.body());
      contentHeader('encryptedContent', body.encryptedContent);
      this.sameCluster('encryptionKeyUrl', body.encryptionKeyUrl);
      const { activity, created } = this.store.createActivity({ roomId: room.id, actorId: user.userId, ...body });
      if (created) this.events.activityCreated(activity);
      return [created ? 201 : 200, activity];
    });
    this.route('GET', '/rooms/:uuid/activities', (c) => {
      const room = this.readableRoom(c.user(), c.params[0]!);
      const query = queryOf(c.url, ['after', 'limit']);
      return [200, this.store.activities({ roomId: room.id, afterSeq: intParam(query, 'after', 0, Number.MAX_SAFE_INTEGER), limit: intParam(query, 'limit', 1, 500) ?? 100 })];
    });
    this.route('GET', '/activities/:uuid', (c) => {
      const user = c.user();
      const activity = this.store.activity(c.params[0]!);
      if (!activity || (user.kind !== 'org-bot' && !this.store.isParticipant(activity.roomId, user.userId))) throw new HttpError(404, 'ACTIVITY_NOT_FOUND', 'no such activity, or not visible to you');
      return [200, activity];
    });
    this.route('GET', '/activities', (c) => {
      const user = c.user();
      const query = queryOf(c.url, ['roomId', 'actorId', 'from', 'to', 'after', 'limit']);
      if (query.roomId !== undefined && !new RegExp(`^${UUID}$`).test(query.roomId)) throw badField('roomId', 'must be a room id (UUID)');
      if (query.actorId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,199}$/.test(query.actorId)) throw badField('actorId', 'must be a user id');
      const fromMs = timeParam(query, 'from');
      const toMs = timeParam(query, 'to');
      if (fromMs !== undefined && toMs !== undefined && toMs < fromMs) throw badField('to', 'must not be before from');
      return [
        200,
        this.store.activities({
          ...(query.roomId !== undefined && { roomId: query.roomId }),
          ...(query.actorId !== undefined && { actorId: query.actorId }),
          ...(user.kind !== 'org-bot' && { visibleTo: user.userId }),
          ...(fromMs !== undefined && { fromMs }),
          ...(toMs !== undefined && { toMs }),
          afterSeq: intParam(query, 'after', 0, Number.MAX_SAFE_INTEGER),
          limit: intParam(query, 'limit', 1, 500) ?? 100,
        }),
      ];
    });

    this.route('POST', '/blind-index/tokens', async (c) => {
      const user = c.user();
      if (user.kind !== 'org-bot') throw new HttpError(403, 'FORBIDDEN', 'only an org-bot (the indexer) writes the blind index');
      const body = checked<{ activityId: string; tokens: string[] }>(S.blindIndexPutRequest, await c.body());
      if (!this.store.activity(body.activityId)) throw new HttpError(404, 'ACTIVITY_NOT_FOUND', 'activityId: no such activity', 'activityId');
      this.store.replaceBlindTokens(body.activityId, body.tokens);
      return [200, { activityId: body.activityId, tokenCount: body.tokens.length }];
    });
    this.route('POST', '/blind-index/match', async (c) => {
      const user = c.user();
      const body = checked<{ tokens: string[]; mode?: 'all' | 'any'; roomId?: string; limit?: number }>(S.blindIndexMatchRequest, await c.body());
      const activityIds = this.store.matchBlindTokens(
        body.tokens,
        body.mode ?? 'all',
        { ...(body.roomId !== undefined && { roomId: body.roomId }), ...(user.kind !== 'org-bot' && { visibleTo: user.userId }) },
        body.limit ?? 100,
      );
      return [200, { activityIds }];
    });
  }

  /** A room the user may read: a participant's, or any room for an org-bot; otherwise 404 as if absent. */
  private readableRoom(user: User, roomId: string): Room {
    const room = this.store.room(roomId);
    if (!room || (user.kind !== 'org-bot' && !room.participants.includes(user.userId))) throw new HttpError(404, 'ROOM_NOT_FOUND', 'no such room, or you are not a participant');
    return room;
  }

  /** A room the user participates in (to change it or post to it). */
  private memberRoom(user: User, roomId: string): Room {
    const room = this.store.room(roomId);
    if (!room || !room.participants.includes(user.userId)) throw new HttpError(404, 'ROOM_NOT_FOUND', 'no such room, or you are not a participant');
    return room;
  }

  private sameCluster(field: string, kmsUrl: string): void {
    if (!kmsUrl.startsWith(`${this.kmsCluster}/`)) throw badField(field, `must belong to ${this.kmsCluster}`);
  }

  // ---- the test-control API (apps/core-sim/README.md) ----

  private controlRoutes(): void {
    const guarded = (handler: Handler): Handler => (c) => {
      const given = c.req.headers['x-control-token'];
      const hash = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
      if (!timingSafeEqual(hash, this.controlTokenHash!)) throw new HttpError(401, 'UNAUTHENTICATED', 'send X-Control-Token');
      return handler(c);
    };
    const control = (method: string, path: string, handler: Handler) => this.route(method, `/control${path}`, guarded(handler));

    control('GET', '/frames', (c) => {
      const q = queryOf(c.url, ['after', 'limit']);
      return [200, { frames: this.recorder.list(intParam(q, 'after', 0, Number.MAX_SAFE_INTEGER), intParam(q, 'limit', 1, 20000)) }];
    });
    control('DELETE', '/frames', () => (this.recorder.clear(), [204, undefined]));
    control('GET', '/links', () => [200, { links: this.relay.info() }]);
    control('POST', '/links/close', async (c) => {
      const body = checked<{ nodeId?: string; mode?: 'close' | 'terminate' }>(controlSchemas.closeLinks, await c.body());
      return [200, { closed: this.relay.closeLinks(body.nodeId !== undefined ? { nodeId: body.nodeId } : {}, body.mode ?? 'close') }];
    });
    control('GET', '/captured', () => [200, { batches: this.path.capturedBatches() }]);
    control('POST', '/replay', async (c) => {
      const body = checked<{ batchId: string; deliverToOriginal?: boolean }>(controlSchemas.replay, await c.body());
      const result = this.path.replay(body.batchId, body.deliverToOriginal ?? false);
      if (!result) throw new HttpError(404, 'NOT_CAPTURED', 'batchId: no captured batch with that id', 'batchId');
      return [200, await result];
    });
    control('POST', '/swap', async (c) => {
      const body = checked<{ userA: string; userB: string; holdMs?: number }>(controlSchemas.swap, await c.body());
      if (body.userA === body.userB) throw badField('userB', 'must differ from userA');
      this.path.armSwap(body.userA, body.userB, body.holdMs ?? 5000);
      return [200, { armed: true }];
    });
    control('POST', '/inject', async (c) => {
      const body = checked<{ kmsMessages?: string[]; handshake?: { bearer: string; clientId?: string }; deliverTo?: string }>(controlSchemas.inject, await c.body());
      let messages = body.kmsMessages;
      if (body.handshake) {
        const built = this.path.buildHandshake(body.handshake.bearer, body.handshake.clientId ?? 'core-sim');
        if (!built) throw new HttpError(409, 'NO_STATIC_KEY', 'the core has no KMS static key cached yet');
        messages = [...(messages ?? []), built];
      }
      if (!messages || messages.length === 0) throw badField('kmsMessages', 'give kmsMessages or handshake');
      return [200, await this.path.inject(messages, body.deliverTo)];
    });
    control('GET', '/faults', () => [200, this.path.getFaults()]);
    control('PUT', '/faults', async (c) => [200, this.path.setFaults(checked<Partial<Faults>>(controlSchemas.faults, await c.body()))]);
    control('DELETE', '/faults', () => [200, this.path.setFaults({})]);
    control('PUT', '/discovery', async (c) => {
      const body = checked<{ rsaPublicKey?: Record<string, unknown>; generate?: boolean }>(controlSchemas.discovery, await c.body());
      if ((body.rsaPublicKey === undefined) === (body.generate !== true)) throw badField('rsaPublicKey', 'give exactly one of rsaPublicKey or generate: true');
      return [200, { rsaPublicKey: this.path.forgeDiscovery(body.rsaPublicKey ?? 'generate') }];
    });
    control('DELETE', '/discovery', () => (this.path.clearForgedDiscovery(), [204, undefined]));
  }
}

/** Control bodies (simulator only, not part of the contract). */
const userId = { $ref: S.schemaId('common') + '#/$defs/userId' };
const controlSchemas = {
  closeLinks: { type: 'object', properties: { nodeId: { type: 'string' }, mode: { enum: ['close', 'terminate'] } }, additionalProperties: false },
  replay: { type: 'object', required: ['batchId'], properties: { batchId: { $ref: S.schemaId('common') + '#/$defs/coreId' }, deliverToOriginal: { type: 'boolean' } }, additionalProperties: false },
  swap: { type: 'object', required: ['userA', 'userB'], properties: { userA: userId, userB: userId, holdMs: { type: 'integer', minimum: 1, maximum: 60000 } }, additionalProperties: false },
  inject: {
    type: 'object',
    properties: {
      kmsMessages: { $ref: S.schemaId('common') + '#/$defs/kmsMessages' },
      handshake: { type: 'object', required: ['bearer'], properties: { bearer: { type: 'string', minLength: 1, maxLength: 8192 }, clientId: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false },
      deliverTo: userId,
    },
    additionalProperties: false,
  },
  faults: {
    type: 'object',
    properties: {
      dropRequests: { type: 'integer', minimum: 0 },
      dropResponses: { type: 'integer', minimum: 0 },
      delayRequestsMs: { type: 'integer', minimum: 0, maximum: 600000 },
      delayResponsesMs: { type: 'integer', minimum: 0, maximum: 600000 },
      userId,
    },
    additionalProperties: false,
  },
  discovery: { type: 'object', properties: { rsaPublicKey: { $ref: S.schemaId('common') + '#/$defs/rsaPublicJwk' }, generate: { const: true } }, additionalProperties: false },
} as const;

/** The protected header of a content JWE must say dir + A256GCM (the core can read headers, nothing else). */
function contentHeader(field: string, jwe: string): void {
  try {
    const header = JSON.parse(Buffer.from(jwe.slice(0, jwe.indexOf('.')), 'base64url').toString('utf8')) as { alg?: unknown; enc?: unknown };
    if (header.alg === 'dir' && header.enc === 'A256GCM') return;
  } catch {
    // fall through
  }
  throw badField(field, 'must be a compact JWE whose protected header has alg "dir" and enc "A256GCM"');
}
