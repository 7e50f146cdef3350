import { Not } from 'typeorm';
import { Database, type Tx } from '@realm/persistence';
import { type PrincipalKind, PrincipalEntity, type PrincipalRow } from '../identity.entities.js';

export class PrincipalRepository {
  constructor(private readonly db: Database) {}

  find(id: string, tx?: Tx): Promise<PrincipalRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).findOneBy({ id }));
  }

  /** The principal of that kind and name that is not deleted (there is at most one). */
  findLiveByName(kind: PrincipalKind, name: string, tx?: Tx): Promise<PrincipalRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).findOneBy({ kind, name, status: Not('deleted') }));
  }

  /**
   * The row, locked for the rest of the transaction on PostgreSQL (SELECT ... FOR UPDATE), so that
   * two nodes changing one principal serialise and the credential epoch only ever grows. On SQLite
   * the writer already holds the database write lock (BEGIN IMMEDIATE).
   */
  lock(id: string, tx: Tx): Promise<PrincipalRow | null> {
    const query = tx.manager.getRepository<PrincipalRow>(PrincipalEntity.name).createQueryBuilder('p').where('p.id = :id', { id });
    if (tx.driver === 'postgres') query.setLock('pessimistic_write');
    return query.getOne();
  }

  async insert(row: PrincipalRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<PrincipalRow>(PrincipalEntity.name).insert(row);
  }

  async update(row: PrincipalRow, tx: Tx): Promise<void> {
    const { id, ...rest } = row;
    await tx.manager.getRepository<PrincipalRow>(PrincipalEntity.name).update({ id }, rest);
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
