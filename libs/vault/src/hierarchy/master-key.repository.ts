import { Database, type Tx } from '@realm/persistence';
import { MasterKeyEntity, type MasterKeyRow, type MasterKeyState } from './vault.entities.js';

export class MasterKeyRepository {
  constructor(private readonly db: Database) {}

  list(tx?: Tx): Promise<MasterKeyRow[]> {
    return this.with(tx, (t) => t.manager.getRepository<MasterKeyRow>(MasterKeyEntity.name).find({ order: { generation: 'ASC' } }));
  }

  async insert(row: MasterKeyRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<MasterKeyRow>(MasterKeyEntity.name).insert(row);
  }

  /** Moves `generation` from `from` to `to`; returns false when it was not in state `from`. */
  async transition(generation: number, from: MasterKeyState, to: MasterKeyState, tx: Tx, retiredAt?: Date): Promise<boolean> {
    const result = await tx.manager
      .getRepository<MasterKeyRow>(MasterKeyEntity.name)
      .update({ generation, state: from }, { state: to, ...(retiredAt && { retiredAt }) });
    return (result.affected ?? 0) === 1;
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
