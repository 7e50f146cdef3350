import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { DataSource, type EntityManager, MigrationExecutor, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { DatabaseConfig } from '@realm/config';
import { PersistenceError } from './persistence.error.js';
import { runSqlite, sqliteConnectionOf, tryBeginImmediate } from './sqlite-connection.js';
import { type FileSync, SqliteCheckpointer, WalSync } from './sqlite-durability.js';
import { type Driver, type PortableEntity, toEntitySchema } from './portable.js';

export type MigrationClass = new () => MigrationInterface;

/**
 * A unit of work handed to repositories. Services pass it along without looking inside, so only
 * repositories touch TypeORM.
 */
export interface Tx {
  readonly manager: EntityManager;
  readonly driver: Driver;
  /**
   * Runs `effect` once this write has committed, never if it (or the savepoint that registered it)
   * rolls back: for caches of what is in the database, which must never hold what did not commit.
   * Effects run synchronously right after the COMMIT, in the order registered, and must not throw
   * (one that does is reported as an uncaught exception: the write itself has committed). Only a
   * write commits: in a read this throws.
   */
  afterCommit(effect: () => void): void;
}

/** The {@link Tx} of one read or write, with the effects its write runs once committed. */
class UnitOfWork implements Tx {
  private effects: (() => void)[] = [];

  constructor(
    readonly manager: EntityManager,
    readonly driver: Driver,
    private readonly writes: boolean,
  ) {}

  afterCommit(effect: () => void): void {
    if (!this.writes) throw new Error('Tx.afterCommit called in a read: only a write commits');
    this.effects.push(effect);
  }

  /** How many effects are registered, for {@link discardSince} when a savepoint rolls back. */
  get mark(): number {
    return this.effects.length;
  }

  discardSince(mark: number): void {
    this.effects.length = mark;
  }

  /** Runs the effects once the transaction has committed. */
  committed(): void {
    const effects = this.effects;
    this.effects = [];
    for (const effect of effects) {
      try {
        effect();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

export interface DatabaseOptions {
  readonly entities: readonly PortableEntity<object>[];
  readonly migrations: readonly MigrationClass[];
  /** SQLite: how the write-ahead log is fsynced (fdatasync(2)); tests replace it to observe or fail it. */
  readonly walFileSync?: FileSync;
}

// Bounds one SQLite group commit, so a unit's wait for its COMMIT stays short under any load.
const MAX_WRITES_PER_GROUP = 64;

// How long a SQLite statement, or a write group, waits for another process's lock before failing.
const SQLITE_LOCK_TIMEOUT_MS = 10_000;
// How long a write group retries a busy lock on every turn of the event loop before pacing itself.
const SQLITE_LOCK_SPIN_MS = 5;
// WAL checkpoints run on a thread of their own this often while commits come in; SQLite's own
// automatic checkpoint (on the committing connection, on the event loop) only past a far higher
// threshold, as a safety net (pages of 4 KiB: about 40 MiB of log).
const SQLITE_CHECKPOINT_INTERVAL_MS = 100;
const SQLITE_AUTOCHECKPOINT_PAGES = 10_000;

// Arbitrary constant shared by every appliance node: the PostgreSQL advisory lock that serialises
// migrations when several nodes start at once.
const MIGRATION_LOCK_ID = 0x5ea1_7001;

/** The session holding an advisory lock, from pg_locks and pg_stat_activity. */
interface LockHolderRow {
  readonly pid: number;
  readonly application_name: string | null;
  readonly client: string | null;
  readonly client_port: number | null;
  readonly backend_start: Date | null;
  readonly state: string | null;
  readonly state_change: Date | null;
}

/**
 * The appliance's database: TypeORM over better-sqlite3 (embedded default) or pg (clusters).
 *
 * SQLite: one writing connection per process (TypeORM shares a single query runner) in WAL mode,
 * and a second, query-only connection for reads, which WAL lets run while a write is open. A write
 * resolves only once its commit is in the WAL on disk (it survives kill -9 and power loss): the
 * writer runs synchronous=NORMAL and {@link WalSync} fdatasyncs the log off the event loop after
 * the COMMIT (two syncs may run at once; commits made while both run share the next), so neither
 * the lock nor the event loop waits for the disk. Checkpoints run on a worker thread
 * ({@link SqliteCheckpointer}). Because the writing connection is shared, concurrent async units
 * of work would otherwise interleave inside one transaction; every write therefore runs under an
 * in-process mutex, and writes use BEGIN IMMEDIATE so that a second process waits for the write
 * lock (without blocking its event loop) instead of failing a read-to-write upgrade with
 * SQLITE_BUSY. Writes that wait together commit together (group commit, each in its own
 * savepoint): one fsync per group rather than per write.
 *
 * PostgreSQL: a pool; writes run in READ COMMITTED transactions; repositories take row locks
 * where they need serialisation.
 */
export class Database {
  private queue: Promise<unknown> = Promise.resolve();
  /** Whether a SQLite commit loop is running. */
  private committing = false;
  /** Numbers the savepoints of {@link savepoint}, so that nested ones have names of their own. */
  private savepoints = 0;
  /** SQLite writes waiting for the next group commit. */
  private readonly pendingWrites: { work: (tx: Tx) => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  // Marks the async context of a unit of work, so that a read nested in it reuses it (on SQLite
  // the connection is the same anyway) and a nested write, which would deadlock on SQLite or
  // escape the outer transaction, fails loudly instead.
  private readonly unitOfWork = new AsyncLocalStorage<UnitOfWork>();

  private constructor(
    readonly driver: Driver,
    private readonly dataSource: DataSource,
    private readonly display: string,
    /** PostgreSQL: how long {@link migrate} waits for another node's migration lock (database.migrationLockTimeout). */
    private readonly migrationLockTimeoutSeconds: number,
    /**
     * SQLite (a file): a second connection, query-only, for reads outside any write. In WAL mode it
     * reads the last committed state while the writer's group is open (even while it waits for
     * another process's lock or its fsync), so reads never queue behind writes.
     */
    private readonly readSource?: DataSource,
    /** SQLite (a file): makes commits durable before their writes resolve. */
    private readonly walSync?: WalSync,
    private readonly checkpointer?: SqliteCheckpointer,
  ) {}

  static async open(config: DatabaseConfig, options: DatabaseOptions): Promise<Database> {
    const entities = options.entities.map((e) => toEntitySchema(e, config.driver));
    const display = config.url.toString();
    let dataSource: DataSource;
    if (config.driver === 'sqlite') {
      const path = config.sqlitePath!;
      if (path !== ':memory:') prepareSqliteFile(path, display);
      dataSource = new DataSource({
        type: 'better-sqlite3',
        database: path,
        entities,
        migrations: [...options.migrations],
        migrationsTransactionMode: 'all',
        synchronize: false,
        enableWAL: true,
        timeout: SQLITE_LOCK_TIMEOUT_MS,
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          // NORMAL: COMMIT writes the WAL without fsyncing it; WalSync does that, off the event
          // loop and outside the lock, before any write of the commit resolves.
          db.pragma('synchronous = NORMAL');
          db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
        },
      });
    } else {
      dataSource = new DataSource({
        type: 'postgres',
        url: config.url.reveal(),
        entities,
        migrations: [...options.migrations],
        migrationsTransactionMode: 'each',
        synchronize: false,
        poolSize: config.poolSize,
        ...(config.schema !== undefined && { schema: config.schema }),
        connectTimeoutMS: 5_000,
        // Names the node and process, so that pg_stat_activity (and a node waiting for another's
        // migration lock) says which one a session belongs to. PostgreSQL keeps 63 bytes of it.
        applicationName: `security-realm ${hostname()} pid ${process.pid}`.slice(0, 63),
        // A node paused or frozen inside a transaction would otherwise hold its row locks (the
        // audit chain's head among them) until its TCP connection dies, stalling every other node's
        // writes; the server ends such a session after this long and its transaction rolls back, so
        // none of its writes was acknowledged. (SQLite's counterpart is the bounded busy timeout.)
        extra: { idle_in_transaction_session_timeout: config.idleInTransactionTimeoutSeconds * 1000 },
      });
    }
    try {
      await dataSource.initialize();
    } catch (error) {
      throw new PersistenceError('DB_UNAVAILABLE', `cannot open the database at ${display} (database.url): ${reasonOf(error)}`, { setting: 'database.url', cause: error });
    }
    let readSource: DataSource | undefined;
    if (config.driver === 'sqlite' && config.sqlitePath !== ':memory:') {
      readSource = new DataSource({
        type: 'better-sqlite3',
        database: config.sqlitePath!,
        entities,
        synchronize: false,
        timeout: SQLITE_LOCK_TIMEOUT_MS,
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          // Reads only: anything else is refused by SQLite itself, not just by convention.
          db.pragma('query_only = ON');
        },
      });
      try {
        await readSource.initialize();
      } catch (error) {
        await dataSource.destroy().catch(() => undefined);
        throw new PersistenceError('DB_UNAVAILABLE', `cannot open the database at ${display} (database.url) for reading: ${reasonOf(error)}`, { setting: 'database.url', cause: error });
      }
    }
    let walSync: WalSync | undefined;
    let checkpointer: SqliteCheckpointer | undefined;
    if (readSource) {
      walSync = new WalSync(config.sqlitePath!, options.walFileSync);
      checkpointer = new SqliteCheckpointer(config.sqlitePath!, SQLITE_CHECKPOINT_INTERVAL_MS);
    }
    const database = new Database(config.driver, dataSource, display, config.migrationLockTimeoutSeconds, readSource, walSync, checkpointer);
    if (config.schema !== undefined) await database.ensureSchema(config.schema);
    return database;
  }

  /** Applies pending migrations; returns the names applied. Safe when several nodes start at once. */
  async migrate(): Promise<string[]> {
    if (this.driver === 'postgres') {
      const lock = this.dataSource.createQueryRunner();
      let locked = false;
      try {
        await lock.connect();
        await this.lockMigrations(lock);
        locked = true;
        // On the lock's own session: with database.poolSize 1 there is no other to run them on.
        const executor = new MigrationExecutor(this.dataSource, lock);
        executor.transaction = 'each';
        return (await executor.executePendingMigrations()).map((m) => m.name);
      } catch (error) {
        throw error instanceof PersistenceError ? error : this.migrationError(error);
      } finally {
        if (locked) await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
        await lock.release();
      }
    }
    // SQLite has no advisory locks. The migrations run in one transaction, but TypeORM creates its
    // `migrations` table before that transaction; a node that races another one fails on it, waits,
    // and finds the work done (or retries it).
    const applied = await this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await this.dataSource.runMigrations({ transaction: 'all' })).map((m) => m.name);
        } catch (error) {
          const pending = await this.dataSource.showMigrations().catch(() => true);
          if (!pending) return [];
          if (attempt >= 20) throw this.migrationError(error);
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    });
    // TypeORM committed them on the writer (synchronous=NORMAL): on disk before this returns.
    await this.durable();
    return applied;
  }

  async hasPendingMigrations(): Promise<boolean> {
    return this.exclusive(() => this.dataSource.showMigrations());
  }

  /**
   * A read. PostgreSQL: a pooled query. SQLite: on the query-only connection, concurrently with
   * this process's writes, each statement seeing what was committed when it ran (as on PostgreSQL
   * under READ COMMITTED); inside a write, on the writer's connection, so it sees that write.
   */
  read<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const outer = this.unitOfWork.getStore();
    if (outer !== undefined && this.driver === 'sqlite') return work(outer);
    if (this.readSource) {
      const tx = new UnitOfWork(this.readSource.manager, this.driver, false);
      return this.unitOfWork.run(tx, () => work(tx));
    }
    const tx = new UnitOfWork(this.dataSource.manager, this.driver, false);
    if (this.driver === 'postgres') return this.unitOfWork.run(tx, () => work(tx));
    return this.exclusive(() => this.unitOfWork.run(tx, () => work(tx)));
  }

  /** A transaction: all of `work` commits or none of it does. */
  write<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.unitOfWork.getStore() !== undefined) {
      return Promise.reject(new Error('Database.write called inside another unit of work: pass the outer Tx instead'));
    }
    if (this.walSync?.failed !== undefined) return Promise.reject(this.durabilityError(this.walSync.failed));
    if (this.driver === 'postgres') {
      let unit: UnitOfWork | undefined;
      return this.dataSource
        .transaction('READ COMMITTED', (manager) => {
          const tx = (unit = new UnitOfWork(manager, this.driver, true));
          return this.unitOfWork.run(tx, () => work(tx));
        })
        .then((value) => {
          unit!.committed();
          return value;
        });
    }
    return new Promise<T>((resolve, reject) => {
      this.pendingWrites.push({ work: work as (tx: Tx) => Promise<unknown>, resolve: resolve as (value: unknown) => void, reject });
      if (!this.committing) void this.commitPending();
    });
  }

  /**
   * Commits the waiting SQLite writes, group after group, until none is left. `committing` is
   * cleared in the same synchronous step that finds the queue empty, so a write pushed at any
   * later moment starts a new loop.
   */
  private async commitPending(): Promise<void> {
    this.committing = true;
    try {
      while (this.pendingWrites.length > 0) {
        const waitingSince = performance.now();
        const deadline = waitingSince + SQLITE_LOCK_TIMEOUT_MS;
        for (;;) {
          let busy: unknown;
          try {
            busy = await this.exclusive(() => this.commitGroup());
          } catch (error) {
            for (const unit of this.pendingWrites.splice(0)) unit.reject(error);
            return;
          }
          if (busy === undefined) break;
          if (performance.now() >= deadline) {
            for (const unit of this.pendingWrites.splice(0)) unit.reject(busy);
            return;
          }
          // Another process holds the lock for its group (about a millisecond; its fsync comes
          // after the lock). Retrying on every turn of the event loop at first takes the lock as
          // soon as it is released, so the processes alternate instead of the one that just
          // committed taking it again before a timer-paced waiter wakes; after that, a millisecond
          // between tries.
          if (performance.now() - waitingSince < SQLITE_LOCK_SPIN_MS) await new Promise((resolve) => setImmediate(resolve));
          else await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
    } finally {
      this.committing = false;
    }
  }

  /**
   * SQLite group commit: every write waiting when this process gets the database's write lock runs
   * in one transaction, each unit in its own SAVEPOINT (a unit that fails is rolled back alone and
   * sees its error), and one COMMIT makes them all durable (one WAL fsync: see {@link WalSync} for
   * when groups share one) before any of them resolves. Units run one after the other, so each sees
   * what the ones before it wrote, as if committed separately in that order. Under load this turns
   * one fsync per write into one per group.
   *
   * The write lock is tried, not waited for: SQLite's busy handler would sleep with the event loop
   * blocked while another appliance process holds the lock (measured at 1.6 ms per transaction
   * with two workers). When it is busy, this returns the SQLITE_BUSY error and the caller retries
   * a millisecond later, with the connection free for reads and the event loop for requests in the
   * meantime; writes arriving while it waits join the group.
   */
  private async commitGroup(): Promise<unknown> {
    // Transaction control runs synchronously on the connection: no await between taking the lock
    // and the first unit, or between the last unit and the COMMIT.
    const sql = sqliteConnectionOf(this.dataSource);
    const busy = tryBeginImmediate(sql, SQLITE_LOCK_TIMEOUT_MS);
    if (busy !== undefined) return busy;
    const runner: QueryRunner = this.dataSource.createQueryRunner();
    const group = this.pendingWrites.splice(0, MAX_WRITES_PER_GROUP);
    const outcomes: ({ ok: true; value: unknown; unit: UnitOfWork } | { ok: false; error: unknown })[] = [];
    const rollback = () => {
      try {
        sql.exec('ROLLBACK');
      } catch {
        // Already rolled back (SQLite ends the transaction itself on some errors).
      }
    };
    for (const unit of group) {
      const single = group.length === 1;
      // A unit of work of its own for each: the effects of a unit rolled back to its savepoint never run.
      const tx = new UnitOfWork(runner.manager, this.driver, true);
      try {
        if (!single) runSqlite(sql, 'SAVEPOINT realm_unit', []);
        const value = await this.unitOfWork.run(tx, () => unit.work(tx));
        if (!single) runSqlite(sql, 'RELEASE realm_unit', []);
        outcomes.push({ ok: true, value, unit: tx });
      } catch (error) {
        if (single) {
          rollback();
          unit.reject(error);
          return undefined;
        }
        try {
          sql.exec('ROLLBACK TO realm_unit');
          sql.exec('RELEASE realm_unit');
        } catch (rollbackError) {
          // The transaction is unusable: nothing of the group commits.
          rollback();
          group.forEach((u, i) => u.reject(i < outcomes.length && !outcomes[i]!.ok ? (outcomes[i] as { error: unknown }).error : rollbackError));
          return undefined;
        }
        outcomes.push({ ok: false, error });
      }
    }
    try {
      runSqlite(sql, 'COMMIT', []);
    } catch (error) {
      rollback();
      for (const unit of group) unit.reject(error);
      return undefined;
    }
    for (const outcome of outcomes) if (outcome.ok) outcome.unit.committed();
    const settle = () =>
      group.forEach((unit, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) unit.resolve(outcome.value);
        else unit.reject(outcome.error);
      });
    if (!this.walSync) {
      settle();
      return undefined;
    }
    // The lock is released: the next group may commit while this one's fsync runs.
    this.checkpointer!.committed();
    this.walSync.flush().then(settle, (error: unknown) => {
      const failure = this.durabilityError(error);
      group.forEach((unit, i) => unit.reject(outcomes[i]!.ok ? failure : (outcomes[i] as { error: unknown }).error));
    });
    return undefined;
  }

  /** Resolves once every commit made so far is on disk (SQLite file; nothing to wait for otherwise). */
  private async durable(): Promise<void> {
    if (!this.walSync) return;
    this.checkpointer!.committed();
    await this.walSync.flush().catch((error: unknown) => {
      throw this.durabilityError(error);
    });
  }

  private durabilityError(error: unknown): PersistenceError {
    return new PersistenceError(
      'DB_UNAVAILABLE',
      `cannot make writes durable on ${this.display} (database.url): fsync of the write-ahead log failed (${reasonOf(error)}); writes are refused until the appliance restarts: check the disk that holds it`,
      { setting: 'database.url', cause: error },
    );
  }

  /**
   * Runs `work` inside a savepoint of the transaction `tx` (SQL standard SAVEPOINT, on both
   * databases): if it throws, what it wrote is rolled back, the error is rethrown, and the
   * transaction goes on (on PostgreSQL, a failed statement would otherwise abort all of it).
   */
  async savepoint<T>(tx: Tx, work: () => Promise<T>): Promise<T> {
    const name = `realm_savepoint_${(this.savepoints += 1)}`;
    // SQLite: on the connection directly, as the group commit does (no TypeORM awaits inside the lock).
    const control = tx.driver === 'sqlite' ? (sql: string) => void sqliteConnectionOf(tx.manager).exec(sql) : (sql: string) => tx.manager.query(sql);
    await control(`SAVEPOINT ${name}`);
    const mark = tx instanceof UnitOfWork ? tx.mark : 0;
    let value: T;
    try {
      value = await work();
    } catch (error) {
      if (tx instanceof UnitOfWork) tx.discardSince(mark);
      await control(`ROLLBACK TO SAVEPOINT ${name}`);
      await control(`RELEASE SAVEPOINT ${name}`);
      throw error;
    }
    await control(`RELEASE SAVEPOINT ${name}`);
    return value;
  }

  /** Whether the caller runs inside {@link read} or {@link write}; such code must not wait on another unit of work. */
  insideUnitOfWork(): boolean {
    return this.unitOfWork.getStore() !== undefined;
  }

  /** `SELECT 1`, for readiness. */
  async ping(): Promise<void> {
    if (this.walSync?.failed !== undefined) throw this.durabilityError(this.walSync.failed);
    try {
      await this.read((tx) => tx.manager.query('SELECT 1'));
    } catch (error) {
      throw new PersistenceError('DB_UNAVAILABLE', `the database at ${this.display} (database.url) does not answer: ${reasonOf(error)}`, { setting: 'database.url', cause: error });
    }
  }

  /** Raw SQL for tests and diagnostics (PRAGMA checks, tamper simulations); not for services. */
  query<T = unknown>(sql: string, parameters: unknown[] = []): Promise<T> {
    // On the writer's connection: tamper simulations write.
    if (this.driver === 'postgres') return this.dataSource.query(sql, parameters) as Promise<T>;
    return this.exclusive(async () => {
      const rows = (await this.dataSource.query(sql, parameters)) as T;
      await this.durable();
      return rows;
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    // Commits whose writes have not resolved yet are waiting for this.
    await this.walSync?.flush().catch(() => undefined);
    await this.walSync?.close();
    await this.checkpointer?.close();
    if (this.readSource?.isInitialized) await this.readSource.destroy();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  toString(): string {
    return this.display;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async ensureSchema(schema: string): Promise<void> {
    // The identifier was validated by the config schema (lower-case SQL identifier).
    await this.dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  }

  /**
   * Takes the migration lock on `lock`'s session, waiting at most database.migrationLockTimeout.
   * The lock is held by a session, not a transaction (the migrations run in transactions of their
   * own), so the server's idle-in-transaction timeout does not end a frozen holder's session: an
   * unbounded wait would hang this node's start for as long as that node stays frozen. The wait
   * is bounded by lock_timeout, set for this one transaction only (the session returns to the
   * pool); the session-level lock it takes outlives the transaction.
   */
  private async lockMigrations(lock: QueryRunner): Promise<void> {
    await lock.startTransaction();
    try {
      await lock.query("SELECT set_config('lock_timeout', $1, true)", [`${this.migrationLockTimeoutSeconds}s`]);
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      await lock.commitTransaction();
    } catch (error) {
      await lock.rollbackTransaction().catch(() => undefined);
      // 55P03 lock_not_available: lock_timeout ran out (PostgreSQL, Appendix A).
      if ((error as { code?: unknown }).code !== '55P03') throw error;
      throw new PersistenceError('DB_MIGRATION_LOCKED', await this.migrationLockedReason(lock), { setting: 'database.migrationLockTimeout', cause: error });
    }
  }

  /** Why migrate() gave up: which session holds the migration lock, as pg_stat_activity shows it to this role, and what to do. */
  private async migrationLockedReason(lock: QueryRunner): Promise<string> {
    const waited = `${this.migrationLockTimeoutSeconds} s (database.migrationLockTimeout)`;
    let holder: LockHolderRow | undefined;
    try {
      // A bigint advisory key shows in pg_locks as classid (its high half), objid (its low half) and objsubid 1.
      [holder] = (await lock.query(
        `SELECT a.pid, a.application_name, host(a.client_addr) AS client, a.client_port, a.backend_start, a.state, a.state_change
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1`,
        [Math.floor(MIGRATION_LOCK_ID / 2 ** 32), MIGRATION_LOCK_ID % 2 ** 32],
      )) as LockHolderRow[];
    } catch (error) {
      return `another node held the schema migration lock for longer than ${waited}; its session could not be read (${reasonOf(error)}): find it in pg_locks (advisory lock ${MIGRATION_LOCK_ID})`;
    }
    if (!holder) return `another node held the schema migration lock for longer than ${waited} and has released it since: start this node again`;
    const at = (date: Date | null) => (date === null ? 'unknown' : date.toISOString());
    const client = holder.client === null ? 'a local socket' : `${holder.client}:${holder.client_port}`;
    return (
      `another node held the schema migration lock for longer than ${waited}: PostgreSQL session ${holder.pid} (application "${holder.application_name ?? 'unknown'}", ` +
      `client ${client}, connected at ${at(holder.backend_start)}, ${holder.state ?? 'state unknown'} since ${at(holder.state_change)}). ` +
      `If that node is stopped or frozen, end its session (SELECT pg_terminate_backend(${holder.pid})) and start this node again; if it is still migrating, wait for it, or raise database.migrationLockTimeout`
    );
  }

  private migrationError(error: unknown): PersistenceError {
    return new PersistenceError('DB_MIGRATION_FAILED', `database migration failed on ${this.display}: ${reasonOf(error)}`, { setting: 'database.url', cause: error });
  }
}

/** Creates the data directory (0700) and the database file (0600) before SQLite does with 0644. */
function prepareSqliteFile(path: string, display: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
  } catch (error) {
    throw new PersistenceError('DB_UNAVAILABLE', `cannot create the database file ${path} (database.url ${display}, dataDir): ${reasonOf(error)}`, { setting: 'database.url', cause: error });
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message.split('\n', 1)[0] : String(error);
  return code !== undefined && !message.includes(code) ? `${code} ${message}` : message;
}

/** True when `error` is a primary-key or unique-constraint violation on either driver. */
export function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } })?.driverError ?? (error as { code?: unknown });
  const code = driverError?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** True when PostgreSQL failed a statement to break a cycle of transactions waiting for each other's locks (deadlock_detected). */
export function isDeadlock(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } })?.driverError ?? (error as { code?: unknown });
  return driverError?.code === '40P01';
}

/** True when `error` is a foreign-key violation on either driver (the referenced row is gone). */
export function isForeignKeyViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } })?.driverError ?? (error as { code?: unknown });
  const code = driverError?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
