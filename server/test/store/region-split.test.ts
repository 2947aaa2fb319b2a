// Split checks and results as pure functions of (region, split points): the same answer on
// every replica.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegionMeta } from '../../src/store/region-meta.js';
import { checkSplitKeys, checkSplitPoints, splitRegionMetas } from '../../src/store/region-split.js';

const te = new TextEncoder();
const td = new TextDecoder();
const parent: RegionMeta = {
  id: 1,
  startKey: te.encode('b'),
  endKey: te.encode('y'),
  epoch: { confVer: 4, version: 7 },
  peers: [
    { id: 11, storeId: 1, role: 'voter' },
    { id: 12, storeId: 2, role: 'voter' },
    { id: 13, storeId: 3, role: 'learner' },
  ],
};

describe('region split rules', () => {
  it('accepts ascending keys strictly inside the region only', () => {
    assert.equal(checkSplitKeys(parent, [te.encode('c'), te.encode('m')]), undefined);
    assert.match(checkSplitKeys(parent, []) ?? '', /no split keys/);
    assert.match(checkSplitKeys(parent, [te.encode('b')]) ?? '', /start key/);
    assert.match(checkSplitKeys(parent, [te.encode('y')]) ?? '', /end key/);
    assert.match(checkSplitKeys(parent, [te.encode('m'), te.encode('m')]) ?? '', /ascending/);
    assert.match(checkSplitKeys(parent, [te.encode('')]) ?? '', /empty/);
  });

  it('needs one new peer id per parent peer and ids never used', () => {
    const point = { splitKey: te.encode('m'), newRegionId: 2, newPeerIds: [21, 22, 23] };
    assert.equal(checkSplitPoints(parent, [point]), undefined);
    assert.match(
      checkSplitPoints(parent, [{ ...point, newPeerIds: [21, 22] }]) ?? '',
      /2 peer ids for 3 peers/,
    );
    assert.match(checkSplitPoints(parent, [{ ...point, newRegionId: 1 }]) ?? '', /not new/);
    assert.match(checkSplitPoints(parent, [{ ...point, newPeerIds: [21, 12, 23] }]) ?? '', /not new/);
  });

  it('keeps the left part in the parent and bumps every version by the number of new regions', () => {
    const [left, middle, right] = splitRegionMetas(parent, [
      { splitKey: te.encode('h'), newRegionId: 2, newPeerIds: [21, 22, 23] },
      { splitKey: te.encode('p'), newRegionId: 3, newPeerIds: [31, 32, 33] },
    ]);
    assert.deepEqual([left?.id, middle?.id, right?.id], [1, 2, 3]);
    assert.deepEqual(
      [left, middle, right].map((r) => `${td.decode(r?.startKey)}-${td.decode(r?.endKey)}`),
      ['b-h', 'h-p', 'p-y'],
    );
    for (const r of [left, middle, right]) assert.deepEqual(r?.epoch, { confVer: 4, version: 9 });
    assert.deepEqual(right?.peers, [
      { id: 31, storeId: 1, role: 'voter' },
      { id: 32, storeId: 2, role: 'voter' },
      { id: 33, storeId: 3, role: 'learner' },
    ]);
  });
});
