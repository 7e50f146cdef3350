import { In } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { SealedKeyEntity, type SealedKeyRow } from './vault.entities.js';

export class SealedKeyRepository {
  constructor(private readonly db: Database) {}

  async insert(rows: SealedKeyRow[], tx?: Tx): Promise<void> {
    if (rows.length === 0) return;
    // Hand-written (RowStatements): key creation stores up to kms.maxKeysPerRequest rows at once.
    const work = (t: Tx) => RowStatements.of<SealedKeyRow>(t, SealedKeyEntity.name).insert(rows);
    await (tx ? work(tx) : this.db.write(work));
  }

  find(uri: string, tx?: Tx): Promise<SealedKeyRow | null> {
    const work = (t: Tx) => t.manager.getRepository<SealedKeyRow>(SealedKeyEntity.name).findOneBy({ uri });
    return tx ? work(tx) : this.db.read(work);
  }

  findMany(uris: string[], tx?: Tx): Promise<SealedKeyRow[]> {
    if (uris.length === 0) return Promise.resolve([]);
    // Hand-written (RowStatements): every batch of key retrievals reads its key material here.
    const work = (t: Tx) => RowStatements.of<SealedKeyRow>(t, SealedKeyEntity.name).selectIn('uri', uris);
    return tx ? work(tx) : this.db.read(work);
  }

  async deleteMany(uris: string[], tx?: Tx): Promise<number> {
    if (uris.length === 0) return 0;
    const work = (t: Tx) => t.manager.getRepository<SealedKeyRow>(SealedKeyEntity.name).delete({ uri: In(uris) });
    const result = await (tx ? work(tx) : this.db.write(work));
    return result.affected ?? 0;
  }

  async delete(uri: string, tx?: Tx): Promise<boolean> {
    const work = (t: Tx) => t.manager.getRepository<SealedKeyRow>(SealedKeyEntity.name).delete({ uri });
    const result = await (tx ? work(tx) : this.db.write(work));
    return (result.affected ?? 0) > 0;
  }
}
