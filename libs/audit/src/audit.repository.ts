import { MoreThan } from 'typeorm';
import { Database, RowStatements, type Tx } from '@realm/persistence';
import {
  AuditCheckpointEntity,
  type AuditCheckpointRow,
  AuditHeadEntity,
  type AuditHeadRow,
  AuditRecordEntity,
  type AuditRecordRow,
  AuditSigningKeyEntity,
  type AuditSigningKeyRow,
} from './audit.entities.js';

export class AuditRepository {
  constructor(private readonly db: Database) {}

  /**
   * The head row, locked for the rest of the transaction on PostgreSQL (SELECT ... FOR UPDATE). On
   * SQLite the writer already holds the database write lock (BEGIN IMMEDIATE).
   */
  async lockHead(tx: Tx): Promise<AuditHeadRow> {
    // Hand-written (RowStatements): this runs for every group commit of the audit log.
    const [head] = await RowStatements.of<AuditHeadRow>(tx, AuditHeadEntity.name).select('"id" = ?', [1], tx.driver === 'postgres' ? 'FOR UPDATE' : '');
    if (!head) throw new Error('audit_head row is missing: the audit migration did not run');
    return head;
  }

  head(): Promise<AuditHeadRow | null> {
    return this.db.read((tx) => tx.manager.getRepository<AuditHeadRow>(AuditHeadEntity.name).findOneBy({ id: 1 }));
  }

  async updateHead(head: AuditHeadRow, tx: Tx): Promise<void> {
    // Hand-written (RowStatements), like lockHead: once per group commit of the log.
    const statements = RowStatements.of<AuditHeadRow>(tx, AuditHeadEntity.name);
    await statements.execute(
      `UPDATE ${statements.table} SET "seq" = ?, "hash" = ?, "checkpoint_number" = ?, "checkpoint_seq" = ?, "checkpoint_at" = ?, "checkpoint_digest" = ? WHERE "id" = ?`,
      [
        statements.value('seq', head.seq),
        statements.value('hash', head.hash),
        statements.value('checkpointNumber', head.checkpointNumber),
        statements.value('checkpointSeq', head.checkpointSeq),
        statements.value('checkpointAt', head.checkpointAt),
        statements.value('checkpointDigest', head.checkpointDigest),
        statements.value('id', head.id),
      ],
    );
  }

  async insertRecords(rows: AuditRecordRow[], tx: Tx): Promise<void> {
    await RowStatements.of<AuditRecordRow>(tx, AuditRecordEntity.name).insert(rows);
  }

  async insertCheckpoint(row: AuditCheckpointRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<AuditCheckpointRow>(AuditCheckpointEntity.name).insert(row);
  }

  /** Records with seq greater than `afterSeq`, in seq order. */
  recordsAfter(afterSeq: number, limit: number): Promise<AuditRecordRow[]> {
    return this.db.read((tx) =>
      tx.manager.getRepository<AuditRecordRow>(AuditRecordEntity.name).find({ where: { seq: MoreThan(afterSeq) }, order: { seq: 'ASC' }, take: limit }),
    );
  }

  checkpoints(): Promise<AuditCheckpointRow[]> {
    return this.db.read((tx) => tx.manager.getRepository<AuditCheckpointRow>(AuditCheckpointEntity.name).find({ order: { number: 'ASC' } }));
  }

  signingKeys(tx?: Tx): Promise<AuditSigningKeyRow[]> {
    const work = (t: Tx) => t.manager.getRepository<AuditSigningKeyRow>(AuditSigningKeyEntity.name).find({ order: { createdAt: 'ASC' } });
    return tx ? work(tx) : this.db.read(work);
  }

  async insertSigningKey(row: AuditSigningKeyRow, tx: Tx): Promise<void> {
    await tx.manager.getRepository<AuditSigningKeyRow>(AuditSigningKeyEntity.name).insert(row);
  }

  countRecords(): Promise<number> {
    return this.db.read((tx) => tx.manager.getRepository<AuditRecordRow>(AuditRecordEntity.name).count());
  }
}
