import WebSocket from 'ws';
import { httpsCall, jsonObject } from './https-json.js';
import { RealmClientError } from './realm-client.error.js';

/** The hosted core, as a client reaches it (docs/narrow-api.md §4). */
export interface CoreOptions {
  /** https://<core host>[:port] */
  readonly url: string;
  /** PEM CA(s) for the core's TLS certificate. */
  readonly ca: string | Buffer;
}

/** A room as the core stores it (narrow-api §6.3 `room`). */
export interface CoreRoom {
  readonly id: string;
  readonly kmsResourceObjectUrl: string;
  readonly defaultActivityEncryptionKeyUrl: string;
  readonly encryptedTitle?: string;
  readonly participants: string[];
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An activity as the core stores it (narrow-api §6.4 `activity`): ciphertext and the URL of its key. */
export interface CoreActivity {
  readonly id: string;
  readonly seq: number;
  readonly roomId: string;
  readonly actorId: string;
  readonly encryptedContent: string;
  readonly encryptionKeyUrl: string;
  readonly clientActivityId?: string;
  readonly published: string;
}

export type CoreEvent =
  | { readonly type: 'ready'; readonly connectionId: string; readonly userId: string }
  | { readonly type: 'kms.response'; readonly batchId: string; readonly kmsMessages: string[] }
  | { readonly type: 'kms.failed'; readonly batchId: string; readonly status: number; readonly code: string; readonly message: string }
  | { readonly type: 'activity.created'; readonly activity: CoreActivity };

/**
 * The core's client API with the user's core token (`cst_...`, narrow-api §2.3). The token is the
 * core's own and worthless to the KMS; the KMS access token is never sent here.
 */
export class CoreApi {
  private token: string | undefined;

  constructor(readonly options: CoreOptions) {}

  /** POST /users: creates the user on first sign-in and issues a core token. */
  async signIn(userId: string, displayName?: string): Promise<void> {
    const body = await this.call<{ token: string }>('POST', '/users', { userId, ...(displayName !== undefined && { displayName }) }, false);
    if (typeof body.token !== 'string' || !/^cst_[A-Za-z0-9_-]{43}$/.test(body.token)) throw new RealmClientError('REALM_CLIENT_UNREACHABLE', 'POST /users: the core answered no core token');
    this.token = body.token;
  }

  async call<T>(method: string, path: string, body?: unknown, authenticated = true): Promise<T> {
    const headers: Record<string, string> = {};
    if (authenticated) headers.authorization = `Bearer ${this.requireToken()}`;
    const answer = await httpsCall(method, `${this.options.url}${path}`, this.options.ca, { ...(body !== undefined && { body: JSON.stringify(body) }), headers });
    const route = `${method} ${routeOf(path)}`;
    if (answer.status >= 400) {
      let code: string | undefined;
      let message = `HTTP ${answer.status}`;
      try {
        const error = (JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } }).error;
        if (typeof error?.code === 'string') code = error.code;
        if (typeof error?.message === 'string') message = error.message.slice(0, 300);
      } catch {
        // not the contract's error body: keep the status
      }
      throw new RealmClientError('REALM_CLIENT_CORE_REFUSED', `${route}: the core answered ${answer.status}${code ? ` ${code}` : ''}: ${message}`, answer.status, code);
    }
    if (answer.status === 204) return undefined as T;
    return jsonObject(answer, route) as T;
  }

  /**
   * Opens GET /events (WebSocket, narrow-api §4.2) and resolves once the core says `ready`.
   * `activitiesSince` replays newer activities first, so a reconnecting client misses nothing.
   */
  openEvents(onEvent: (event: CoreEvent) => void, activitiesSince?: number): Promise<WebSocket> {
    const url = new URL('/events', this.options.url.replace(/^https:/, 'wss:'));
    if (activitiesSince !== undefined) url.searchParams.set('activitiesSince', String(activitiesSince));
    const ws = new WebSocket(url, { ca: this.options.ca, headers: { authorization: `Bearer ${this.requireToken()}` }, maxPayload: 16 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      let ready = false;
      ws.on('unexpected-response', (_req, res) => {
        reject(new RealmClientError('REALM_CLIENT_CORE_REFUSED', `GET /events: the core refused the WebSocket upgrade with HTTP ${res.statusCode}`, res.statusCode));
        ws.terminate();
      });
      ws.on('error', (error) => {
        if (!ready) reject(new RealmClientError('REALM_CLIENT_UNREACHABLE', `GET /events: ${error.message}`, undefined, undefined, { cause: error }));
      });
      ws.on('message', (data, isBinary) => {
        // The core sends only text frames of one JSON object each; anything else is ignored.
        if (isBinary) return;
        let event: CoreEvent;
        try {
          event = JSON.parse(data.toString()) as CoreEvent;
        } catch {
          return;
        }
        if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
        if (event.type === 'ready' && !ready) {
          ready = true;
          resolve(ws);
        }
        onEvent(event);
      });
    });
  }

  /** The core token, for the KMS transport through the core (its events socket and POST /kms/messages). */
  coreToken(): string {
    return this.requireToken();
  }

  private requireToken(): string {
    if (this.token === undefined) throw new RealmClientError('REALM_CLIENT_CLOSED', 'not signed in to the core');
    return this.token;
  }

  /** Forgets the core token. */
  forget(): void {
    this.token = undefined;
  }
}

/** A path without ids, for messages: /rooms/{id}/participants/{id}. */
function routeOf(path: string): string {
  return path
    .split('?')[0]!
    .split('/')
    .map((segment, i, all) => (i > 0 && ['rooms', 'participants', 'activities', 'kms'].includes(all[i - 1]!) && segment !== '' ? '{id}' : segment))
    .join('/');
}
