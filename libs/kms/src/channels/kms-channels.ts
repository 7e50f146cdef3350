import { createHash, createSecretKey, type KeyObject, randomInt, randomUUID } from 'node:crypto';
import type { RealmConfig } from '@realm/config';
import { deriveChannelKey, generateEphemeralP256, importP256PublicJwk } from '@realm/crypto';
import { type Database, isDeadlock, isForeignKeyViolation, isUniqueViolation, type Tx } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { KmsError, staticKeyReset } from '../kms.error.js';
import type { KmsChannelRow } from '../kms.entities.js';
import type { KmsUris } from '../protocol/kms-uris.js';
import type { KmsChannelRepository } from '../repositories/channel.repository.js';
import { newReplayKey } from './replay-key.js';
import { SeenRequestIds } from './seen-request-ids.js';

/** An open ECDHE channel: who negotiated it and the shared key (never leaves the process). */
export interface OpenChannel {
  readonly row: KmsChannelRow;
  readonly key: KeyObject;
}

/** The KMS half of a new channel, returned to the client in the signed ECDHE response. */
export interface NegotiatedChannel {
  readonly uri: string;
  readonly jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  readonly createDate: Date;
  readonly expirationDate: Date;
}

const CACHE_LIMIT = 10_000;
// How many times a transaction recording requests runs when it loses a race with another node.
const RECORDING_ATTEMPTS = 5;
// Longer than any credential a handshake can carry stays valid: access tokens live at most one
// hour (identity.accessTokenLifetime), proofs of possession minutes; plus clock tolerance.
const HANDSHAKE_RETENTION_MS = 2 * 3600 * 1000;

/**
 * ECDHE channels (draft §5.1): P-256 key agreement, then HKDF-SHA256 with an empty salt to a
 * 256-bit key whose kid is the ephemeral key's URI. Channels live in the database, the shared key
 * sealed by the vault, so a channel negotiated on one node serves requests on every node; each
 * node caches what it has opened. Lifetime is at most `kms.channelLifetime` (one hour at most).
 */
export class KmsChannels {
  private readonly cache = new Map<string, OpenChannel>();

  constructor(
    private readonly db: Database,
    private readonly vault: KeyVault,
    private readonly channels: KmsChannelRepository,
    private readonly uris: KmsUris,
    private readonly config: RealmConfig['kms'],
    private readonly clock: () => number = Date.now,
    private readonly seenRequestIds = new SeenRequestIds(),
  ) {}

  /**
   * Runs the KMS side of the handshake for an authenticated principal. `handshake` is the compact
   * JWE as received: it is recorded with the channel, so the same handshake replayed (by a relay
   * that captured it) opens nothing, on any node, for as long as a credential it carries can be
   * valid — it would not give the relay the channel key, but it would change the KMS's state.
   */
  async negotiate(principalId: string, clientId: string, clientJwk: unknown, staticKeyUri: string, handshake: string): Promise<NegotiatedChannel> {
    let peer: KeyObject;
    try {
      peer = importP256PublicJwk(clientJwk);
    } catch {
      throw new KmsError('KMS_BAD_REQUEST', 'jwk must be an EC public key on P-256 (kty EC, crv P-256, x and y of 32 bytes, a point on the curve)');
    }
    const ephemeral = generateEphemeralP256();
    const shared = deriveChannelKey(ephemeral.privateKey, peer);
    const now = new Date(this.clock());
    const row: KmsChannelRow = {
      uri: this.uris.of('ecdhe', randomUUID()),
      principalId,
      clientId,
      staticKeyUri,
      createDate: now,
      expirationDate: new Date(now.getTime() + this.config.channelLifetimeSeconds * 1000),
      replayKey: newReplayKey(),
    };
    const sealed = await this.vault.seal(row.uri, shared);
    const digest = createHash('sha256').update(handshake, 'utf8').digest('hex');
    try {
      await this.db.write(async (tx) => {
        await this.channels.insertHandshake({ digest, expiresAt: new Date(now.getTime() + HANDSHAKE_RETENTION_MS) }, tx);
        await this.channels.insert(row, tx);
        await this.vault.store([sealed], tx);
      });
    } catch (error) {
      shared.fill(0);
      if (isUniqueViolation(error)) throw new KmsError('KMS_REPLAY', 'this handshake was already used: negotiate with a new ephemeral key');
      throw error;
    }
    this.remember({ row, key: createSecretKey(shared) });
    shared.fill(0);
    return { uri: row.uri, jwk: ephemeral.publicJwk, createDate: row.createDate, expirationDate: row.expirationDate };
  }

  /** The channel named by a message's kid, or undefined when unknown, expired or deleted. */
  async find(uri: string): Promise<OpenChannel | undefined> {
    let channel = this.cache.get(uri);
    if (!channel) {
      const row = await this.channels.find(uri);
      if (!row) return undefined;
      const key = await this.vault.getKey(uri).catch(() => undefined);
      if (!key) return undefined;
      channel = { row, key: createSecretKey(key) };
      key.fill(0);
      this.remember(channel);
    }
    if (channel.row.expirationDate.getTime() <= this.clock()) {
      this.forgetChannel(uri);
      return undefined;
    }
    return channel;
  }

  /**
   * Records the requestIds of a batch, each once per channel on every node, in one transaction (one
   * commit for the whole batch). For each entry: undefined when it is new, or the error to answer:
   * a replay, a channel that another node deleted, or a channel opened under a static key that is
   * no longer the active one (`activeStaticKeyUri`, read in the same transaction).
   */
  async recordRequests(entries: readonly { channelUri: string; requestId: string }[], activeStaticKeyUri: (tx: Tx) => Promise<string | undefined>): Promise<(KmsError | undefined)[]> {
    if (entries.length === 0) return [];
    return KmsChannels.retryingRaces(() => this.db.write(async (tx) => this.recordRequestsIn(entries, tx, await activeStaticKeyUri(tx))));
  }

