/** A node's memory of the channels' replay logs: only whole, in-order runs of committed rows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeenRequestIds } from '../src/channels/seen-request-ids.js';

const row = (seq: number, ...requestIds: string[]) => ({ seq, requestIds });
const uri = 'kms://kms.realm.test/ecdhe/1';

describe('SeenRequestIds', () => {
  it('takes rows in order from the first, skips rows it holds, and stops at a gap', () => {
    const seen = new SeenRequestIds();
    seen.committed(uri, 7, [row(2, 'b')]);
    assert.equal(seen.of(uri, 7).seq, 0, 'a channel is taken only from its first row');
    seen.committed(uri, 7, [row(1, 'a'), row(2, 'b')]);
    seen.committed(uri, 7, [row(2, 'b'), row(3, 'c'), row(5, 'e'), row(6, 'f')]);
    const log = seen.of(uri, 7);
    assert.equal(log.seq, 3, 'nothing after the gap at 4');
    assert.deepEqual(['a', 'b', 'c', 'e', 'f'].filter((id) => log.requestIds.has(id)), ['a', 'b', 'c']);
  });

  it('holds nothing for a URI under another replay key, and drops what it held', () => {
    const seen = new SeenRequestIds(2);
    seen.committed(uri, 7, [row(1, 'a', 'b')]);
    assert.equal(seen.of(uri, 8).seq, 0);
    assert.equal(seen.of(uri, 7).seq, 0, 'forgotten');
    // What it held no longer counts against the bound: two channels of one requestId each fit.
    seen.committed(uri, 7, [row(1, 'a')]);
    seen.committed('kms://kms.realm.test/ecdhe/2', 9, [row(1, 'z')]);
    assert.equal(seen.of(uri, 7).seq, 1);
    assert.equal(seen.of('kms://kms.realm.test/ecdhe/2', 9).seq, 1);
  });

  it('forgets the least recently used channels beyond its bound, never the last one', () => {
    const seen = new SeenRequestIds(3);
    seen.committed('one', 1, [row(1, 'a', 'b')]);
    seen.committed('two', 2, [row(1, 'c')]);
    seen.of('one', 1);
    seen.committed('three', 3, [row(1, 'd')]);
    assert.equal(seen.of('two', 2).seq, 0, 'the least recently used went');
    assert.equal(seen.of('one', 1).seq, 1);
    assert.equal(seen.of('three', 3).seq, 1);
    seen.committed('big', 4, [row(1, 'e', 'f', 'g', 'h', 'i')]);
    assert.equal(seen.of('big', 4).seq, 1, 'a channel alone over the bound is kept');
    assert.equal(seen.of('one', 1).seq, 0);
  });
});
