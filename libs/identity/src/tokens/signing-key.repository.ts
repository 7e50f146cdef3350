import { Database, type Tx } from '@realm/persistence';
import { SigningKeyEntity, type SigningKeyRow } from '../identity.entities.js';

export class SigningKeyRepository {
  constructor(private readonly db: Database) {}

  active(tx?: Tx): Promise<SigningKeyRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).findOneBy({ state: 'active' }));
  }

  find(kid: string, tx?: Tx): Promise<SigningKeyRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).findOneBy({ kid }));
  }

  /** Every key, newest first (a handful: one per rotation). */
  list(tx?: Tx): Promise<SigningKeyRow[]> {
    return this.with(tx, (t) => t.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).find({ order: { createdAt: 'DESC' } }));
  }

  /** The active key, locked on PostgreSQL (SELECT ... FOR UPDATE) so that rotations serialise. */
  lockActive(tx: Tx): Promise<SigningKeyRow | null> {
    const query = tx.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).createQueryBuilder('k').where('k.state = :state', { state: 'active' });
    if (tx.driver === 'postgres') query.setLock('pessimistic_write');
    return query.getOne();
  }

  async insert(row: SigningKeyRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).insert(row);
  }

  /** Retires `kid` if it is still the active key; returns false otherwise. */
  async retire(kid: string, retiredAt: Date, notAfter: Date, tx: Tx): Promise<boolean> {
    const result = await tx.manager.getRepository<SigningKeyRow>(SigningKeyEntity.name).update({ kid, state: 'active' }, { state: 'retired', retiredAt, notAfter });
    return (result.affected ?? 0) === 1;
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