  /**
   * Runs a transaction that records requests ({@link recordRequestsIn}) until it does not lose a
   * race ({@link isRecordingRace}), at most {@link RECORDING_ATTEMPTS} times, a few milliseconds
   * apart (jittered, so that two nodes that collided do not collide again).
   */
  static async retryingRaces<T>(transaction: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transaction();
      } catch (error) {
        if (attempt >= RECORDING_ATTEMPTS || !KmsChannels.isRecordingRace(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt * (1 + randomInt(5))));
      }
    }
  }

  /**
   * {@link recordRequests} in the caller's transaction. For each channel of the batch: its row is
   * locked (PostgreSQL; SQLite's write transaction has the database's lock), the rows of its replay
   * log that this node has not seen are read, the batch's requestIds are checked against both, and
   * one log row with the new ones is appended. So a requestId is new on exactly one node, once.
   * What this transaction read and wrote enters this node's memory only once it has committed.
   *
   * `activeStaticKeyUri` is the active static key as this transaction reads it: a channel opened
   * under another one (the key was rotated, on this node or another; undefined: none is active)
   * records nothing, and each of its entries gets KMS_RESET (the draft revisions' 499).
   */
  async recordRequestsIn(entries: readonly { channelUri: string; requestId: string }[], tx: Tx, activeStaticKeyUri: string | undefined): Promise<(KmsError | undefined)[]> {
    if (entries.length === 0) return [];
    const byChannel = new Map<string, number[]>();
    entries.forEach((entry, i) => {
      const indices = byChannel.get(entry.channelUri);
      if (indices) indices.push(i);
      else byChannel.set(entry.channelUri, [i]);
    });
    const live = await this.channels.lockLiveChannels([...byChannel.keys()], tx);
    const recordedAt = new Date(this.clock());
    const outcome: (KmsError | undefined)[] = [];
    for (const [uri, indices] of byChannel) {
      const channel = live.get(uri);
      if (channel === undefined) {
        this.forgetChannel(uri);
        for (const i of indices) outcome[i] = new KmsError('KMS_CHANNEL_INVALID', 'the ephemeral key was deleted: negotiate a new one');
        continue;
      }
      if (channel.staticKeyUri !== activeStaticKeyUri) {
        for (const i of indices) outcome[i] = staticKeyReset();
        continue;
      }
      const { replayKey } = channel;
      const seen = this.seenRequestIds.of(uri, replayKey);
      const unseenRows = await this.channels.replayLogSince(replayKey, seen.seq, tx);
      const unseen = new Set(unseenRows.flatMap((row) => row.requestIds));
      const fresh = new Set<string>();
      for (const i of indices) {
        const { requestId } = entries[i]!;
        if (seen.requestIds.has(requestId) || unseen.has(requestId) || fresh.has(requestId)) {
          outcome[i] = new KmsError('KMS_REPLAY', 'requestId was already used on this channel');
        } else {
          fresh.add(requestId);
          outcome[i] = undefined;
        }
      }
      const appended = fresh.size > 0 ? { channelKey: replayKey, seq: (unseenRows.at(-1)?.seq ?? seen.seq) + 1, requestIds: [...fresh], recordedAt } : undefined;
      if (appended) await this.channels.appendReplayLog([appended], tx);
      const rows = appended ? [...unseenRows, appended] : unseenRows;
      if (rows.length > 0) tx.afterCommit(() => this.seenRequestIds.committed(uri, replayKey, rows));
    }
    return outcome;
  }

  /**
   * Whether a failed transaction lost a race in {@link recordRequestsIn} and should run again. None
   * should happen; each is a safety net:
   * - a deadlock (PostgreSQL, which fails one of the waits after its deadlock_timeout). The audit
   *   log's group commit records several batches in one transaction, but it holds the chain's head
   *   while it does, so two groups never wait for each other; a purge deleting expired channels
   *   still could wait in a cycle with one.
   * - a channel deleted by another node after we read it (its row is locked on PostgreSQL, and
   *   SQLite's write lock is the database's);
   * - two nodes appending the same row number to a channel's log (likewise).
   */
  static isRecordingRace(error: unknown): boolean {
    return isDeadlock(error) || isForeignKeyViolation(error) || isUniqueViolation(error);
  }

  /** delete /ecdhe/<id>: the client discards its channel; the KMS refuses it from now on (draft §5.1). */
  async delete(uri: string, principalId: string): Promise<void> {
    const channel = await this.find(uri);
    if (!channel || channel.row.principalId !== principalId) throw new KmsError('KMS_NOT_FOUND', 'no such ephemeral key, or not authorized');
    await this.db.write(async (tx) => {
      await this.channels.delete(uri, tx);
      await this.vault.deleteKey(uri, tx);
    });
    this.forgetChannel(uri);
  }

  /** Removes channels that expired, their replay logs and their sealed keys, and handshakes past retention; run periodically. */
  async purgeExpired(): Promise<number> {
    await this.channels.deleteExpiredHandshakes(new Date(this.clock()));
    const uris = await this.channels.expired(new Date(this.clock()), 1000);
    await this.db.write(async (tx) => {
      await this.channels.deleteMany(uris, tx);
      await this.vault.deleteKeys(uris, tx);
    });
    for (const uri of uris) this.forgetChannel(uri);
    return uris.length;
  }

  private forgetChannel(uri: string): void {
    this.cache.delete(uri);
    this.seenRequestIds.forget(uri);
  }

  private remember(channel: OpenChannel): void {
    this.cache.set(channel.row.uri, channel);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }
}
