import { In, IsNull, LessThan, MoreThan, And, type FindOperator } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsKeyEntity, type KmsKeyRow } from '../kms.entities.js';

// Rows of bound keys kept per process (~300 bytes each).
const BOUND_ROW_CACHE_LIMIT = 100_000;

export class KmsKeyRepository {
  private readonly boundRows = new Map<string, KmsKeyRow>();

  constructor(private readonly db: Database) {}

  async insert(rows: KmsKeyRow[], tx: Tx): Promise<void> {
    // Hand-written (RowStatements), like findMany: the hot paths of key creation and retrieval.
    await RowStatements.of<KmsKeyRow>(tx, KmsKeyEntity.name).insert(rows);
  }

  find(uri: string, tx?: Tx): Promise<KmsKeyRow | null> {
    const work = (t: Tx) => t.manager.getRepository<KmsKeyRow>(KmsKeyEntity.name).findOneBy({ uri });
    return tx ? work(tx) : this.db.read(work);
  }

  /**
   * The rows of `uris` that exist. A bound key's row never changes again (bound once, never
   * rebound, never deleted), so bound rows are kept in a bounded cache and only the others are
   * read: each batch of retrievals of a conversation's keys costs no query for them.
   */
  async findMany(uris: string[], tx?: Tx): Promise<KmsKeyRow[]> {
    const found: KmsKeyRow[] = [];
    const missing: string[] = [];
    for (const uri of uris) {
      const row = this.boundRows.get(uri);
      if (row) found.push(row);
      else missing.push(uri);
    }
    if (missing.length === 0) return found;
    const work = (t: Tx) => RowStatements.of<KmsKeyRow>(t, KmsKeyEntity.name).selectIn('uri', missing);
    for (const row of await (tx ? work(tx) : this.db.read(work))) {
      found.push(row);
      if (row.resourceUri === null) continue;
      if (this.boundRows.size >= BOUND_ROW_CACHE_LIMIT) this.boundRows.delete(this.boundRows.keys().next().value!);
      this.boundRows.set(row.uri, row);
    }
    return found;
  }

  /**
   * Binds an unbound key that `creator` (its user and client) created and that has not expired;
   * false when the key is missing, another user's or client's, already bound or expired (the
   * conditions are in the UPDATE, so two binds race safely).
   */
  async bind(uri: string, creator: { readonly principalId: string; readonly clientId: string }, resourceUri: string, now: Date, expirationDate: Date, tx: Tx): Promise<boolean> {
    const result = await tx.manager
      .getRepository<KmsKeyRow>(KmsKeyEntity.name)
      .update({ uri, owner: creator.principalId, clientId: creator.clientId, resourceUri: IsNull(), expirationDate: MoreThan(now) }, { resourceUri, bindDate: now, expirationDate });
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
