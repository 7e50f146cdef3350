import { AsyncResource } from 'node:async_hooks';
import type { Database, Tx } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { actorColumn, type AuditEvent, chainHash, checkpointDigest, encodeCheckpointPayload, encodeRecordBody } from './audit-record.js';
import type { AuditHeadRow, AuditRecordRow } from './audit.entities.js';
import { AuditError } from './audit.error.js';
import { AuditRepository } from './audit.repository.js';
import { CheckpointSigner } from './checkpoint-signer.js';
import { redactEvent } from './redaction.js';

export interface AuditLogOptions {
  readonly checkpointEvery: number;
  readonly checkpointIntervalSeconds: number;
  readonly clock?: () => number;
  /** Called with the number of records each time a batch commits (metrics). */
  readonly onCommit?: (records: number) => void;
}

// Two flushes at most: while one waits for its commit to reach the disk, the next one commits
// (SQLite releases its lock at COMMIT, before the WAL fsync; on PostgreSQL the second transaction
// waits on the head row meanwhile). More would only split records into more transactions.
const MAX_FLUSHES_IN_FLIGHT = 2;

interface Pending {
  readonly event: AuditEvent;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** An operation whose writes commit with its audit records ({@link AuditLog.writeWithRecords}). */
interface PendingOperation {
  readonly work: (tx: Tx) => Promise<{ readonly value: unknown; readonly events: readonly AuditEvent[] }>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The append-only, hash-chained audit log: the one port every security-relevant operation calls.
 *
 * `record()` resolves only once the record is committed (fail closed: an operation that cannot
 * be audited must not report success). Records that arrive while a commit is in flight are
 * committed together in the next transaction (group commit, at most two in flight), so auditing
 * every KMS operation costs one fsync per batch, not per record. Appenders on several processes
 * are serialised by the `audit_head` row, so the chain stays one chain. Every `checkpointEvery` records, and at least
 * every `checkpointInterval` while records arrive, the head is signed with the checkpoint key the
 * vault protects.
 */
export class AuditLog {
  private pending: Pending[] = [];
  private operations: PendingOperation[] = [];
  /** Flushes under way: at most {@link MAX_FLUSHES_IN_FLIGHT}. */
  private readonly flushes = new Set<Promise<void>>();
  /** A flush has started but not yet taken what is pending: records arriving now join it. */
  private gathering = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly repository: AuditRepository;
  private readonly clock: () => number;
  // Flushes run in the async context of the log's creation, never inside a caller's unit of work.
  private readonly startFlush: () => void;

  private constructor(
    private readonly db: Database,
    private readonly signer: CheckpointSigner,
    private readonly options: AuditLogOptions,
  ) {
    this.repository = new AuditRepository(db);
    this.clock = options.clock ?? Date.now;
    this.startFlush = AsyncResource.bind(() => {
      if (this.gathering || this.flushes.size >= MAX_FLUSHES_IN_FLIGHT) return;
      this.gathering = true;
      const flush: Promise<void> = this.drain().finally(() => {
        this.flushes.delete(flush);
        if (this.pending.length > 0 || this.operations.length > 0) this.startFlush();
      });
      this.flushes.add(flush);
    });
    this.timer = setInterval(() => void this.checkpointIfDue().catch(() => undefined), Math.max(1, options.checkpointIntervalSeconds) * 1000);
    this.timer.unref();
  }

  /** Opens the log; creates the checkpoint signing key (sealed by the vault) on first use. */
  static async open(db: Database, vault: KeyVault, options: AuditLogOptions): Promise<AuditLog> {
    const signer = await CheckpointSigner.loadOrCreate(db, vault);
    return new AuditLog(db, signer, options);
  }

