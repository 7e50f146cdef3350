import { createHash, randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

/**
 * What the core keeps, in SQLite (WAL, synchronous FULL: a write is on disk before it is
 * acknowledged). Exactly what a real core would hold: users and the hashes of its own session
 * tokens; rooms with their KRO URL, default key URL and (encrypted) title; participants; activities
 * as ciphertext with their key URL; blind-index tokens; the KMS static public key last fetched over
 * the link. No plaintext, no key, no KMS token ever reaches it.
 */

export type UserKind = 'person' | 'org-bot';

export interface User {
  userId: string;
  displayName: string;
  kind: UserKind;
  createdAt: string;
}

export interface Room {
  id: string;
  kmsResourceObjectUrl: string;
  defaultActivityEncryptionKeyUrl: string;
  encryptedTitle?: string;
  participants: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface Activity {
  id: string;
  seq: number;
  roomId: string;
  actorId: string;
  encryptedContent: string;
  encryptionKeyUrl: string;
  clientActivityId?: string;
  published: string;
}

export interface ActivityQuery {
  roomId?: string;
  actorId?: string;
  /** Only rooms this user participates in (persons); absent for org-bots. */
  visibleTo?: string;
  fromMs?: number;
  toMs?: number;
  afterSeq?: number;
  limit: number;
}

const TOKEN_LIFETIME_MS = 24 * 3600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, kind TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_tokens (
  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(user_id), expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (
  id TEXT PRIMARY KEY, kms_resource_object_url TEXT NOT NULL, default_activity_encryption_key_url TEXT NOT NULL,
  encrypted_title TEXT, created_by TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS room_participants (
  room_id TEXT NOT NULL REFERENCES rooms(id), user_id TEXT NOT NULL REFERENCES users(user_id), added_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id));
CREATE INDEX IF NOT EXISTS room_participants_user ON room_participants(user_id);
CREATE TABLE IF NOT EXISTS activities (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL REFERENCES rooms(id),
  actor_id TEXT NOT NULL, encrypted_content TEXT NOT NULL, encryption_key_url TEXT NOT NULL,
  client_activity_id TEXT, published INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS activities_client_id ON activities(room_id, actor_id, client_activity_id) WHERE client_activity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS activities_room ON activities(room_id, seq);
CREATE INDEX IF NOT EXISTS activities_actor ON activities(actor_id, seq);
CREATE INDEX IF NOT EXISTS activities_published ON activities(published);
CREATE TABLE IF NOT EXISTS blind_tokens (
  token TEXT NOT NULL, activity_id TEXT NOT NULL REFERENCES activities(id), PRIMARY KEY (token, activity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blind_tokens_activity ON blind_tokens(activity_id);
CREATE TABLE IF NOT EXISTS kms_discovery (
  kms_cluster TEXT PRIMARY KEY, rsa_public_key TEXT NOT NULL, fetched_at INTEGER NOT NULL);
`;

interface RoomRow {
  id: string;
  kms_resource_object_url: string;
  default_activity_encryption_key_url: string;
  encrypted_title: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

interface ActivityRow {
  seq: number;
  id: string;
  room_id: string;
  actor_id: string;
  encrypted_content: string;
  encryption_key_url: string;
  client_activity_id: string | null;
  published: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class CoreStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- users and the core's own tokens ----

  /** Creates the user if new; issues a new core token either way. */
  signIn(userId: string, displayName: string | undefined, kind: UserKind): { user: User; created: boolean; token: string; expiresAt: string } {
    const now = Date.now();
    return this.db.transaction(() => {
      let user = this.user(userId);
      const created = !user;
      if (!user) {
        this.db.prepare('INSERT INTO users (user_id, display_name, kind, created_at) VALUES (?, ?, ?, ?)').run(userId, displayName ?? userId, kind, now);
        user = { userId, displayName: displayName ?? userId, kind, createdAt: iso(now) };
      }
      const token = `cst_${randomBytes(32).toString('base64url')}`;
      this.db.prepare('DELETE FROM user_tokens WHERE expires_at < ?').run(now);
      this.db.prepare('INSERT INTO user_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)').run(hashToken(token), userId, now + TOKEN_LIFETIME_MS);
      return { user, created, token, expiresAt: iso(now + TOKEN_LIFETIME_MS) };
    })();
  }

  userByToken(token: string): User | undefined {
    const row = this.db.prepare('SELECT user_id FROM user_tokens WHERE token_hash = ? AND expires_at > ?').get(hashToken(token), Date.now()) as { user_id: string } | undefined;
    return row ? this.user(row.user_id) : undefined;
  }

  user(userId: string): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE user_id = ?').get(userId) as { user_id: string; display_name: string; kind: UserKind; created_at: number } | undefined;
    return row && { userId: row.user_id, displayName: row.display_name, kind: row.kind, createdAt: iso(row.created_at) };
  }

  missingUsers(userIds: readonly string[]): number[] {
    const stmt = this.db.prepare('SELECT 1 FROM users WHERE user_id = ?');
    return userIds.flatMap((id, i) => (stmt.get(id) ? [] : [i]));
  }

  // ---- rooms ----

  createRoom(input: { kmsResourceObjectUrl: string; defaultActivityEncryptionKeyUrl: string; encryptedTitle?: string; participants: string[]; createdBy: string }): Room {
    const id = randomUUID();
    const now = Date.now();
    const participants = [...new Set([input.createdBy, ...input.participants])];
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO rooms (id, kms_resource_object_url, default_activity_encryption_key_url, encrypted_title, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, input.kmsResourceObjectUrl, input.defaultActivityEncryptionKeyUrl, input.encryptedTitle ?? null, input.createdBy, now, now);
      const add = this.db.prepare('INSERT INTO room_participants (room_id, user_id, added_at) VALUES (?, ?, ?)');
      for (const userId of participants) add.run(id, userId, now);
    })();
    return this.room(id)!;
  }

  room(id: string): Room | undefined {
    const row = this.db.prepare('SELECT * FROM rooms WHERE id = ?').get(id) as RoomRow | undefined;
    return row && this.toRoom(row);
  }

  roomsOf(userId: string): Room[] {
    const rows = this.db
      .prepare('SELECT r.* FROM rooms r JOIN room_participants p ON p.room_id = r.id WHERE p.user_id = ? ORDER BY r.created_at, r.id')
      .all(userId) as RoomRow[];
    return rows.map((r) => this.toRoom(r));
  }

  isParticipant(roomId: string, userId: string): boolean {
    return this.db.prepare('SELECT 1 FROM room_participants WHERE room_id = ? AND user_id = ?').get(roomId, userId) !== undefined;
  }

  participants(roomId: string): string[] {
    return (this.db.prepare('SELECT user_id FROM room_participants WHERE room_id = ? ORDER BY added_at, user_id').all(roomId) as { user_id: string }[]).map((r) => r.user_id);
  }

  updateRoom(id: string, patch: { kmsResourceObjectUrl?: string; defaultActivityEncryptionKeyUrl?: string; encryptedTitle?: string }): Room {
    const room = this.room(id)!;
    this.db
      .prepare('UPDATE rooms SET kms_resource_object_url = ?, default_activity_encryption_key_url = ?, encrypted_title = ?, updated_at = ? WHERE id = ?')
      .run(
        patch.kmsResourceObjectUrl ?? room.kmsResourceObjectUrl,
        patch.defaultActivityEncryptionKeyUrl ?? room.defaultActivityEncryptionKeyUrl,
        patch.encryptedTitle ?? room.encryptedTitle ?? null,
        Date.now(),
        id,
      );
    return this.room(id)!;
  }

  addParticipant(roomId: string, userId: string): Room {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO room_participants (room_id, user_id, added_at) VALUES (?, ?, ?)').run(roomId, userId, Date.now());
      this.db.prepare('UPDATE rooms SET updated_at = ? WHERE id = ?').run(Date.now(), roomId);
    })();
    return this.room(roomId)!;
  }

  removeParticipant(roomId: string, userId: string): Room {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM room_participants WHERE room_id = ? AND user_id = ?').run(roomId, userId);
      this.db.prepare('UPDATE rooms SET updated_at = ? WHERE id = ?').run(Date.now(), roomId);
    })();
    return this.room(roomId)!;
  }

  private toRoom(row: RoomRow): Room {
    return {
      id: row.id,
      kmsResourceObjectUrl: row.kms_resource_object_url,
      defaultActivityEncryptionKeyUrl: row.default_activity_encryption_key_url,
      ...(row.encrypted_title !== null && { encryptedTitle: row.encrypted_title }),
      participants: this.participants(row.id),
      createdBy: row.created_by,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
    };
  }

  // ---- activities ----

  /** Inserts the activity, or returns the earlier one with the same clientActivityId (created false). */
  createActivity(input: { roomId: string; actorId: string; encryptedContent: string; encryptionKeyUrl: string; clientActivityId?: string }): { activity: Activity; created: boolean } {
    return this.db.transaction(() => {
      if (input.clientActivityId !== undefined) {
        const existing = this.db
          .prepare('SELECT * FROM activities WHERE room_id = ? AND actor_id = ? AND client_activity_id = ?')
          .get(input.roomId, input.actorId, input.clientActivityId) as ActivityRow | undefined;
        if (existing) return { activity: toActivity(existing), created: false };
      }
      const id = randomUUID();
      this.db
        .prepare('INSERT INTO activities (id, room_id, actor_id, encrypted_content, encryption_key_url, client_activity_id, published) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, input.roomId, input.actorId, input.encryptedContent, input.encryptionKeyUrl, input.clientActivityId ?? null, Date.now());
      return { activity: this.activity(id)!, created: true };
    })();
  }

  activity(id: string): Activity | undefined {
    const row = this.db.prepare('SELECT * FROM activities WHERE id = ?').get(id) as ActivityRow | undefined;
    return row && toActivity(row);
  }

  /** Activities in insertion order (seq), filtered; one more than `limit` tells whether a next page exists. */
  activities(query: ActivityQuery): { items: Activity[]; nextCursor: string | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.roomId !== undefined) (where.push('room_id = ?'), args.push(query.roomId));
    if (query.actorId !== undefined) (where.push('actor_id = ?'), args.push(query.actorId));
    if (query.visibleTo !== undefined) (where.push('room_id IN (SELECT room_id FROM room_participants WHERE user_id = ?)'), args.push(query.visibleTo));
    if (query.fromMs !== undefined) (where.push('published >= ?'), args.push(query.fromMs));
    if (query.toMs !== undefined) (where.push('published < ?'), args.push(query.toMs));
    if (query.afterSeq !== undefined) (where.push('seq > ?'), args.push(query.afterSeq));
    const sql = `SELECT * FROM activities ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, query.limit + 1) as ActivityRow[];
    const items = rows.slice(0, query.limit).map(toActivity);
    return { items, nextCursor: rows.length > query.limit ? String(items[items.length - 1]!.seq) : null };
  }

  // ---- blind index ----

  replaceBlindTokens(activityId: string, tokens: readonly string[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM blind_tokens WHERE activity_id = ?').run(activityId);
      const insert = this.db.prepare('INSERT INTO blind_tokens (token, activity_id) VALUES (?, ?)');
      for (const token of tokens) insert.run(token, activityId);
    })();
  }

  /** Activity ids holding all (or any) of the tokens, newest first. */
  matchBlindTokens(tokens: readonly string[], mode: 'all' | 'any', filter: { roomId?: string; visibleTo?: string }, limit: number): string[] {
    const where = [`b.token IN (${tokens.map(() => '?').join(', ')})`];
    const args: unknown[] = [...tokens];
    if (filter.roomId !== undefined) (where.push('a.room_id = ?'), args.push(filter.roomId));
    if (filter.visibleTo !== undefined) (where.push('a.room_id IN (SELECT room_id FROM room_participants WHERE user_id = ?)'), args.push(filter.visibleTo));
    const having = mode === 'all' ? `HAVING COUNT(DISTINCT b.token) = ${tokens.length}` : '';
    const sql = `SELECT a.id FROM blind_tokens b JOIN activities a ON a.id = b.activity_id WHERE ${where.join(' AND ')} GROUP BY a.seq ${having} ORDER BY a.seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, limit) as { id: string }[]).map((r) => r.id);
  }

  // ---- the KMS static public key, as last fetched over the link ----

  saveDiscovery(kmsCluster: string, rsaPublicKey: unknown): void {
    this.db
      .prepare('INSERT INTO kms_discovery (kms_cluster, rsa_public_key, fetched_at) VALUES (?, ?, ?) ON CONFLICT(kms_cluster) DO UPDATE SET rsa_public_key = excluded.rsa_public_key, fetched_at = excluded.fetched_at')
      .run(kmsCluster, JSON.stringify(rsaPublicKey), Date.now());
  }

  discovery(kmsCluster: string): Record<string, unknown> | undefined {
    const row = this.db.prepare('SELECT rsa_public_key FROM kms_discovery WHERE kms_cluster = ?').get(kmsCluster) as { rsa_public_key: string } | undefined;
    return row && (JSON.parse(row.rsa_public_key) as Record<string, unknown>);
  }
}

function toActivity(row: ActivityRow): Activity {
  return {
    id: row.id,
    seq: row.seq,
    roomId: row.room_id,
    actorId: row.actor_id,
    encryptedContent: row.encrypted_content,
    encryptionKeyUrl: row.encryption_key_url,
    ...(row.client_activity_id !== null && { clientActivityId: row.client_activity_id }),
    published: iso(row.published),
  };
}
