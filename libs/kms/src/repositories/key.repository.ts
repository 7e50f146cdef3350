import { In, IsNull, LessThan, MoreThan, And, type FindOperator } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsKeyEntity, type KmsKeyRow } from '../kms.entities.js';

export class KmsKeyRepository {
  constructor(private readonly db: Database) {}

  async insert(rows: KmsKeyRow[], tx: Tx): Promise<void> {
    // Hand-written (RowStatements), like findMany: the hot paths of key creation and retrieval.
    await RowStatements.of<KmsKeyRow>(tx, KmsKeyEntity.name).insert(rows);
  }

  find(uri: string, tx?: Tx): Promise<KmsKeyRow | null> {
    const work = (t: Tx) => t.manager.getRepository<KmsKeyRow>(KmsKeyEntity.name).findOneBy({ uri });
    return tx ? work(tx) : this.db.read(work);
  }

  findMany(uris: string[], tx?: Tx): Promise<KmsKeyRow[]> {
    if (uris.length === 0) return Promise.resolve([]);
    const work = (t: Tx) => RowStatements.of<KmsKeyRow>(t, KmsKeyEntity.name).selectIn('uri', uris);
    return tx ? work(tx) : this.db.read(work);
  }

  /**
   * Binds an unbound key of `owner` that has not expired; false when the key is missing, not the
   * owner's, already bound or expired (the conditions are in the UPDATE, so two binds race safely).
   */
  async bind(uri: string, owner: string, resourceUri: string, now: Date, expirationDate: Date, tx: Tx): Promise<boolean> {
    const result = await tx.manager
      .getRepository<KmsKeyRow>(KmsKeyEntity.name)
      .update({ uri, owner, resourceUri: IsNull(), expirationDate: MoreThan(now) }, { resourceUri, bindDate: now, expirationDate });
    return (result.affected ?? 0) === 1;
  }

  /** Keys bound to `resourceUri`, newest binding first, optionally within (boundAfter, boundBefore). */
  boundTo(resourceUri: string, options: { boundAfter?: Date; boundBefore?: Date; count: number }): Promise<KmsKeyRow[]> {
    const bounds: FindOperator<Date>[] = [];
    if (options.boundAfter) bounds.push(MoreThan(options.boundAfter));
    if (options.boundBefore) bounds.push(LessThan(options.boundBefore));
    return this.db.read((tx) =>
      tx.manager.getRepository<KmsKeyRow>(KmsKeyEntity.name).find({
        where: { resourceUri, ...(bounds.length > 0 && { bindDate: bounds.length === 1 ? bounds[0]! : And(...bounds) }) },
        order: { bindDate: 'DESC', uri: 'ASC' },
        take: options.count,
      }),
    );
  }
}
