import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import {
  decryptDirA256Gcm,
  deriveChannelKey,
  encryptDirA256Gcm,
  encryptRsaOaepJwe,
  generateEphemeralP256,
  importP256PublicJwk,
  peekCompactHeader,
  verifyCompactJws,
} from '@realm/crypto';
import { KmsClientError } from './kms-client.error.js';
import { validateStaticKey } from './static-key-validation.js';

/** What a KMS discovery answers (GET /kms/discovery, or the core's relay of it). */
export interface KmsDiscovery {
  readonly kmsCluster: string;
  readonly rsaPublicKey: unknown;
}

/**
 * Carries batches to the KMS and brings responses back, possibly asynchronously and in any order
 * (Webex delivers them on its WebSocket): responses are matched by requestId, never by position.
 */
export interface KmsTransport {
  send(destination: string, messages: string[]): Promise<void>;
  onResponses(handler: (messages: string[]) => void): void;
}

/** A bearer access token, or a service key with its x5c certificate chain and a signer for the proof of possession. */
export type KmsClientCredential =
  | { readonly bearer: string }
  | { readonly jwk: Record<string, unknown>; readonly signProof: (payload: Buffer) => Promise<string> };

export interface KmsClientOptions {
  /**
   * This client's (device's) id, the same on every channel it opens: the KMS lets only the client
   * that created an unbound key read or bind it, so keys created under one clientId cannot be bound
   * under another.
   */
  readonly clientId: string;
  readonly discovery: () => Promise<KmsDiscovery>;
  readonly transport: KmsTransport;
  readonly credential: () => Promise<KmsClientCredential>;
  /** PEM CA roots for the KMS static key's chain. Empty: the client refuses every KMS. */
  readonly trustedRoots: readonly string[];
  readonly expectedDomain?: string;
  /** Webex: 6 s, doubling; renegotiate at 32 s; give up at 96 s. */
  readonly timeouts?: { readonly initialMs?: number; readonly renegotiateAfterMs?: number; readonly giveUpAfterMs?: number };
  /** Webex: 50 ms debounce, at most 50 messages per batch. */
  readonly batching?: { readonly debounceMs?: number; readonly maxBatch?: number };
  /** Renegotiate this long before the channel expires (Webex: 30 s). */
  readonly renewBeforeExpiryMs?: number;
}

export interface KmsKey {
  readonly uri: string;
  readonly jwk: { kty: 'oct'; kid: string; k: string };
  /** The 256-bit key. */
  readonly key: Buffer;
  readonly userId: string;
  readonly clientId: string;
  readonly createDate: Date;
  readonly expirationDate: Date;
  readonly bindDate?: Date;
  readonly resourceUri?: string;
}

export interface KmsResource {
  readonly uri: string;
  readonly authorizationUris: string[];
  readonly keyUris: string[];
}

export interface KmsAuthorization {
  readonly uri: string;
  readonly authId: string;
  readonly resourceUri: string;
  readonly createDate: Date;
}

interface Channel {
  readonly uri: string;
  readonly key: Buffer;
  readonly expiresAt: number;
}

interface Pending {
  readonly body: Record<string, unknown>;
  readonly started: number;
  requestId: string;
  timeoutMs: number;
  /** How many times it was sent. */
  attempts: number;
  timer?: NodeJS.Timeout;
  resolve(body: Record<string, unknown>): void;
  reject(error: unknown): void;
}

/**
 * Client SDK of the KMS protocol. It validates the KMS static key against configured roots (fail
 * closed), runs the ECDHE handshake, batches requests, matches responses by requestId, retries
 * with a doubling timeout under a new requestId (so the KMS's replay cache never refuses a retry),
 * renegotiates when a request is stuck, the channel expires, or the KMS says the channel is gone
 * or the static key was rotated, and returns typed results and errors.
 */
