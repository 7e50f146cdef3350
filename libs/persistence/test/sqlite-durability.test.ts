/**
 * WalSync, the group fsync of SQLite's write-ahead log: callers during a sync share the next one,
 * none resolves before a sync that started after its call, and a failure is final.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fdatasyncFile, WalSync } from '../src/sqlite-durability.js';

/** A sync function whose calls wait until the test releases them, one by one. */
function gatedSync() {
  const calls: { path: string; release: () => void; fail: (error: unknown) => void }[] = [];
  const sync = (path: string) => new Promise<void>((release, fail) => calls.push({ path, release, fail }));
  return { calls, sync };
}

const settled = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('WalSync', () => {
  it('syncs the -wal file, and every caller during a sync shares the one after it', async () => {
    const { calls, sync } = gatedSync();
    const wal = new WalSync('/data/realm.db', sync);
    const done: number[] = [];
    const first = wal.flush().then(() => done.push(0));
    await settled();
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.path, '/data/realm.db-wal');
    // Ten commits land while the first sync runs: it may have started before them, so they wait for one more.
    const later = Array.from({ length: 10 }, (_, i) => wal.flush().then(() => done.push(i + 1)));
    await settled();
    assert.equal(calls.length, 1, 'no second sync while the first runs');
    calls[0]!.release();
    await first;
    await settled();
    assert.deepEqual(done, [0], 'the later callers are not resolved by the sync that was already running');
    assert.equal(calls.length, 2, 'one more sync for all ten');
    calls[1]!.release();
    await Promise.all(later);
    assert.equal(done.length, 11);
    assert.equal(calls.length, 2);
    // Idle again: the next caller starts a sync of its own at once.
    const next = wal.flush();
    await settled();
    assert.equal(calls.length, 3);
    calls[2]!.release();
    await next;
  });

  it('fails the waiting callers and every later one with the first error, without syncing again', async () => {
    const { calls, sync } = gatedSync();
    const wal = new WalSync('/data/realm.db', sync);
    const first = wal.flush();
    await settled();
    const queued = wal.flush();
    const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    calls[0]!.fail(eio);
    await assert.rejects(first, eio);
    await assert.rejects(queued, eio);
    await assert.rejects(wal.flush(), eio);
    assert.equal(wal.failed, eio);
    assert.equal(calls.length, 1, 'a failed fsync is never retried');
  });

  it('syncs the database file itself when there is no WAL (nothing written, or checkpointed and removed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'realm-walsync-'));
    const database = join(dir, 'realm.db');
    writeFileSync(database, 'x');
    const synced: string[] = [];
    const wal = new WalSync(database, async (path) => {
      synced.push(path);
      await fdatasyncFile(path);
    });
    await wal.flush();
    assert.deepEqual(synced, [`${database}-wal`, database]);
    assert.equal(wal.failed, undefined);
  });
});
