import { randomInt, randomUUID } from 'node:crypto';
import { decryptDirA256Gcm, encryptDirA256Gcm, peekCompactHeader } from '@realm/crypto';
import { CoreKmsTransport, HttpsKmsTransport, KmsClient, KmsClientError, type KmsClientOptions, type KmsDiscovery, type KmsKey, type KmsTransport } from '@realm/kms-client';
import type WebSocket from 'ws';
import { type CoreActivity, CoreApi, type CoreEvent, type CoreOptions, type CoreRoom } from './core-api.js';
import { type AuthorizationServerOptions, type Authorize, OAuthSession } from './oauth-session.js';
import { RealmClientError } from './realm-client.error.js';

export interface KmsRouteOptions {
  /** PEM CA roots the KMS static key's x5c chain must lead to (docs/kms.md). Empty: every KMS is refused. */
  readonly trustedRoots: readonly string[];
  /** The KMS domain, e.g. kms.realm.test: the static key must name it, and keys must live under kms://<domain>/. */
  readonly domain: string;
  /**
   * How KMS messages travel. `core` (the default, narrow-api §4.1): relayed by the core, answers on
   * the events socket. `appliance`: POST /kms/messages on the appliance directly, for clients inside
   * the enterprise network.
   */
  readonly route?: { readonly via: 'core' } | { readonly via: 'appliance'; readonly url: string; readonly ca: string | Buffer };
  readonly timeouts?: KmsClientOptions['timeouts'];
}

export interface RealmClientOptions {
  readonly core: CoreOptions;
  readonly authorizationServer: AuthorizationServerOptions;
  readonly kms: KmsRouteOptions;
  /** The KMS clientId of this device (default: a random one per client). */
  readonly deviceId?: string;
  /** Shown by the core next to the user id. */
  readonly displayName?: string;
}

/** A room as this client sees it. */
export interface Room {
  readonly id: string;
  /** The KRO whose authorizations are the room's members in the KMS. */
  readonly kmsResourceObjectUrl: string;
  /** The key new messages are encrypted under. */
  readonly currentKeyUrl: string;
  /** The core's participant list (routing; the KMS decides who gets keys). */
  readonly participants: readonly string[];
}

/** A decrypted message. */
export interface Message {
  readonly id: string;
  readonly seq: number;
  readonly roomId: string;
  readonly senderId: string;
  readonly text: string;
  readonly published: string;
  readonly keyUrl: string;
  /** What the core holds: keep it to read the message again later (keys stay in this client's memory). */
  readonly activity: CoreActivity;
}

/** A message this client could not read, and why (typically REALM_CLIENT_KEY_REFUSED). */
export interface UnreadableMessage {
  readonly activity: CoreActivity;
  readonly error: RealmClientError;
}

export type MessageListener = (message: Message | UnreadableMessage) => void;

