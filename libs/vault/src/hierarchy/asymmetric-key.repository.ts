import { Database, type Tx } from '@realm/persistence';
import { AsymmetricKeyEntity, type AsymmetricKeyRow } from './vault.entities.js';

export class AsymmetricKeyRepository {
  constructor(private readonly db: Database) {}

  find(uri: string): Promise<AsymmetricKeyRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<AsymmetricKeyRow>(AsymmetricKeyEntity.name).findOneBy({ uri }));
  }

  async insert(row: AsymmetricKeyRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<AsymmetricKeyRow>(AsymmetricKeyEntity.name).insert(row);
  }
}
