/**
 * WalSync, the group fsync of SQLite's write-ahead log: two syncs may run at once, callers while
 * two run share the next one, none resolves before a sync that started after its call, and a
 * failure is final.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
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
  it('syncs the -wal file, two at once, and every caller while two run shares the one after the latest', async () => {
    const { calls, sync } = gatedSync();
    const wal = new WalSync('/data/realm.db', sync);
    const done: number[] = [];
    const first = wal.flush().then(() => done.push(0));
    await settled();
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.path, '/data/realm.db-wal');
    // A commit made while the first sync runs gets a sync of its own at once, not after the first.
    const second = wal.flush().then(() => done.push(1));
    await settled();
    assert.equal(calls.length, 2, 'a second sync runs beside the first');
    // Ten commits land while both run: either may have started before them, so they wait for one more.
    const later = Array.from({ length: 10 }, (_, i) => wal.flush().then(() => done.push(i + 2)));
    await settled();
    assert.equal(calls.length, 2, 'no third sync while two run');
    calls[0]!.release();
    await first;
    await settled();
    assert.deepEqual(done, [0]);
    assert.equal(calls.length, 2, 'the shared sync starts after the latest one, not after the first to end');
    calls[1]!.release();
    await second;
    await settled();
    assert.deepEqual(done, [0, 1], 'the later callers are not resolved by the syncs that were already running');
    assert.equal(calls.length, 3, 'one more sync for all ten');
    // A commit made after the shared sync started is not covered by it: it starts one of its own.
    const afterShared = wal.flush();
    await settled();
    assert.equal(calls.length, 4);
    calls[2]!.release();
    await Promise.all(later);
    assert.equal(done.length, 12);
    calls[3]!.release();
    await afterShared;
    // Idle again: the next caller starts a sync of its own at once.
    const next = wal.flush();
    await settled();
    assert.equal(calls.length, 5);
    calls[4]!.release();
    await next;
  });

  it('fails the waiting callers and every later one with the first error, without syncing again', async () => {
    const { calls, sync } = gatedSync();
    const wal = new WalSync('/data/realm.db', sync);
    const first = wal.flush();
    const second = wal.flush();
    await settled();
    const queued = wal.flush();
    const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    calls[0]!.fail(eio);
    await assert.rejects(first, eio);
    // The second sync reports success after the first failed: the kernel may have dropped pages it
    // was to cover and reported that only once, so it fails too.
    calls[1]!.release();
    await assert.rejects(second, eio);
    await assert.rejects(queued, eio);
    await assert.rejects(wal.flush(), eio);
    assert.equal(wal.failed, eio);
    assert.equal(calls.length, 2, 'a failed fsync is never retried');
  });

  it('syncs on a descriptor of its own for each sync that runs at once, and closes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'realm-walsync-'));
    const database = join(dir, 'realm.db');
    writeFileSync(`${database}-wal`, 'x');
    const walDescriptors = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === `${database}-wal`;
      } catch {
        return false;
      }
    }).length;
    const wal = new WalSync(database);
    try {
      await Promise.all([wal.flush(), wal.flush()]);
      // One descriptor would report a writeback error to only one of two syncs running on it.
      assert.equal(walDescriptors(), 2);
      await wal.flush();
      assert.equal(walDescriptors(), 2, 'kept open and reused');
      await wal.close();
      assert.equal(walDescriptors(), 0);
      assert.equal(wal.failed, undefined);
    } finally {
      await wal.close();
      rmSync(dir, { recursive: true, force: true });
    }
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
    try {
      await wal.flush();
      assert.deepEqual(synced, [`${database}-wal`, database]);
      assert.equal(wal.failed, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
