import { In, LessThan } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsChannelEntity, type KmsChannelRow, KmsHandshakeEntity, type KmsHandshakeRow, KmsReplayEntity, type KmsReplayRow } from '../kms.entities.js';

/** ECDHE channels and the per-channel replay cache, shared by every node through the database. */
export class KmsChannelRepository {
  constructor(private readonly db: Database) {}

  async insert(row: KmsChannelRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).insert(row);
  }

  find(uri: string): Promise<KmsChannelRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).findOneBy({ uri }));
  }

  /** Deletes a channel and, by cascade, its replay rows. */
  async delete(uri: string, tx: Tx): Promise<boolean> {
    const result = await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).delete({ uri });
    return (result.affected ?? 0) === 1;
  }

  /**
   * Records a batch of (channel, requestId) pairs in one statement set of the caller's transaction
   * and says, for each, whether it is new, a replay (seen before, or earlier in the same batch), or
   * on a channel that no longer exists. Two nodes recording the same pair at once: PostgreSQL makes
   * the second wait for the first and then skip the pair, a replay. A channel deleted meanwhile
   * fails the statement on its foreign key; the caller retries and then sees it gone.
   */
  async recordRequests(entries: readonly { channelUri: string; requestId: string }[], seenAt: Date, tx: Tx): Promise<('new' | 'replay' | 'gone')[]> {
    const channelUris = [...new Set(entries.map((e) => e.channelUri))];
    // Hand-written (RowStatements): this runs once for every batch of KMS messages.
    const replays = RowStatements.of<KmsReplayRow>(tx, KmsReplayEntity.name);
    const live = new Map((await RowStatements.of<KmsChannelRow>(tx, KmsChannelEntity.name).selectIn('uri', channelUris)).map((c) => [c.uri, c.replayKey]));
    // Each pair is inserted unless it is there already (ON CONFLICT DO NOTHING): a pair not inserted
    // was seen before, on this node or another; a pair repeated within the batch is a replay of its
    // first occurrence.
    const first = new Set<string>();
    const candidates: KmsReplayRow[] = [];
    const keys = entries.map((e) => `${live.get(e.channelUri)} ${e.requestId}`);
    const outcome = entries.map((e, i): 'new' | 'replay' | 'gone' => {
      const channelKey = live.get(e.channelUri);
      if (channelKey === undefined) return 'gone';
      if (first.has(keys[i]!)) return 'replay';
      first.add(keys[i]!);
      candidates.push({ channelKey, requestId: e.requestId, seenAt });
      return 'new';
    });
    const inserted = new Set((await replays.insertNew(candidates, ['channelKey', 'requestId'])).map((r) => `${r.channelKey} ${r.requestId}`));
    // A first occurrence is new only if this statement inserted it.
    return outcome.map((o, i) => (o === 'new' && !inserted.has(keys[i]!) ? 'replay' : o));
  }

  /** Records a handshake; a second one with the same digest fails on the primary key (a replay). */
  async insertHandshake(row: KmsHandshakeRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsHandshakeRow>(KmsHandshakeEntity.name).insert(row);
  }

  /** Forgets handshakes whose credentials can no longer be valid. */
  async deleteExpiredHandshakes(now: Date): Promise<void> {
    await this.db.write((tx) => tx.manager.getRepository<KmsHandshakeRow>(KmsHandshakeEntity.name).delete({ expiresAt: LessThan(now) }));
  }

  /** URIs of channels that expired before `now`, oldest first. */
  async expired(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db.read((tx) =>
      tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).find({ select: { uri: true }, where: { expirationDate: LessThan(now) }, order: { expirationDate: 'ASC' }, take: limit }),
    );
    return rows.map((r) => r.uri);
  }

  /** Deletes channels (and, by cascade, their replay rows). */
  async deleteMany(uris: string[], tx: Tx): Promise<void> {
    if (uris.length > 0) await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).delete({ uri: In(uris) });
  }
}
