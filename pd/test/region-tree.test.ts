// The region tree: lookups by key and id, previous region, bounded scans, and the rule that
// a region put into the tree removes every region its range overlaps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegionTree, RegionTreeError } from '../src/cluster/region-tree.js';
import { info, key, region } from './helpers/regions.js';

/** [''..b) 1, [b..d) 2, [d..f) 3, [f..'') 4 */
function fourRegions(): RegionTree {
  const tree = new RegionTree();
  tree.put(info(region(3, 'd', 'f')));
  tree.put(info(region(1, '', 'b')));
  tree.put(info(region(4, 'f', '')));
  tree.put(info(region(2, 'b', 'd')));
  return tree;
}

const ids = (infos: ReadonlyArray<{ region: { id: number } }>): number[] => infos.map((i) => i.region.id);

describe('RegionTree', () => {
  it('finds the region containing a key, at range boundaries too', () => {
    const tree = fourRegions();
    assert.equal(tree.getByKey(key(''))?.region.id, 1);
    assert.equal(tree.getByKey(key('a'))?.region.id, 1);
    assert.equal(tree.getByKey(key('b'))?.region.id, 2);
    assert.equal(tree.getByKey(key('c\xff'))?.region.id, 2);
    assert.equal(tree.getByKey(key('d'))?.region.id, 3);
    assert.equal(tree.getByKey(key('zzzz'))?.region.id, 4);
    assert.deepEqual(ids(tree.all()), [1, 2, 3, 4]);
  });

  it('finds nothing for a key in a gap', () => {
    const tree = new RegionTree();
    tree.put(info(region(1, 'a', 'c')));
    tree.put(info(region(2, 'e', 'g')));
    assert.equal(tree.getByKey(key('d')), undefined);
    assert.equal(tree.getByKey(key('0')), undefined);
    assert.equal(tree.getByKey(key('g')), undefined);
  });

  it('finds regions by id and forgets removed ones', () => {
    const tree = fourRegions();
    assert.equal(tree.getById(3)?.region.id, 3);
    assert.equal(tree.remove(3)?.region.id, 3);
    assert.equal(tree.getById(3), undefined);
    assert.equal(tree.getByKey(key('e')), undefined);
    assert.equal(tree.size, 3);
  });

  it('gives the previous region, none for the first one', () => {
    const tree = fourRegions();
    assert.equal(tree.getPrev(key('a')), undefined);
    assert.equal(tree.getPrev(key('b'))?.region.id, 1);
    assert.equal(tree.getPrev(key('e'))?.region.id, 2);
    assert.equal(tree.getPrev(key('z'))?.region.id, 3);
  });

  it('scans the regions overlapping a range, in key order, up to the limit', () => {
    const tree = fourRegions();
    assert.deepEqual(ids(tree.scan(key(''), key(''), 100)), [1, 2, 3, 4]);
    assert.deepEqual(ids(tree.scan(key('c'), key('e'), 100)), [2, 3]);
    assert.deepEqual(ids(tree.scan(key('c'), key('d'), 100)), [2], 'end key is exclusive');
    assert.deepEqual(ids(tree.scan(key('a'), key(''), 2)), [1, 2]);
    assert.deepEqual(ids(tree.scan(key('x'), key(''), 5)), [4]);
    assert.throws(() => tree.scan(key(''), key(''), 0), RegionTreeError);
  });

  it('replaces the regions a split result overlaps', () => {
    const tree = new RegionTree();
    tree.put(info(region(1, '', '')));
    const removedByRight = tree.put(info(region(2, 'm', '', { version: 2 })));
    assert.deepEqual(ids(removedByRight), [1], 'the right half overlaps the old whole-keyspace region');
    tree.put(info(region(1, '', 'm', { version: 2 })));
    assert.deepEqual(ids(tree.all()), [1, 2]);
    assert.equal(tree.getByKey(key('a'))?.region.id, 1);
    assert.equal(tree.getByKey(key('n'))?.region.id, 2);
  });

  it('replaces both sides when a merged region covers them', () => {
    const tree = fourRegions();
    const removed = tree.put(info(region(5, 'b', 'f', { version: 3 })));
    assert.deepEqual(ids(removed).sort(), [2, 3]);
    assert.deepEqual(ids(tree.all()), [1, 5, 4]);
  });

  it('moves a region whose range changed, keeping one entry per id', () => {
    const tree = fourRegions();
    tree.put(info(region(2, 'b', 'c', { version: 2 })));
    assert.equal(tree.size, 4);
    assert.equal(tree.getByKey(key('c')), undefined);
    assert.equal(tree.getByKey(key('b'))?.region.id, 2);
  });

  it('updates stats in place but refuses a range change there', () => {
    const tree = fourRegions();
    tree.replaceInPlace(info(region(2, 'b', 'd'), 7));
    assert.equal(tree.getById(2)?.term, 7);
    assert.throws(() => tree.replaceInPlace(info(region(2, 'b', 'e'))), RegionTreeError);
  });

  it('refuses an inverted range', () => {
    assert.throws(() => new RegionTree().put(info(region(1, 'b', 'a'))), RegionTreeError);
  });

  it('looks up among many regions (binary search over 10,000 ranges)', () => {
    const tree = new RegionTree();
    const k = (i: number): string => (i === 0 ? '' : `k${String(i).padStart(6, '0')}`);
    for (let i = 0; i < 10_000; i++) tree.put(info(region(i + 1, k(i), i === 9_999 ? '' : k(i + 1))));
    assert.equal(tree.getByKey(key('k004321x'))?.region.id, 4322);
    assert.equal(tree.scan(key('k000100'), key('k000110'), 100).length, 10);
  });
});
