import type { Database, Tx } from '@realm/persistence';
import { LinkIdentityEntity, type LinkIdentityRow } from './link-identity.entities.js';

export class LinkIdentityRepository {
  constructor(private readonly db: Database) {}

  active(tx?: Tx): Promise<LinkIdentityRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<LinkIdentityRow>(LinkIdentityEntity.name).findOneBy({ state: 'active' }));
  }

  async insert(row: LinkIdentityRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<LinkIdentityRow>(LinkIdentityEntity.name).insert(row);
  }

  async retire(id: string, tx: Tx): Promise<void> {
    await tx.manager.getRepository<LinkIdentityRow>(LinkIdentityEntity.name).update({ id, state: 'active' }, { state: 'retired' });
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
