/**
 * tryBeginImmediate, the write lock taken without waiting: the lock or the SQLITE_BUSY error, and
 * on every path the connection's busy timeout and the process's stack-trace limit as they were.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { makeTempDir } from '@realm/testing';
import { type SqliteConnection, tryBeginImmediate } from '../src/sqlite-connection.js';

const BUSY_TIMEOUT_MS = 10_000;

describe('tryBeginImmediate', () => {
  const path = join(makeTempDir('realm-sqlite-lock-'), 'lock.db');
  const first = new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS });
  first.pragma('journal_mode = WAL');
  first.exec('CREATE TABLE t (x INTEGER)');
  const second = new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS });
  const busyTimeout = (db: BetterSqlite3.Database) => db.pragma('busy_timeout', { simple: true }) as number;
  after(() => {
    first.close();
    second.close();
  });

  it('takes the lock, and gives the other connection its SQLITE_BUSY at once instead of waiting for it', () => {
    assert.equal(tryBeginImmediate(first as unknown as SqliteConnection, BUSY_TIMEOUT_MS), undefined);
    assert.equal(first.inTransaction, true);
    const started = performance.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const busy = tryBeginImmediate(second as unknown as SqliteConnection, BUSY_TIMEOUT_MS) as { code?: string } | undefined;
      assert.match(String(busy?.code), /^SQLITE_BUSY/);
      assert.equal(second.inTransaction, false);
    }
    assert.ok(performance.now() - started < 1_000, 'the attempts did not wait for the busy timeout');
    assert.equal(busyTimeout(second), BUSY_TIMEOUT_MS, 'the busy timeout is back for the statements that may wait');
    assert.equal(Error.stackTraceLimit > 0, true);
    first.exec('INSERT INTO t VALUES (1)');
    first.exec('COMMIT');
    // Released: the same cached statements take it now.
    assert.equal(tryBeginImmediate(second as unknown as SqliteConnection, BUSY_TIMEOUT_MS), undefined);
    assert.equal(second.inTransaction, true);
    second.exec('ROLLBACK');
  });

  it('throws any other error, with the busy timeout and the stack-trace limit restored', () => {
    const limit = Error.stackTraceLimit;
    first.exec('BEGIN');
    try {
      // SQLite refuses a transaction within a transaction: an error, not a busy lock.
      assert.throws(() => tryBeginImmediate(first as unknown as SqliteConnection, BUSY_TIMEOUT_MS), (error: { code?: string }) => error.code === 'SQLITE_ERROR');
    } finally {
      first.exec('ROLLBACK');
    }
    assert.equal(Error.stackTraceLimit, limit);
    assert.equal(busyTimeout(first), BUSY_TIMEOUT_MS);
  });
});
