import { createHash, createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import type { RealmConfig } from '@realm/config';
import { deriveChannelKey, generateEphemeralP256, importP256PublicJwk } from '@realm/crypto';
import { type Database, isForeignKeyViolation, isUniqueViolation, type Tx } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { KmsError } from '../kms.error.js';
import type { KmsChannelRow } from '../kms.entities.js';
import type { KmsUris } from '../protocol/kms-uris.js';
import type { KmsChannelRepository } from '../repositories/channel.repository.js';
import { newReplayKey } from './replay-key.js';

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
      this.cache.delete(uri);
      return undefined;
    }
    return channel;
  }

  /**
   * Records the requestIds of a batch, each once per channel on every node, in one transaction (one
   * commit for the whole batch). For each entry: undefined when it is new, or the error to answer:
   * a replay, or a channel that another node deleted.
   */
  async recordRequests(entries: readonly { channelUri: string; requestId: string }[]): Promise<(KmsError | undefined)[]> {
    if (entries.length === 0) return [];
    const record = () => this.db.write((tx) => this.recordRequestsIn(entries, tx));
    try {
      return await record();
    } catch (error) {
      if (!KmsChannels.isRecordingRace(error)) throw error;
      return record();
    }
  }

  /**
   * {@link recordRequests} in the caller's transaction. On PostgreSQL, another node recording one of
   * the same pairs waits for us or we for it, and the later one sees a replay; another node deleting
   * a channel between our read and our insert fails the statement on its foreign key and so the
   * transaction ({@link isRecordingRace}); the caller runs its transaction once more and then
   * sees the replay or the deleted channel.
   */
  async recordRequestsIn(entries: readonly { channelUri: string; requestId: string }[], tx: Tx): Promise<(KmsError | undefined)[]> {
    if (entries.length === 0) return [];
    const outcome = await this.channels.recordRequests(entries, new Date(this.clock()), tx);
    return outcome.map((o, i) => {
      if (o === 'new') return undefined;
      if (o === 'replay') return new KmsError('KMS_REPLAY', 'requestId was already used on this channel');
      this.cache.delete(entries[i]!.channelUri);
      return new KmsError('KMS_CHANNEL_INVALID', 'the ephemeral key was deleted: negotiate a new one');
    });
  }

  /**
   * Whether a failed transaction lost a race in {@link recordRequestsIn} and should run once more:
   * a channel deleted by another node after we read it. (A pair recorded by another node is not a
   * failure: the insert skips it and reports a replay.)
   */
  static isRecordingRace(error: unknown): boolean {
    return isForeignKeyViolation(error);
  }

  /** delete /ecdhe/<id>: the client discards its channel; the KMS refuses it from now on (draft §5.1). */
  async delete(uri: string, principalId: string): Promise<void> {
    const channel = await this.find(uri);
    if (!channel || channel.row.principalId !== principalId) throw new KmsError('KMS_NOT_FOUND', 'no such ephemeral key, or not authorized');
    await this.db.write(async (tx) => {
      await this.channels.delete(uri, tx);
      await this.vault.deleteKey(uri, tx);
    });
    this.cache.delete(uri);
  }

  /** Removes channels that expired, their replay rows and their sealed keys, and handshakes past retention; run periodically. */
  async purgeExpired(): Promise<number> {
    await this.channels.deleteExpiredHandshakes(new Date(this.clock()));
    const uris = await this.channels.expired(new Date(this.clock()), 1000);
    await this.db.write(async (tx) => {
      await this.channels.deleteMany(uris, tx);
      await this.vault.deleteKeys(uris, tx);
    });
    for (const uri of uris) this.cache.delete(uri);
    return uris.length;
  }

  private remember(channel: OpenChannel): void {
    this.cache.set(channel.row.uri, channel);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }
}
