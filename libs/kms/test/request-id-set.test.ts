/** The replay check's set of requestIds: exact membership, UUIDs held off the JavaScript heap. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { RequestIdSet } from '../src/channels/request-id-set.js';

describe('RequestIdSet', () => {
  it('holds every requestId added, and no other, through many growths of its table', () => {
    const set = new RequestIdSet();
    const held = Array.from({ length: 20_000 }, () => randomUUID());
    for (const id of held) assert.equal(set.add(id), true);
    assert.equal(set.size, held.length);
    for (const id of held) assert.equal(set.has(id), true, id);
    for (let i = 0; i < 20_000; i++) assert.equal(set.has(randomUUID()), false);
    for (const id of held.slice(0, 100)) assert.equal(set.add(id), false, 'held already');
    assert.equal(set.size, held.length);
  });

  it('tells apart UUIDs that differ in any one hex digit, whichever word it is in', () => {
    const set = new RequestIdSet();
    const base = '0f1e2d3c-4b5a-4697-8877-665544332211';
    set.add(base);
    for (let i = 0; i < base.length; i++) {
      if (base[i] === '-') continue;
      const other = `${base.slice(0, i)}${base[i] === '0' ? '1' : '0'}${base.slice(i + 1)}`;
      assert.equal(set.has(other), false, other);
      assert.equal(set.add(other), true, other);
    }
    assert.equal(set.size, 33);
    assert.equal(set.has(base), true);
  });

  it('keeps every other string as itself: another case, another form, the nil UUID', () => {
    const set = new RequestIdSet();
    const lower = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
    const others = [
      lower.toUpperCase(),
      `{${lower}}`,
      lower.replaceAll('-', ''),
      '00000000-0000-0000-0000-000000000000',
      'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5g',
      'a1b2c3d4xe5f6-4a7b-8c9d-0e1f2a3b4c5',
      '12',
      'requestId with spaces',
      'ä1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    ];
    set.add(lower);
    for (const id of others) assert.equal(set.has(id), false, `${id} is not ${lower}`);
    for (const id of others) assert.equal(set.add(id), true, id);
    for (const id of others) assert.equal(set.add(id), false, id);
    assert.equal(set.size, others.length + 1);
    for (const id of [lower, ...others]) assert.equal(set.has(id), true, id);
  });

  it('finds UUIDs whose words differ only where they hash alike (time-based, sequential)', () => {
    const set = new RequestIdSet();
    // Version 1 style: the same node and clock sequence, consecutive timestamps.
    const ids = Array.from({ length: 5_000 }, (_, i) => `${(0x1000_0000 + i).toString(16)}-0000-1000-8000-00a0c91e6bf6`);
    for (const id of ids) set.add(id);
    for (const id of ids) assert.equal(set.has(id), true, id);
    assert.equal(set.has(`${(0x1000_0000 + 5_000).toString(16)}-0000-1000-8000-00a0c91e6bf6`), false);
  });
});
