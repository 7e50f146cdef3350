import { Not } from 'typeorm';
import { Database, type Tx } from '@realm/persistence';
import { KekEntity, type KekRow } from './vault.entities.js';

export class KekRepository {
  constructor(private readonly db: Database) {}

  findByEpoch(epoch: number): Promise<KekRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<KekRow>(KekEntity.name).findOneBy({ epoch }));
  }

  findById(id: string): Promise<KekRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<KekRow>(KekEntity.name).findOneBy({ id }));
  }

  async insert(row: KekRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KekRow>(KekEntity.name).insert(row);
  }

  /** KEKs still wrapped by a generation other than `generation`, oldest first. */
  notWrappedBy(generation: number, limit: number): Promise<KekRow[]> {
    return this.db.read((tx) =>
      tx.manager.getRepository<KekRow>(KekEntity.name).find({ where: { masterGeneration: Not(generation) }, order: { epoch: 'ASC' }, take: limit }),
    );
  }

  /**
   * Replaces the wrapped form of one KEK, only if it is still wrapped by `fromGeneration`: a
   * rotation interrupted and resumed, or run on two nodes, re-wraps each KEK exactly once.
   */
  async rewrap(id: string, fromGeneration: number, toGeneration: number, wrapped: Buffer): Promise<boolean> {
    const result = await this.db.write((tx) =>
      tx.manager.getRepository<KekRow>(KekEntity.name).update({ id, masterGeneration: fromGeneration }, { masterGeneration: toGeneration, wrapped }),
    );
    return (result.affected ?? 0) === 1;
  }

  async countByGeneration(): Promise<Map<number, number>> {
    const rows = await this.db.read((tx) =>
      tx.manager
        .getRepository<KekRow>(KekEntity.name)
        .createQueryBuilder('k')
        .select('k.masterGeneration', 'generation')
        .addSelect('COUNT(*)', 'count')
        .groupBy('k.masterGeneration')
        .getRawMany<{ generation: number | string; count: number | string }>(),
    );
    return new Map(rows.map((r) => [Number(r.generation), Number(r.count)]));
  }
}
