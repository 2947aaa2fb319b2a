// The meta-key codec: ids round-trip, keys sort by id, prefixes do not collide, and
// malformed keys and values are refused rather than misread.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes } from '../../server/src/storage/bytes.js';
import {
  MetaKeyError,
  allocIdKey,
  bootstrapKey,
  clusterIdKey,
  decodeU64Value,
  encodeU64Value,
  regionIdOfKey,
  regionKey,
  regionKeyRange,
  storeIdOfKey,
  storeKey,
  storeKeyRange,
} from '../src/meta/meta-keys.js';

function inRange(key: Uint8Array, range: { start: Uint8Array; end: Uint8Array | null }): boolean {
  return compareBytes(key, range.start) >= 0 && (range.end === null || compareBytes(key, range.end) < 0);
}

describe('meta keys', () => {
  it('round-trips store and region ids, up to the largest safe integer', () => {
    for (const id of [1, 255, 256, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      assert.equal(storeIdOfKey(storeKey(id)), id);
      assert.equal(regionIdOfKey(regionKey(id)), id);
    }
  });

  it('orders keys by numeric id, so a prefix scan lists ids ascending', () => {
    const ids = [1, 2, 255, 256, 70_000, 2 ** 40];
    for (let i = 1; i < ids.length; i++) {
      assert.ok(compareBytes(regionKey(ids[i - 1] as number), regionKey(ids[i] as number)) < 0);
    }
  });

  it('keeps stores, regions and the fixed keys in disjoint ranges', () => {
    assert.ok(inRange(storeKey(7), storeKeyRange));
    assert.ok(!inRange(storeKey(7), regionKeyRange));
    assert.ok(inRange(regionKey(7), regionKeyRange));
    assert.ok(!inRange(regionKey(7), storeKeyRange));
    for (const fixed of [clusterIdKey, bootstrapKey, allocIdKey]) {
      assert.ok(!inRange(fixed, storeKeyRange) && !inRange(fixed, regionKeyRange));
    }
  });

  it('refuses id 0, negative and unsafe ids', () => {
    for (const bad of [0, -1, 1.5, 2 ** 53]) {
      assert.throws(() => storeKey(bad), MetaKeyError);
      assert.throws(() => regionKey(bad), MetaKeyError);
    }
  });

  it('refuses a key of the other kind or of the wrong length', () => {
    assert.throws(() => storeIdOfKey(regionKey(3)), MetaKeyError);
    assert.throws(() => regionIdOfKey(regionKey(3).subarray(0, 10)), MetaKeyError);
  });

  it('round-trips u64 values and refuses values of the wrong width', () => {
    assert.equal(decodeU64Value(encodeU64Value(123_456_789_012), 'v'), 123_456_789_012);
    assert.throws(() => decodeU64Value(new Uint8Array(7), 'v'), MetaKeyError);
  });
});