const KEY_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The reference client: what a Webex-like app embeds. It signs in (OAuth code + PKCE through the
 * appliance's SAML login), talks to the core with the core's own token, and to the KMS end to end
 * through the core (or directly) with the KMS access token inside the encrypted KMS messages.
 *
 * Content is a compact JWE `dir` + `A256GCM` under the room's current KMS key, whose `kid` is the
 * key URI (as Webex clients encrypt activities); the core stores the ciphertext and the key URL and
 * nothing else. Keys fetched from the KMS are kept in memory for the client's life, so history
 * stays readable after a rotation; a member removed from a room keeps what it already holds and
 * cannot fetch what comes after.
 */
export class RealmClient {
  private readonly keys = new Map<string, Promise<KmsKey>>();
  /** Room id → its KRO, pinned at first sight: a core that swaps a room's KRO is refused. */
  private readonly pinnedKros = new Map<string, string>();
  private readonly listeners = new Set<MessageListener>();
  private events: WebSocket | undefined;
  private lastSeq = 0;
  private closed = false;
  private delivery: Promise<void> = Promise.resolve();
  private reconnectTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: RealmClientOptions,
    private readonly session: OAuthSession,
    private readonly core: CoreApi,
    private readonly kms: KmsClient,
    /** The KMS transport through the core, with its own events socket for the KMS answers. */
    private readonly relay: CoreKmsTransport | undefined,
  ) {}

  /**
   * Signs the user in: `authorize` takes the user through the authorization URL (SAML at the
   * enterprise IdP on the way) and returns the redirect URL with the code. Then the core token, the
   * events socket, and a KMS client whose credential is the access token (refreshed as needed).
   */
  static async signIn(options: RealmClientOptions, authorize: Authorize): Promise<RealmClient> {
    if (!/^[a-z0-9.-]{1,253}$/.test(options.kms.domain)) throw new RealmClientError('REALM_CLIENT_SIGN_IN_FAILED', `kms.domain: ${options.kms.domain} is not a DNS name`);
    const session = await OAuthSession.signIn(options.authorizationServer, authorize);
    const core = new CoreApi(options.core);
    await core.signIn(session.subject, options.displayName);
    const route = options.kms.route ?? { via: 'core' };
    let transport: KmsTransport;
    let discovery: () => Promise<KmsDiscovery>;
    let relay: CoreKmsTransport | undefined;
    if (route.via === 'core') {
      relay = new CoreKmsTransport({ url: options.core.url, ca: options.core.ca, coreToken: () => core.coreToken() });
      transport = relay;
      discovery = () => relay!.discovery(options.kms.domain);
    } else {
      const direct = new HttpsKmsTransport(route.url, route.ca);
      transport = direct;
      discovery = () => direct.discovery();
    }
    const kms = new KmsClient({
      clientId: options.deviceId ?? `realm-client-${randomUUID()}`,
      discovery,
      transport,
      credential: async () => ({ bearer: await session.accessToken() }),
      trustedRoots: options.kms.trustedRoots,
      expectedDomain: options.kms.domain,
      batching: { debounceMs: 5, maxBatch: 50 },
      ...(options.kms.timeouts && { timeouts: options.kms.timeouts }),
    });
    const client = new RealmClient(options, session, core, kms, relay);
    try {
      await client.connectEvents();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The user's id: the principal id at the appliance, which is both the KMS authId and the core user id. */
  get userId(): string {
    return this.session.subject;
  }

  /**
   * Creates a room: one unbound key, a KRO authorizing the creator and `members` and binding the
   * key in the same request (all or nothing at the KMS), then the room on the core with the KRO and
   * the key as its default.
   */
  async createRoom(input: { members: readonly string[] }): Promise<Room> {
    this.open();
    const members = [...new Set(input.members.filter((m) => m !== this.userId))];
    const [key] = await this.kmsCall(() => this.kms.createKeys(1), 'create a key');
    const resource = await this.kmsCall(() => this.kms.createResource({ authIds: [this.userId, ...members], keyUris: [key!.uri] }), 'create the room resource');
    this.keys.set(key!.uri, Promise.resolve({ ...key!, resourceUri: resource.uri }));
    const room = await this.core.call<CoreRoom>('POST', '/rooms', { kmsResourceObjectUrl: resource.uri, defaultActivityEncryptionKeyUrl: key!.uri, participants: [this.userId, ...members] });
    return this.trusted(room);
  }

  /** The room as the core has it now (its current key may have been rotated by another member). */
  async room(roomId: string): Promise<Room> {
    this.open();
    return this.trusted(await this.core.call<CoreRoom>('GET', `/rooms/${encodeURIComponent(roomId)}`));
  }

  /**
   * Sends `text`: encrypted under the room's current key, which must be bound to the room's KRO
   * (so a core cannot steer the content to another audience), with a clientActivityId that makes a
   * retry idempotent. The core gets the ciphertext and the key URL only.
   */
  async send(roomId: string, text: string): Promise<Message> {
    const room = await this.room(roomId);
    const key = await this.key(room.currentKeyUrl);
    if (key.resourceUri !== room.kmsResourceObjectUrl) {
      throw new RealmClientError('REALM_CLIENT_UNTRUSTED_ROOM_KEY', `the room's current key is not bound to the room's KMS resource: not encrypting to it (room ${room.id})`);
    }
    const encryptedContent = encryptDirA256Gcm(key.key, key.uri, Buffer.from(text, 'utf8'));
    const body = { encryptedContent, encryptionKeyUrl: key.uri, clientActivityId: randomUUID() };
    let activity: CoreActivity;
    try {
      activity = await this.core.call<CoreActivity>('POST', `/rooms/${encodeURIComponent(room.id)}/activities`, body);
    } catch (error) {
      // One retry of a lost answer: the same clientActivityId returns the first activity (narrow-api §4.4).
      if (!(error instanceof RealmClientError && error.code === 'REALM_CLIENT_UNREACHABLE')) throw error;
      activity = await this.core.call<CoreActivity>('POST', `/rooms/${encodeURIComponent(room.id)}/activities`, body);
    }
    return { id: activity.id, seq: activity.seq, roomId: activity.roomId, senderId: activity.actorId, text, published: activity.published, keyUrl: key.uri, activity };
  }

  /** Every activity of the room the core lists, decrypted where this client can get the key. */
  async history(roomId: string): Promise<(Message | UnreadableMessage)[]> {
    this.open();
    const activities: CoreActivity[] = [];
    let after: string | null = null;
    do {
      const page: { items: CoreActivity[]; nextCursor: string | null } = await this.core.call('GET', `/rooms/${encodeURIComponent(roomId)}/activities?limit=500${after !== null ? `&after=${after}` : ''}`);
      activities.push(...page.items);
      after = page.nextCursor;
    } while (after !== null);
    return Promise.all(activities.map((a) => this.read(a)));
  }

  /** Decrypts one activity, fetching its key from the KMS unless this client already holds it. */
  async decrypt(activity: CoreActivity): Promise<Message> {
    this.open();
    const key = await this.key(activity.encryptionKeyUrl);
    const pinned = this.pinnedKros.get(activity.roomId);
    if (pinned !== undefined && key.resourceUri !== pinned) throw new RealmClientError('REALM_CLIENT_UNTRUSTED_ROOM_KEY', `activity ${activity.id} names a key that is not bound to its room's KMS resource`);
    let plaintext: Buffer;
    try {
      plaintext = decryptDirA256Gcm(key.key, activity.encryptedContent, { expectedKid: key.uri }).plaintext;
    } catch (error) {
      throw new RealmClientError('REALM_CLIENT_UNDECRYPTABLE', `activity ${activity.id} does not decrypt under the key it names`, undefined, undefined, { cause: error });
    }
    return { id: activity.id, seq: activity.seq, roomId: activity.roomId, senderId: activity.actorId, text: plaintext.toString('utf8'), published: activity.published, keyUrl: key.uri, activity };
  }

  /** New messages in the user's rooms, in order, as the events socket brings them. Returns the unsubscribe. */
  onMessage(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a member: an authorization on the room's KRO (the KMS hands them its keys), then the core's participant. */
  async addMember(roomId: string, userId: string): Promise<Room> {
    const room = await this.room(roomId);
    await this.kmsCall(() => this.kms.createAuthorizations(room.kmsResourceObjectUrl, [userId]), 'authorize the member');
    return this.trusted(await this.core.call<CoreRoom>('POST', `/rooms/${encodeURIComponent(room.id)}/participants`, { userId }));
  }

  /**
   * Removes a member and rotates the room key (narrow-api §4.3): the member's authorization on the
   * KRO goes first, so they cannot fetch the new key; then a new key bound to the KRO, the core's
   * participant, and the new key as the room's default. What was sent before stays readable to
   * whoever already holds those keys.
   */
  async removeMember(roomId: string, userId: string): Promise<Room> {
    const room = await this.room(roomId);
    if (userId === this.userId) throw new RealmClientError('REALM_CLIENT_INVALID_ARGUMENT', 'a member cannot remove themselves with removeMember: leaving does not rotate the key; another member removes them');
    await this.kmsCall(() => this.kms.removeFromResource(room.kmsResourceObjectUrl, userId), 'remove the member from the room resource');
    const keyUrl = await this.newBoundKey(room);
    if (room.participants.includes(userId)) await this.core.call('DELETE', `/rooms/${encodeURIComponent(room.id)}/participants/${encodeURIComponent(userId)}`);
    return this.trusted(await this.core.call<CoreRoom>('PATCH', `/rooms/${encodeURIComponent(room.id)}`, { defaultActivityEncryptionKeyUrl: keyUrl }));
  }

  /** A new key bound to the room's KRO becomes the room's default. */
  async rotateKey(roomId: string): Promise<Room> {
    const room = await this.room(roomId);
    const keyUrl = await this.newBoundKey(room);
    return this.trusted(await this.core.call<CoreRoom>('PATCH', `/rooms/${encodeURIComponent(room.id)}`, { defaultActivityEncryptionKeyUrl: keyUrl }));
  }

  /** The URIs of the keys this client holds. */
  heldKeyUris(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * For leak scans in tests and the demo's evidence: the base64url of every key this client holds
   * and the OAuth tokens of its session. Never log or send these.
   */
  async secretsForLeakScan(): Promise<{ keys: string[]; tokens: string[] }> {
    const keys = await Promise.allSettled([...this.keys.values()]);
    return { keys: keys.flatMap((k) => (k.status === 'fulfilled' ? [k.value.jwk.k] : [])), tokens: this.session.secretsForLeakScan() };
  }

  /** Closes the events socket, deletes the KMS channel, revokes the refresh token. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.kms.close().catch(() => undefined);
    this.relay?.close();
    this.events?.close(1000);
    this.events = undefined;
    await this.session.signOut();
    this.core.forget();
    this.keys.clear();
  }

  private async newBoundKey(room: Room): Promise<string> {
    const [key] = await this.kmsCall(() => this.kms.createKeys(1), 'create a key');
    const bound = await this.kmsCall(() => this.kms.bindKey(key!.uri, room.kmsResourceObjectUrl), 'bind the new key to the room resource');
    this.keys.set(bound.uri, Promise.resolve(bound));
    return bound.uri;
  }

  /** A key by URI: from this client's memory, or retrieved from the KMS (one retrieval per URI at a time). */
  private key(uri: string): Promise<KmsKey> {
    this.open();
    const prefix = `kms://${this.options.kms.domain}/keys/`;
    if (!uri.startsWith(prefix) || !KEY_ID.test(uri.slice(prefix.length))) {
      return Promise.reject(new RealmClientError('REALM_CLIENT_UNTRUSTED_ROOM_KEY', `the key URL is not a key of kms://${this.options.kms.domain}`));
    }
    let key = this.keys.get(uri);
    if (!key) {
      key = this.kmsCall(() => this.kms.retrieveKey(uri), 'retrieve the key');
      this.keys.set(uri, key);
      // A refusal is not cached: the user may be authorized later.
      key.catch(() => this.keys.delete(uri));
    }
    return key;
  }

  private async kmsCall<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof KmsClientError && error.code === 'KMS_CLIENT_REQUEST_FAILED' && (error.status === 404 || error.status === 403)) {
        throw new RealmClientError('REALM_CLIENT_KEY_REFUSED', `the KMS refused to ${what}: ${error.message}`, error.status, undefined, { cause: error });
      }
      if (error instanceof KmsClientError) {
        const code = error.code === 'KMS_CLIENT_UNTRUSTED_KMS' ? 'REALM_CLIENT_UNTRUSTED_KMS' : error.code === 'KMS_CLIENT_CLOSED' ? 'REALM_CLIENT_CLOSED' : 'REALM_CLIENT_UNREACHABLE';
        throw new RealmClientError(code, `could not ${what}: ${error.message}`, error.status, undefined, { cause: error });
      }
      if (error instanceof RealmClientError) throw error;
      // The transport's own failures (the core refusing a batch or discovery, a network error).
      throw new RealmClientError('REALM_CLIENT_UNREACHABLE', `could not ${what}: ${error instanceof Error ? error.message : String(error)}`, undefined, undefined, { cause: error });
    }
  }

  /** The room, with its KRO pinned at first sight: a later change of KRO is the core lying. */
  private trusted(room: CoreRoom): Room {
    const pinned = this.pinnedKros.get(room.id);
    if (pinned !== undefined && pinned !== room.kmsResourceObjectUrl) {
      throw new RealmClientError('REALM_CLIENT_UNTRUSTED_ROOM_KEY', `the core changed the KMS resource of room ${room.id}`);
    }
    this.pinnedKros.set(room.id, room.kmsResourceObjectUrl);
    return { id: room.id, kmsResourceObjectUrl: room.kmsResourceObjectUrl, currentKeyUrl: room.defaultActivityEncryptionKeyUrl, participants: [...room.participants] };
  }

  private async read(activity: CoreActivity): Promise<Message | UnreadableMessage> {
    try {
      return await this.decrypt(activity);
    } catch (error) {
      if (error instanceof RealmClientError && error.code !== 'REALM_CLIENT_CLOSED') return { activity, error };
      throw error;
    }
  }

  private async connectEvents(): Promise<void> {
    this.events = await this.core.openEvents((event) => this.onEvent(event), this.lastSeq > 0 ? this.lastSeq : undefined);
    this.events.on('close', () => {
      if (this.closed) return;
      this.events = undefined;
      this.scheduleReconnect(1);
    });
  }

  /** Reconnects the events socket with backoff and full jitter; `activitiesSince` replays what was missed. */
  private scheduleReconnect(attempt: number): void {
    const delay = (randomInt(0, 2 ** 47) / 2 ** 47) * Math.min(30_000, 250 * 2 ** attempt);
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      this.connectEvents().catch(() => this.scheduleReconnect(attempt + 1));
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private onEvent(event: CoreEvent): void {
    switch (event.type) {
      case 'activity.created': {
        const activity = event.activity;
        if (typeof activity?.seq !== 'number' || activity.seq <= this.lastSeq) return;
        this.lastSeq = activity.seq;
        if (!isContentJwe(activity.encryptedContent)) return;
        // One at a time, so listeners see messages in the core's order.
        this.delivery = this.delivery.then(async () => {
          if (this.closed || this.listeners.size === 0) return;
          const message = await this.read(activity).catch(() => undefined);
          if (message) for (const listener of this.listeners) listener(message);
        });
        return;
      }
      default:
        // ready; kms.response and kms.failed belong to the KMS transport's own socket.
        return;
    }
  }

  private open(): void {
    if (this.closed) throw new RealmClientError('REALM_CLIENT_CLOSED', 'the client was closed');
  }
}

function isContentJwe(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const { kind, header } = peekCompactHeader(value);
    return kind === 'jwe' && header.alg === 'dir' && header.enc === 'A256GCM';
  } catch {
    return false;
  }
}
