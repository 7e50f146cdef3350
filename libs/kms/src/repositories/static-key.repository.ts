import { Database, RowStatements, type Tx } from '@realm/persistence';
import { KmsStaticKeyEntity, type KmsStaticKeyRow } from '../kms.entities.js';

export class KmsStaticKeyRepository {
  constructor(private readonly db: Database) {}

  all(): Promise<KmsStaticKeyRow[]> {
    return this.db.read((tx) => tx.manager.getRepository<KmsStaticKeyRow>(KmsStaticKeyEntity.name).find({ order: { createDate: 'ASC' } }));
  }

  /** The active key's row. */
  active(): Promise<KmsStaticKeyRow | undefined> {
    return this.db.read(async (tx) => (await RowStatements.of<KmsStaticKeyRow>(tx, KmsStaticKeyEntity.name).select('"state" = ?', ['active']))[0]);
  }

  /**
   * The active key's URI only, in `tx` when given; hand-written (RowStatements) because every KMS
   * batch reads it, in the transaction that records its requestIds.
   */
  activeUri(tx?: Tx): Promise<string | undefined> {
    const work = async (t: Tx) => (await RowStatements.of<KmsStaticKeyRow>(t, KmsStaticKeyEntity.name).pluck('uri', '"state" = ?', ['active']))[0];
    return tx ? work(tx) : this.db.read(work);
  }

  async insert(row: KmsStaticKeyRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsStaticKeyRow>(KmsStaticKeyEntity.name).insert(row);
  }

  async setCertificateChain(uri: string, chain: string[], tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsStaticKeyRow>(KmsStaticKeyEntity.name).update({ uri }, { certificateChain: chain });
  }

  async retireActive(now: Date, tx: Tx): Promise<void> {
    await tx.manager.getRepository<KmsStaticKeyRow>(KmsStaticKeyEntity.name).update({ state: 'active' }, { state: 'retired', retireDate: now });
  }
}
