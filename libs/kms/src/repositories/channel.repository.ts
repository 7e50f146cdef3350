import { In, LessThan } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsChannelEntity, type KmsChannelRow, KmsHandshakeEntity, type KmsHandshakeRow, KmsReplayLogEntity, type KmsReplayLogRow } from '../kms.entities.js';

/** ECDHE channels and their replay logs, shared by every node through the database. */
export class KmsChannelRepository {
  constructor(private readonly db: Database) {}

  async insert(row: KmsChannelRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).insert(row);
  }

  find(uri: string): Promise<KmsChannelRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).findOneBy({ uri }));
  }

  /** Deletes a channel and, by cascade, its replay log. */
  async delete(uri: string, tx: Tx): Promise<boolean> {
    const result = await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).delete({ uri });
    return (result.affected ?? 0) === 1;
  }

  /**
   * Those of `uris` that are live channels, with what recording a batch needs of each: its replay
   * log's key and the static key it was opened under. On PostgreSQL their rows are locked (in URI
   * order) until the transaction ends: one node at a time reads and appends to a channel's replay
   * log, and a channel cannot be deleted under it. On SQLite the write transaction holds the
   * database's one write lock already.
   */
  async lockLiveChannels(uris: readonly string[], tx: Tx): Promise<Map<string, Pick<KmsChannelRow, 'replayKey' | 'staticKeyUri'>>> {
    // Hand-written (RowStatements), as the rest of the replay path: it runs for every batch of KMS messages.
    const lock = tx.driver === 'postgres' ? 'ORDER BY "uri" FOR UPDATE' : '';
    const rows = await RowStatements.of<KmsChannelRow>(tx, KmsChannelEntity.name).selectIn('uri', [...uris].sort(), lock);
    return new Map(rows.map((c) => [c.uri, c]));
  }

  /** A channel's replay log rows after `afterSeq`, in order. */
  replayLogSince(channelKey: number, afterSeq: number, tx: Tx): Promise<KmsReplayLogRow[]> {
    const log = RowStatements.of<KmsReplayLogRow>(tx, KmsReplayLogEntity.name);
    return log.select('"channel_key" = ? AND "seq" > ?', [log.value('channelKey', channelKey), log.value('seq', afterSeq)], 'ORDER BY "seq"');
  }

  async appendReplayLog(rows: readonly KmsReplayLogRow[], tx: Tx): Promise<void> {
    await RowStatements.of<KmsReplayLogRow>(tx, KmsReplayLogEntity.name).insert(rows);
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

  /** Deletes channels (and, by cascade, their replay logs). */
  async deleteMany(uris: string[], tx: Tx): Promise<void> {
    if (uris.length > 0) await tx.manager.getRepository<KmsChannelRow>(KmsChannelEntity.name).delete({ uri: In(uris) });
  }
}
