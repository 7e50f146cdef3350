import { In, Not } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { type PrincipalKind, PrincipalEntity, type PrincipalRow } from '../identity.entities.js';

export class PrincipalRepository {
  constructor(private readonly db: Database) {}

  find(id: string, tx?: Tx): Promise<PrincipalRow | null> {
    // Hand-written (RowStatements): every verified access token reads its principal here.
    return this.with(tx, async (t) => (await RowStatements.of<PrincipalRow>(t, PrincipalEntity.name).select('"id" = ?', [id]))[0] ?? null);
  }

  /** The principal of that kind and name that is not deleted (there is at most one). */
  findLiveByName(kind: PrincipalKind, name: string, tx?: Tx): Promise<PrincipalRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).findOneBy({ kind, name, status: Not('deleted') }));
  }

  /** Live (not deleted) users, oldest first, for SCIM listing (RFC 7644 §3.4.2.4 paging). */
  listLiveUsers(offset: number, limit: number): Promise<PrincipalRow[]> {
    return this.db.read((t) =>
      t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).find({ where: { kind: 'user', status: Not('deleted') }, order: { createdAt: 'ASC', id: 'ASC' }, skip: offset, take: limit }),
    );
  }

  countLiveUsers(): Promise<number> {
    return this.db.read((t) => t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).countBy({ kind: 'user', status: Not('deleted') }));
  }

  /** The principals among `ids` that exist (in any state). */
  findMany(ids: readonly string[], tx?: Tx): Promise<PrincipalRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.with(tx, (t) => t.manager.getRepository<PrincipalRow>(PrincipalEntity.name).findBy({ id: In([...ids]) }));
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
