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
 * How many WAL syncs may run at once. With one at a time, a commit that arrived during a sync
 * waited for the rest of it, then for the event loop to start the next one (behind whatever batch
 * or garbage collection ran then), then for its own. Under the KMS bench's paced load (syscall
 * tracing: fdatasync 1 ms median, 8 ms p99, 27 ms at most), that wait made the p99 from COMMIT to
 * durable 33 ms; with two it was 19 ms (medians of five paired runs). The batches' own p99 moved
 * within the machine's noise (70.6 against 64.3 ms, medians of eight pairs). Four were no better
 * than two, and each sync is a cache flush of the disk, so beyond two, commits still share.
 */
const CONCURRENT_WAL_SYNCS = 2;

/**
 * Group fsync of a SQLite write-ahead log, off the event loop.
 *
 * The writer runs with synchronous=NORMAL: COMMIT appends the transaction's frames to the WAL with
 * write(2), which kill -9 cannot undo, and releases the write lock without waiting for the disk.
 * Before any write of that commit is acknowledged, {@link flush} fdatasyncs the WAL on the thread
 * pool, so the database's lock is not held across these fsyncs and the event loop does not wait
 * for them. Up to {@link CONCURRENT_WAL_SYNCS} syncs run at once, each started by a commit as soon
 * as it calls; commits made while that many run share the one started after the latest of them
 * (group commit). fdatasync(2) covers whatever was written before it was called, so a sync started
 * after a commit's write covers that commit whatever else is running. One sync stays with
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
  /** The syncs running now. */
  private running = 0;
  /** The sync started last, which a queued sync waits for. */
  private latest: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private failure: unknown;
  private readonly walPath: string;
  /**
   * The WAL, kept open (one trip to the thread pool per sync rather than three), on a descriptor of
   * its own for each sync that may run at once. Linux reports a writeback error once per open file
   * description (errseq, since 4.13): two syncs on one descriptor could see it once between them,
   * and the one that missed it would report data as durable that the kernel had dropped.
   */
  private readonly wal: (FileHandle | undefined)[] = [];
  /** The descriptors' slots no running sync uses. */
  private readonly freeSlots = Array.from({ length: CONCURRENT_WAL_SYNCS }, (_, slot) => slot);

  constructor(
    private readonly databasePath: string,
    /** Replaces fdatasync for tests: called with the file to sync. */
    private readonly fileSync?: FileSync,
  ) {
    this.walPath = `${databasePath}-wal`;
  }

  /** Closes the WAL's descriptors (the database closes after its last flush). */
  async close(): Promise<void> {
    const open = this.wal.splice(0);
    await Promise.all(open.map((handle) => handle?.close()));
  }

  /** The error of a failed sync, after which nothing more is made durable. */
  get failed(): unknown {
    return this.failure;
  }

  /**
   * Resolves once everything written to the WAL before this call is on disk: by a sync started
   * now, or, when {@link CONCURRENT_WAL_SYNCS} are already running (they may have started before
   * the caller's commit), by the one started after the latest of them ends, which every caller
   * arriving meanwhile shares.
   */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // Joining a queued sync even when a running one has ended meanwhile keeps at most
    // CONCURRENT_WAL_SYNCS running: the queued one starts only once the latest has ended.
    if (this.queued) return this.queued;
    if (this.running < CONCURRENT_WAL_SYNCS) return this.start();
    const queued: Promise<void> = this.latest!.then(
      () => {
        // Cleared as it starts: a flush from then on is not covered by it.
        if (this.queued === queued) this.queued = undefined;
        return this.start();
      },
      () => Promise.reject(this.failure),
    );
    this.queued = queued;
    return queued;
  }

  /**
   * fdatasync of the WAL through the slot's descriptor, opened at its first sync. SQLite deletes
   * the WAL only when the last connection to the database closes, and this process's writer stays
   * open until the database closes, so the descriptor names the live WAL for as long as it is used.
   */
  private async syncWal(slot: number): Promise<void> {
    if (this.fileSync) return this.fileSync(this.walPath);
    this.wal[slot] ??= await open(this.walPath, 'r');
    await this.wal[slot].datasync();
  }

  private start(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const slot = this.freeSlots.pop()!;
    // No WAL: nothing was written since the last connection closed, or SQLite checkpointed it into
    // the database file (syncing that file) and deleted it; syncing the database file covers both.
    const run = this.syncWal(slot)
      .catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'ENOENT') return (this.fileSync ?? fdatasyncFile)(this.databasePath);
        throw error;
      })
      .then(
        () => {
          // Another sync failed meanwhile: the kernel may have dropped pages this one was to cover.
          if (this.failure !== undefined) throw this.failure;
        },
        (error: unknown) => {
          this.failure ??= error;
          throw this.failure;
        },
      );
    this.running += 1;
    this.latest = run;
    void run
      .finally(() => {
        this.running -= 1;
        this.freeSlots.push(slot);
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