  /** Appends one record; resolves once it is durably committed, rejects with AUDIT_WRITE_FAILED otherwise. */
  record(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new AuditError('AUDIT_CLOSED', 'the audit log is closed'));
    if (this.db.insideUnitOfWork()) {
      // Waiting for the audit commit from inside a transaction would deadlock on SQLite.
      return Promise.reject(new AuditError('AUDIT_WRITE_FAILED', 'audit records must be written after the transaction of the operation, not inside it'));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event: redactEvent(event), resolve, reject });
      this.startFlush();
    });
  }

  /**
   * Runs `work` in a transaction with the audit records it returns: the operation's writes and its
   * records commit together or not at all (one commit instead of two, and no window where one is
   * durable without the other). Operations waiting together share the next group commit of the
   * log, each in its own savepoint: one that fails is rolled back alone and rejects with its own
   * error; if the records cannot be appended, every operation of the group rejects and nothing of
   * it is committed.
   */
  writeWithRecords<T>(work: (tx: Tx) => Promise<{ readonly value: T; readonly events: readonly AuditEvent[] }>): Promise<T> {
    if (this.closed) return Promise.reject(new AuditError('AUDIT_CLOSED', 'the audit log is closed'));
    if (this.db.insideUnitOfWork()) {
      return Promise.reject(new AuditError('AUDIT_WRITE_FAILED', 'writeWithRecords opens its own transaction: call it outside any other'));
    }
    return new Promise<T>((resolve, reject) => {
      this.operations.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.startFlush();
    });
  }

  /** Signs a checkpoint now if any record is not covered by one (shutdown, `realmctl`). */
  async checkpoint(): Promise<void> {
    await Promise.all(this.flushes);
    await this.db.write(async (tx) => {
      const head = await this.repository.lockHead(tx);
      if (head.seq > head.checkpointSeq) await this.signCheckpoint(head, tx);
    });
  }

  /** Commits what is pending, signs a final checkpoint and stops the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    while (this.flushes.size > 0) await Promise.all(this.flushes);
    await this.checkpoint();
  }

  private async drain(): Promise<void> {
    // Records made in the same tick (every answer of a KMS batch) join this commit rather than
    // the first one committing alone.
    await Promise.resolve();
    this.gathering = false;
    const batch = this.pending;
    const operations = this.operations;
    this.pending = [];
    this.operations = [];
    if (batch.length === 0 && operations.length === 0) return;
    let outcomes: ({ ok: true; value: unknown; events: readonly AuditEvent[] } | { ok: false; error: unknown })[] = [];
    let records = 0;
    try {
      await this.db.write(async (tx) => {
        // The chain's head is locked before the operations run, not only to append: on PostgreSQL
        // the groups of several nodes then run their operations one group after the other, so
        // operations that lock rows of their own (the KMS locks its channels' rows), several to a
        // transaction, never come to wait for each other in a cycle.
        const head = await this.repository.lockHead(tx);
        outcomes = [];
        for (const operation of operations) {
          try {
            outcomes.push({ ok: true, ...(await this.db.savepoint(tx, () => operation.work(tx))) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        const events = [...batch.map((p) => p.event), ...outcomes.flatMap((o) => (o.ok ? o.events.map(redactEvent) : []))];
        records = events.length;
        if (events.length > 0) await this.append(events, head, tx);
      });
    } catch (error) {
      const failure = new AuditError('AUDIT_WRITE_FAILED', 'the audit log could not be written; the operation was not completed', { cause: error });
      for (const p of batch) p.reject(failure);
      for (const operation of operations) operation.reject(failure);
      return;
    }
    this.options.onCommit?.(records);
    for (const p of batch) p.resolve();
    operations.forEach((operation, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) operation.resolve(outcome.value);
      else operation.reject(outcome.error);
    });
  }

  /** Appends records after `head`, which the transaction `tx` has locked. */
  private async append(events: AuditEvent[], head: AuditHeadRow, tx: Tx): Promise<void> {
    const recordedAt = new Date(this.clock());
    const rows: AuditRecordRow[] = [];
    const recordedAtIso = recordedAt.toISOString();
    let { seq, hash } = head;
    for (const event of events) {
      seq += 1;
      const body = encodeRecordBody(seq, recordedAt, event, recordedAtIso);
      const next = chainHash(hash, body);
      rows.push({ seq, recordedAt, action: event.action, outcome: event.outcome, actor: actorColumn(event), body, prevHash: hash, hash: next });
      hash = next;
    }
    await this.repository.insertRecords(rows, tx);
    const advanced: AuditHeadRow = { ...head, seq, hash };
    const since = advanced.checkpointAt ? this.clock() - advanced.checkpointAt.getTime() : Number.POSITIVE_INFINITY;
    if (seq - advanced.checkpointSeq >= this.options.checkpointEvery || since >= this.options.checkpointIntervalSeconds * 1000) {
      await this.signCheckpoint(advanced, tx);
    } else {
      await this.repository.updateHead(advanced, tx);
    }
  }

  private async checkpointIfDue(): Promise<void> {
    if (this.closed || this.flushes.size > 0) return;
    const head = await this.repository.head();
    if (head && head.seq > head.checkpointSeq) await this.checkpoint();
  }

  private async signCheckpoint(head: AuditHeadRow, tx: Tx): Promise<void> {
    const at = new Date(this.clock());
    const number = head.checkpointNumber + 1;
    const payload = encodeCheckpointPayload({ number, seq: head.seq, hash: head.hash, at, keyId: this.signer.keyId, prev: head.checkpointDigest });
    const signature = this.signer.sign(payload);
    await this.repository.insertCheckpoint({ number, recordSeq: head.seq, recordHash: head.hash, signedAt: at, keyId: this.signer.keyId, payload, signature }, tx);
    await this.repository.updateHead({ ...head, checkpointNumber: number, checkpointSeq: head.seq, checkpointAt: at, checkpointDigest: checkpointDigest(payload, signature) }, tx);
  }
}