export class KmsClient {
  private staticKey: { kid: string; publicKey: KeyObject; cluster: string } | undefined;
  private channel: Channel | undefined;
  private negotiating: Promise<Channel> | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly handshakes = new Map<string, { resolve(token: string): void; reject(error: unknown): void; ephemeral: ReturnType<typeof generateEphemeralP256> }>();
  private queue: Pending[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly t: { initialMs: number; renegotiateAfterMs: number; giveUpAfterMs: number };
  private readonly b: { debounceMs: number; maxBatch: number };

  constructor(private readonly options: KmsClientOptions) {
    this.t = { initialMs: 6000, renegotiateAfterMs: 32_000, giveUpAfterMs: 96_000, ...options.timeouts };
    this.b = { debounceMs: 50, maxBatch: 50, ...options.batching };
    options.transport.onResponses((messages) => {
      for (const message of messages) this.receive(message);
    });
  }

  /** create /keys {count}: new unbound keys. */
  async createKeys(count: number): Promise<KmsKey[]> {
    const body = await this.request({ method: 'create', uri: '/keys', count });
    return (body.keys as Record<string, unknown>[]).map(toKey);
  }

  /** retrieve /keys/<id>; `onBehalfOf` for compliance retrievals (org-agent role). */
  async retrieveKey(uri: string, options: { onBehalfOf?: string } = {}): Promise<KmsKey> {
    const body = await this.request({ method: 'retrieve', uri }, options.onBehalfOf);
    return toKey(body.key as Record<string, unknown>);
  }

  /**
   * update /keys/<id> {resourceUri}. A bind retried after a lost response meets "already bound";
   * if the key is bound to the resource that was asked for, that is the success it looks like.
   */
  async bindKey(uri: string, resourceUri: string): Promise<KmsKey> {
    try {
      const body = await this.request({ method: 'update', uri, resourceUri });
      return toKey(body.key as Record<string, unknown>);
    } catch (error) {
      if (error instanceof KmsClientError && error.status === 409) {
        const key = await this.retrieveKey(uri);
        if (key.resourceUri === resourceUri) return key;
      }
      throw error;
    }
  }

  /**
   * create /resources {authIds, keyUris}. A creation retried after a lost or late answer meets its
   * keys already bound (409: keys are bound once); if the first attempt made the resource that was
   * asked for, that is the success it looks like, as for {@link bindKey}.
   */
  async createResource(options: { authIds?: string[]; keyUris?: string[] }): Promise<KmsResource> {
    try {
      const body = await this.request({ method: 'create', uri: '/resources', ...(options.authIds && { authIds: options.authIds }), ...(options.keyUris && { keyUris: options.keyUris }) });
      return body.resource as KmsResource;
    } catch (error) {
      if (error instanceof KmsClientError && error.status === 409 && options.keyUris && options.keyUris.length > 0) {
        const earlier = await this.resourceMadeOf(options.keyUris, options.authIds ?? []).catch(() => undefined);
        if (earlier) return earlier;
      }
      throw error;
    }
  }

  /**
   * The resource the caller's keys are bound to, if it holds exactly `keyUris` and authorizes every
   * one of `authIds`. Only the caller can bind its own unbound keys, so that resource is the one an
   * earlier attempt of the same creation made.
   */
  private async resourceMadeOf(keyUris: string[], authIds: string[]): Promise<KmsResource | undefined> {
    const { resourceUri } = await this.retrieveKey(keyUris[0]!);
    if (resourceUri === undefined) return undefined;
    const resource = await this.retrieveResource(resourceUri);
    const asked = new Set(keyUris);
    if (resource.keyUris.length !== asked.size || !resource.keyUris.every((uri) => asked.has(uri))) return undefined;
    const members = new Set((await this.listAuthorizations(resourceUri)).map((a) => a.authId));
    return authIds.every((id) => members.has(id)) ? resource : undefined;
  }

  async retrieveResource(uri: string, options: { onBehalfOf?: string } = {}): Promise<KmsResource> {
    const body = await this.request({ method: 'retrieve', uri }, options.onBehalfOf);
    return body.resource as KmsResource;
  }

  /** retrieve /resources/<id>/keys: newest first. */
  async resourceKeys(resourceUri: string, options: { boundAfter?: Date; boundBefore?: Date; count?: number; onBehalfOf?: string } = {}): Promise<KmsKey[]> {
    const body = await this.request(
      {
        method: 'retrieve',
        uri: `${resourceUri}/keys`,
        ...(options.boundAfter && { boundAfter: options.boundAfter.toISOString() }),
        ...(options.boundBefore && { boundBefore: options.boundBefore.toISOString() }),
        ...(options.count !== undefined && { count: options.count }),
      },
      options.onBehalfOf,
    );
    return (body.keys as Record<string, unknown>[]).map(toKey);
  }

  async createAuthorizations(resourceUri: string, authIds: string[]): Promise<KmsAuthorization[]> {
    const body = await this.request({ method: 'create', uri: '/authorizations', resourceUri, authIds });
    return (body.authorizations as Record<string, unknown>[]).map(toAuthorization);
  }

  async listAuthorizations(resourceUri: string, options: { authId?: string } = {}): Promise<KmsAuthorization[]> {
    const query = options.authId !== undefined ? `?authId=${encodeURIComponent(options.authId)}` : '';
    const body = await this.request({ method: 'retrieve', uri: `${resourceUri}/authorizations${query}` });
    return (body.authorizations as Record<string, unknown>[]).map(toAuthorization);
  }

  async deleteAuthorization(uri: string): Promise<KmsAuthorization> {
    const body = await this.request({ method: 'delete', uri });
    return toAuthorization(body.authorization as Record<string, unknown>);
  }

  /** delete <resource>/authorizations?authId=X (Webex "leave" and "remove participant"). */
  async removeFromResource(resourceUri: string, authId: string): Promise<KmsAuthorization[]> {
    const body = await this.request({ method: 'delete', uri: `${resourceUri}/authorizations?authId=${encodeURIComponent(authId)}` });
    return (body.authorizations as Record<string, unknown>[]).map(toAuthorization);
  }

  async ping(): Promise<void> {
    await this.request({ method: 'update', uri: '/ping' });
  }

  /** The channel URI in use (after the first request). */
  get channelUri(): string | undefined {
    return this.channel?.uri;
  }

  /** Deletes the channel at the KMS (draft §5.1) and stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    const channel = this.channel;
    if (channel) await this.request({ method: 'delete', uri: channel.uri }).catch(() => undefined);
    this.closed = true;
    clearTimeout(this.flushTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new KmsClientError('KMS_CLIENT_CLOSED', 'the KMS client was closed'));
    }
    this.pending.clear();
  }

  /** Forgets the channel, so the next request negotiates a new one. */
  dropChannel(): void {
    this.channel = undefined;
  }

  private request(fields: Record<string, unknown>, onBehalfOf?: string): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new KmsClientError('KMS_CLIENT_CLOSED', 'the KMS client was closed'));
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        body: { ...fields, ...(onBehalfOf !== undefined && { onBehalfOf }) },
        started: Date.now(),
        requestId: randomUUID(),
        timeoutMs: this.t.initialMs,
        attempts: 0,
        resolve,
        reject,
      };
      this.enqueue(pending);
    });
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending);
    if (this.queue.length >= this.b.maxBatch) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), this.b.debounceMs);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue.splice(0, this.b.maxBatch);
    if (this.queue.length > 0) this.flushTimer = setTimeout(() => void this.flush(), this.b.debounceMs);
    if (batch.length === 0) return;
    let channel: Channel;
    let credential: KmsClientCredential;
    try {
      channel = await this.ensureChannel();
      credential = await this.options.credential();
    } catch (error) {
      for (const p of batch) {
        if (!this.keepsRetrying(error, p)) {
          p.reject(error);
          continue;
        }
        // Pending (so that close() ends it) under a requestId that was never sent.
        this.pending.set(p.requestId, p);
        this.arm(p);
      }
      return;
    }
    const messages = batch.map((p) => {
      p.attempts++;
      this.pending.set(p.requestId, p);
      this.arm(p);
      const { onBehalfOf, ...fields } = p.body;
      const client = { clientId: this.options.clientId, credential: { ...credentialFields(credential), ...(onBehalfOf !== undefined && { onBehalfOf }) } };
      return encryptDirA256Gcm(channel.key, channel.uri, Buffer.from(JSON.stringify({ ...fields, uri: this.absolute(fields.uri as string), client, requestId: p.requestId })));
    });
    await this.options.transport.send(this.staticKey!.cluster, messages).catch(() => undefined);
  }

  /**
   * Whether a request whose channel could not be (re)negotiated keeps its retry schedule rather than
   * failing: when the handshake went unanswered (a core may drop or delay it), or when the transport
   * refused it while the request was already under way (a new request learns of an outage at once;
   * one that is retrying rides it out until giveUpAfterMs, as it does on an open channel). What the
   * KMS refused (an untrusted static key, a 401) fails at once.
   */
  private keepsRetrying(error: unknown, p: Pending): boolean {
    if (error instanceof KmsClientError) return error.code === 'KMS_CLIENT_TIMEOUT';
    return p.attempts > 0;
  }

  /** Doubling timeout per attempt; a stuck request renegotiates; past the deadline it fails. */
  private arm(p: Pending): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      this.pending.delete(p.requestId);
      const elapsed = Date.now() - p.started;
      if (elapsed >= this.t.giveUpAfterMs) {
        p.reject(new KmsClientError('KMS_CLIENT_TIMEOUT', `no answer from the KMS after ${Math.round(elapsed / 1000)} s`));
        return;
      }
      if (elapsed >= this.t.renegotiateAfterMs) this.channel = undefined;
      p.timeoutMs *= 2;
      p.requestId = randomUUID();
      this.enqueue(p);
    }, p.timeoutMs);
    p.timer.unref?.();
  }

  private receive(message: string): void {
    let kind: 'jws' | 'jwe';
    try {
      kind = peekCompactHeader(message).kind;
    } catch {
      return;
    }
    if (kind === 'jws') {
      this.receiveSigned(message);
      return;
    }
    const channel = this.channel;
    if (!channel) return;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(decryptDirA256Gcm(channel.key, message, { expectedKid: channel.uri }).plaintext.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    this.settle(body);
  }

  private receiveSigned(message: string): void {
    if (!this.staticKey) return;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(verifyCompactJws(message, this.staticKey.publicKey, { algorithms: ['PS256', 'RS256'], expectedKid: this.staticKey.kid }).payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      // Not signed by the KMS: whatever relayed it is not believed.
      return;
    }
    const requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
    const handshake = requestId !== undefined ? this.handshakes.get(requestId) : undefined;
    if (handshake) {
      this.handshakes.delete(requestId!);
      handshake.resolve(message);
      return;
    }
    const status = Number(body.status);
    if (status === 499 || status === 403) {
      // Reset (static key rotated) or channel gone: start over with what is in flight.
      this.channel = undefined;
      if (status === 499) this.staticKey = undefined;
      for (const handshake of this.handshakes.values()) handshake.reject(new KmsClientError('KMS_CLIENT_REQUEST_FAILED', 'the KMS reset the handshake', status));
      for (const p of [...this.pending.values()]) {
        this.pending.delete(p.requestId);
        clearTimeout(p.timer);
        p.requestId = randomUUID();
        this.enqueue(p);
      }
      return;
    }
    this.settle(body);
  }

  private settle(body: Record<string, unknown>): void {
    const requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
    const p = requestId !== undefined ? this.pending.get(requestId) : undefined;
    if (!p) return;
    this.pending.delete(requestId!);
    clearTimeout(p.timer);
    const status = Number(body.status);
    if (status >= 200 && status < 300) p.resolve(body);
    else p.reject(new KmsClientError('KMS_CLIENT_REQUEST_FAILED', `the KMS answered ${status}: ${typeof body.reason === 'string' ? body.reason : 'no reason given'}`, status));
  }

  private async ensureChannel(): Promise<Channel> {
    const renew = this.options.renewBeforeExpiryMs ?? 30_000;
    if (this.channel && this.channel.expiresAt - renew > Date.now()) return this.channel;
    this.negotiating ??= this.negotiate().finally(() => {
      this.negotiating = undefined;
    });
    return this.negotiating;
  }

  /** Negotiates; a reset during the handshake (the static key rotated) starts over with fresh discovery. */
  private async negotiate(): Promise<Channel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.handshake();
      } catch (error) {
        if (!(error instanceof KmsClientError && error.status === 499) || attempt >= 3) throw error;
        this.staticKey = undefined;
      }
    }
  }

  /** The ECDHE handshake (draft §5.1): a fresh P-256 key per handshake, RSA-OAEP to the static key, a signed answer. */
  private async handshake(): Promise<Channel> {
    if (!this.staticKey) {
      const discovery = await this.options.discovery();
      const validated = validateStaticKey(discovery.rsaPublicKey, { trustedRoots: this.options.trustedRoots, ...(this.options.expectedDomain !== undefined && { expectedDomain: this.options.expectedDomain }) });
      if (discovery.kmsCluster !== `kms://${validated.domain}`) throw new KmsClientError('KMS_CLIENT_UNTRUSTED_KMS', 'the KMS cluster does not match the static key');
      this.staticKey = { kid: validated.kid, publicKey: validated.publicKey, cluster: discovery.kmsCluster };
    }
    const { kid, publicKey, cluster } = this.staticKey;
    const ephemeral = generateEphemeralP256();
    const requestId = randomUUID();
    const credential = await this.options.credential();
    const proof = 'signProof' in credential ? await credential.signProof(Buffer.from(JSON.stringify({ aud: cluster, requestId, ephemeral: jwkThumbprint(ephemeral.publicJwk), iat: Math.floor(Date.now() / 1000) }))) : undefined;
    const body = {
      client: { clientId: this.options.clientId, credential: { ...credentialFields(credential), ...(proof !== undefined && { proof }) } },
      method: 'create',
      uri: `${cluster}/ecdhe`,
      requestId,
      jwk: ephemeral.publicJwk,
    };
    const answer = new Promise<string>((resolve, reject) => this.handshakes.set(requestId, { resolve, reject, ephemeral }));
    const timer = setTimeout(() => this.handshakes.get(requestId)?.reject(new KmsClientError('KMS_CLIENT_TIMEOUT', 'no answer to the ECDHE handshake')), this.t.renegotiateAfterMs);
    timer.unref?.();
    try {
      await this.options.transport.send(cluster, [encryptRsaOaepJwe(publicKey, kid, Buffer.from(JSON.stringify(body)))]);
      const signed = await answer;
      const response = JSON.parse(verifyCompactJws(signed, publicKey, { algorithms: ['PS256', 'RS256'], expectedKid: kid }).payload.toString('utf8')) as Record<string, unknown>;
      if (response.status !== 201) throw new KmsClientError('KMS_CLIENT_REQUEST_FAILED', `the KMS refused the handshake: ${Number(response.status)} ${typeof response.reason === 'string' ? response.reason : ''}`.trim(), Number(response.status));
      const key = response.key as Record<string, unknown>;
      const shared = deriveChannelKey(ephemeral.privateKey, importP256PublicJwk(key.jwk));
      const channel = { uri: String(key.uri), key: shared, expiresAt: Date.parse(String(key.expirationDate)) };
      if (!channel.uri.startsWith(`${cluster}/ecdhe/`) || Number.isNaN(channel.expiresAt)) throw new KmsClientError('KMS_CLIENT_PROTOCOL', 'the handshake answer is malformed');
      this.channel = channel;
      return channel;
    } finally {
      clearTimeout(timer);
      this.handshakes.delete(requestId);
    }
  }

  private absolute(uri: string): string {
    return uri.startsWith('/') ? `${this.staticKey!.cluster}${uri}` : uri;
  }
}

function credentialFields(credential: KmsClientCredential): Record<string, unknown> {
  return 'bearer' in credential ? { bearer: credential.bearer } : { jwk: credential.jwk };
}

/** RFC 7638 JWK thumbprint of an EC public key (SHA-256, base64url). */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
}

function toKey(raw: Record<string, unknown>): KmsKey {
  const jwk = raw.jwk as KmsKey['jwk'];
  return {
    uri: String(raw.uri),
    jwk,
    key: Buffer.from(jwk.k, 'base64url'),
    userId: String(raw.userId),
    clientId: String(raw.clientId),
    createDate: new Date(String(raw.createDate)),
    expirationDate: new Date(String(raw.expirationDate)),
    ...(raw.bindDate !== undefined && { bindDate: new Date(String(raw.bindDate)) }),
    ...(raw.resourceUri !== undefined && { resourceUri: String(raw.resourceUri) }),
  };
}

function toAuthorization(raw: Record<string, unknown>): KmsAuthorization {
  return { uri: String(raw.uri), authId: String(raw.authId), resourceUri: String(raw.resourceUri), createDate: new Date(String(raw.createDate)) };
}
