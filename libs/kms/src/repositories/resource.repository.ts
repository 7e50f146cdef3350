import { In } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsAuthorizationEntity, type KmsAuthorizationRow, KmsResourceEntity, type KmsResourceRow } from '../kms.entities.js';

/** KROs and their authorizations. */
export class KmsResourceRepository {
  constructor(private readonly db: Database) {}

  async insertResource(row: KmsResourceRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsResourceRow>(KmsResourceEntity.name).insert(row);
  }

  findResource(uri: string, tx?: Tx): Promise<KmsResourceRow | null> {
    const work = (t: Tx) => t.manager.getRepository<KmsResourceRow>(KmsResourceEntity.name).findOneBy({ uri });
    return tx ? work(tx) : this.db.read(work);
  }

  async insertAuthorizations(rows: KmsAuthorizationRow[], tx: Tx): Promise<void> {
    for (let i = 0; i < rows.length; i += 100) await tx.manager.getRepository<KmsAuthorizationRow>(KmsAuthorizationEntity.name).insert(rows.slice(i, i + 100));
  }

  authorizationsOf(resourceUri: string, tx?: Tx): Promise<KmsAuthorizationRow[]> {
    const work = (t: Tx) => t.manager.getRepository<KmsAuthorizationRow>(KmsAuthorizationEntity.name).find({ where: { resourceUri }, order: { createDate: 'ASC', uri: 'ASC' } });
    return tx ? work(tx) : this.db.read(work);
  }

  /** Whether `authIds` contains a member of `resourceUri`, and which of its authIds are other KROs. */
  async membership(resourceUri: string, authIds: string[], kroPrefix: string): Promise<{ member: boolean; parents: string[] }> {
    return this.db.read(async (tx) => {
      // Hand-written (RowStatements): this runs for every batch of key retrievals, and TypeORM's
      // query builder cost more than the query.
      const authorizations = RowStatements.of<KmsAuthorizationRow>(tx, KmsAuthorizationEntity.name);
      if (authIds.length > 0) {
        const [member] = await authorizations.select(`"resource_uri" = ? AND "auth_id" IN (${authIds.map(() => '?').join(', ')})`, [resourceUri, ...authIds], 'LIMIT 1');
        if (member) return { member: true, parents: [] };
      }
      const kros = await authorizations.select('"resource_uri" = ? AND "auth_id" LIKE ?', [resourceUri, `${kroPrefix}%`]);
      return { member: false, parents: kros.map((k) => k.authId) };
    });
  }

  findAuthorization(uri: string): Promise<KmsAuthorizationRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<KmsAuthorizationRow>(KmsAuthorizationEntity.name).findOneBy({ uri }));
  }

  findByAuthIds(resourceUri: string, authIds: string[], tx?: Tx): Promise<KmsAuthorizationRow[]> {
    const work = (t: Tx) => t.manager.getRepository<KmsAuthorizationRow>(KmsAuthorizationEntity.name).findBy({ resourceUri, authId: In(authIds) });
    return tx ? work(tx) : this.db.read(work);
  }

  async deleteAuthorizations(uris: string[], tx: Tx): Promise<number> {
    if (uris.length === 0) return 0;
    const result = await tx.manager.getRepository<KmsAuthorizationRow>(KmsAuthorizationEntity.name).delete({ uri: In(uris) });
    return result.affected ?? 0;
  }
}
