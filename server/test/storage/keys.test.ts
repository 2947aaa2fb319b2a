// The store's key layout: local keys sort before data keys, a region's log keys sort by
// index, and user ranges map to contiguous engine ranges.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes, prefixEnd, readU64, u64Bytes } from '../../src/storage/bytes.js';
import {
  applyStateKey,
  dataKey,
  dataRange,
  raftHardStateKey,
  raftLogIndexOf,
  raftLogKey,
  raftLogRange,
  regionStateKey,
  regionStateRange,
  storeIdentKey,
  userKeyOf,
} from '../../src/storage/keys.js';

const te = new TextEncoder();

describe('storage keys', () => {
  it('sorts raft log keys by region, then by index numerically', () => {
    const keys = [raftLogKey(2, 1), raftLogKey(1, 256), raftLogKey(1, 2), raftLogKey(1, 2 ** 40)];
    const sorted = [...keys].sort(compareBytes);
    assert.deepEqual(
      sorted.map((k) => raftLogIndexOf(k)),
      [2, 256, 2 ** 40, 1],
    );
  });

  it('keeps a region log range inside [lo, hi) and apart from its hard and apply state', () => {
    const range = raftLogRange(7, 10, 20);
    assert.ok(compareBytes(raftLogKey(7, 10), range.start) >= 0);
    assert.ok(compareBytes(raftLogKey(7, 19), range.end as Uint8Array) < 0);
    assert.ok(compareBytes(raftLogKey(7, 20), range.end as Uint8Array) >= 0);
    for (const other of [raftHardStateKey(7), applyStateKey(7)]) {
      assert.ok(compareBytes(other, raftLogKey(7, Number.MAX_SAFE_INTEGER)) > 0);
    }
  });

  it('sorts every local key before every data key', () => {
    const smallestData = dataKey(new Uint8Array(0));
    for (const local of [
      storeIdentKey,
      raftLogKey(2 ** 50, 2 ** 50),
      raftHardStateKey(1),
      applyStateKey(1),
      regionStateKey(9),
    ]) {
      assert.ok(compareBytes(local, smallestData) < 0);
    }
  });

  it('finds every region state key inside regionStateRange', () => {
    for (const id of [1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const key = regionStateKey(id);
      assert.ok(
        compareBytes(key, regionStateRange.start) >= 0 &&
          compareBytes(key, regionStateRange.end as Uint8Array) < 0,
      );
    }
  });

  it('maps user keys and ranges to data keys and back', () => {
    const user = te.encode('user/42');
    assert.deepEqual(userKeyOf(dataKey(user)), user);
    const unbounded = dataRange(new Uint8Array(0), new Uint8Array(0));
    assert.ok(compareBytes(dataKey(new Uint8Array([0xff, 0xff])), unbounded.end as Uint8Array) < 0);
    const bounded = dataRange(te.encode('a'), te.encode('m'));
    assert.ok(compareBytes(dataKey(te.encode('lzzz')), bounded.end as Uint8Array) < 0);
    assert.ok(compareBytes(dataKey(te.encode('m')), bounded.end as Uint8Array) >= 0);
    assert.throws(() => userKeyOf(raftHardStateKey(1)), /not a data key/);
  });

  it('encodes u64 big-endian up to 2^53 - 1 and rejects what it cannot represent', () => {
    assert.equal(readU64(new DataView(u64Bytes(Number.MAX_SAFE_INTEGER).buffer), 0), Number.MAX_SAFE_INTEGER);
    assert.throws(() => u64Bytes(-1), RangeError);
    assert.throws(() => u64Bytes(2 ** 53), RangeError);
    assert.equal(prefixEnd(new Uint8Array([0xff, 0xff])), null);
    assert.deepEqual(prefixEnd(new Uint8Array([1, 0xff])), new Uint8Array([2]));
  });
});
