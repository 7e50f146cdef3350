import { type FileHandle, open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/** Makes a file's written data durable (fdatasync(2)). */
export type FileSync = (path: string) => Promise<void>;

/**
 * fdatasync(2) of the file at `path`, on libuv's thread pool, through a descriptor opened for it
 * (fsync of any descriptor flushes the file's pages, whoever wrote them).
 */
export const fdatasyncFile: FileSync = async (path) => {
  const handle = await open(path, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
};

/**
 * Group fsync of a SQLite write-ahead log, off the event loop.
 *
 * The writer runs with synchronous=NORMAL: COMMIT appends the transaction's frames to the WAL with
 * write(2), which kill -9 cannot undo, and releases the write lock without waiting for the disk.
 * Before any write of that commit is acknowledged, {@link flush} fdatasyncs the WAL on the thread
 * pool; commits made while one sync runs share the next (group commit), so the database's lock is
 * not held across these fsyncs and the event loop does not wait for them. One sync stays with
 * SQLite, on the writer: when a commit starts the WAL over after a complete checkpoint, SQLite
 * fsyncs the new WAL header before writing frames after it (wal.c, sqlite3WalFrames; its guard
 * against out-of-order writes after a restart, ticket ff5be73dee). That one runs on the event loop
 * with the lock held: under the KMS bench about twice a second per worker, 0.8 ms median and 10 ms
 * at most (measured with syscall tracing). It is kept: turning it off takes synchronous=OFF, which
 * would also take the syncs out of the writers' safety-net checkpoints. This is the durability of
 * synchronous=FULL (the WAL on disk before the answer) with the lock released before the log
 * flush ("early lock release": DeWitt et al., SIGMOD 1984; Johnson et al., Aether, VLDB 2010).
 * The price: another request may read a commit a few milliseconds before it is durable. Any write
 * that request makes appends after it to the same log, so its own sync covers what it read (every
 * KMS answer writes its audit record); only a read-only answer can show a write that a power
 * failure in that window then loses, a write whose author was never told it succeeded.
 *
 * Checkpoints (WAL to database file) fsync both files themselves, and the WAL is only reset after
 * one: frames this sync covers are either still in the WAL or already in the synced database file.
 *
 * A failed fsync is not retried: after one, Linux may have dropped the dirty pages it could not
 * write, so a later fsync that succeeds proves nothing (PostgreSQL stops the server in this case).
 * Every later flush fails with the first error, and the database refuses writes until restarted.
 */
export class WalSync {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private failure: unknown;
  private readonly walPath: string;
  private readonly sync: FileSync;
  /** The WAL, kept open: one trip to the thread pool per sync rather than three. */
  private wal: FileHandle | undefined;

  constructor(
    private readonly databasePath: string,
    sync?: FileSync,
  ) {
    this.walPath = `${databasePath}-wal`;
    this.sync = sync ?? ((path) => this.syncKeepingOpen(path));
  }

  /** Closes the WAL's descriptor (the database closes after its last flush). */
  async close(): Promise<void> {
    const wal = this.wal;
    this.wal = undefined;
    await wal?.close();
  }

  /** The error of a failed sync, after which nothing more is made durable. */
  get failed(): unknown {
    return this.failure;
  }

  /**
   * Resolves once everything written to the WAL before this call is on disk: by a sync started
   * now, or, when one is already running (it may have started before the caller's commit), by the
   * one after it, which every caller arriving meanwhile shares.
   */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.start();
    const queued = this.inFlight.then(
      () => this.start(),
      () => Promise.reject(this.failure),
    );
    this.queued = queued;
    // Cleared as the queued sync starts: a flush from then on waits for the one after.
    void this.inFlight.finally(() => {
      if (this.queued === queued) this.queued = undefined;
    }).catch(() => undefined);
    return queued;
  }

  /**
   * fdatasync of the WAL through a descriptor opened at the first sync. SQLite deletes the WAL only
   * when the last connection to the database closes, and this process's writer stays open until
   * the database closes, so the descriptor names the live WAL for as long as it is used.
   */
  private async syncKeepingOpen(path: string): Promise<void> {
    if (path !== this.walPath) return fdatasyncFile(path);
    this.wal ??= await open(path, 'r');
    await this.wal.datasync();
  }

  private start(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // No WAL: nothing was written since the last connection closed, or SQLite checkpointed it into
    // the database file (syncing that file) and deleted it; syncing the database file covers both.
    const run = this.sync(this.walPath).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 'ENOENT') return this.sync(this.databasePath);
      throw error;
    }).then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
        throw this.failure;
      },
    );
    this.inFlight = run;
    void run
      .finally(() => {
        if (this.inFlight === run) this.inFlight = undefined;
      })
      .catch(() => undefined);
    return run;
  }
}

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses the threshold, on the committing connection: on the event loop, fsyncing the WAL
 * and the database file (tens of milliseconds under load, for whichever request is unlucky). Here a
 * worker thread with its own connection runs PASSIVE checkpoints (they never wait for, nor block,
 * readers and writers) a short while after commits. The writers keep a far higher automatic
 * threshold as a safety net, should this thread fall behind or fail (a failed checkpoint is simply
 * tried again on the next tick: nothing is lost, the WAL only grows meanwhile).
 */
export class SqliteCheckpointer {
  private readonly commits = new Int32Array(new SharedArrayBuffer(4));
  /** Started by the first commit: a process that only reads never needs one. */
  private worker: Worker | undefined;

  constructor(
    private readonly databasePath: string,
    private readonly intervalMs: number,
  ) {}

  /** Called after each commit: the worker's next tick checkpoints. */
  committed(): void {
    Atomics.add(this.commits, 0, 1);
    if (this.worker) return;
    const worker = new Worker(new URL('./sqlite-checkpoint-worker.js', import.meta.url), { workerData: { databasePath: this.databasePath, intervalMs: this.intervalMs, commits: this.commits } });
    // A checkpointer that dies leaves the writers' automatic checkpoint; it must not take the process with it.
    worker.on('error', () => undefined);
    worker.unref();
    this.worker = worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate().finally(resolve), 5_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage('close');
    });
  }
}
