import { In, LessThan } from 'typeorm';
import { Database, type Tx } from '@realm/persistence';
import { KmsChannelEntity, type KmsChannelRow, KmsReplayEntity, type KmsReplayRow } from '../kms.entities.js';

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
   * Records that `requestId` was seen on `channelUri`. Throws a unique violation for a replay and a
   * foreign-key violation when the channel no longer exists.
   */
  async recordRequest(row: KmsReplayRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsReplayRow>(KmsReplayEntity.name).insert(row);
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
