/**
 * The worker thread of {@link SqliteCheckpointer}: its own connection to the database file, and a
 * PASSIVE checkpoint (https://sqlite.org/c3ref/wal_checkpoint_v2.html) on each tick that follows a
 * commit. PASSIVE copies what it can without waiting for any lock, so neither this process's
 * requests nor another appliance process ever wait for it; another process checkpointing at the
 * same moment makes this one a no-op (SQLITE_BUSY), tried again on the next tick.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

const { databasePath, intervalMs, commits } = workerData as { databasePath: string; intervalMs: number; commits: Int32Array };

const connection = new BetterSqlite3(databasePath, { fileMustExist: true });
connection.pragma('busy_timeout = 0');
// Checkpoints sync the WAL before copying it and the database file after, whatever this says;
// FULL keeps that explicit.
connection.pragma('synchronous = FULL');

let seen = Atomics.load(commits, 0);
const timer = setInterval(() => {
  const now = Atomics.load(commits, 0);
  if (now === seen) return;
  seen = now;
  try {
    connection.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another process checkpoints) or failed: the WAL keeps every frame until one succeeds,
    // so the next tick tries again; the writers' automatic checkpoint bounds the WAL meanwhile.
    seen = -1;
  }
}, intervalMs);

parentPort!.on('message', (message: unknown) => {
  if (message !== 'close') return;
  clearInterval(timer);
  connection.close();
  parentPort!.close();
});
