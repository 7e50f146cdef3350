import { Database, type Tx } from '@realm/persistence';
import { ServiceCaEntity, type ServiceCaRow } from '../identity.entities.js';

export class ServiceCaRepository {
  constructor(private readonly db: Database) {}

  active(tx?: Tx): Promise<ServiceCaRow | null> {
    return this.with(tx, (t) => t.manager.getRepository<ServiceCaRow>(ServiceCaEntity.name).findOneBy({ state: 'active' }));
  }

  async insert(row: ServiceCaRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<ServiceCaRow>(ServiceCaEntity.name).insert(row);
  }

  private with<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.read(work);
  }
}
