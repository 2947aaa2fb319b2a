// The range index: O(log n) lookup of the region holding a key, overlap queries at the
// edges (empty keys = unbounded), and refusal of overlapping regions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegionRangeIndex, rangesOverlap } from '../../src/store/region-range-index.js';
import { uncoveredRanges } from '../../src/store/peer-destroyer.js';
import { dataRange } from '../../src/storage/keys.js';

const te = new TextEncoder();
const k = (s: string): Uint8Array => te.encode(s);
const range = (
  id: number,
  start: string,
  end: string,
): { id: number; startKey: Uint8Array; endKey: Uint8Array } => ({
  id,
  startKey: k(start),
  endKey: k(end),
});

function tiled(): RegionRangeIndex {
  const index = new RegionRangeIndex();
  index.upsert(range(2, 'g', 'p'));
  index.upsert(range(1, '', 'g'));
  index.upsert(range(3, 'p', ''));
  return index;
}

describe('RegionRangeIndex', () => {
  it('finds the region holding a key, including at the boundaries', () => {
    const index = tiled();
    assert.equal(index.regionForKey(k(''))?.id, 1);
    assert.equal(index.regionForKey(k('f'))?.id, 1);
    assert.equal(index.regionForKey(k('g'))?.id, 2);
    assert.equal(index.regionForKey(k('ozzz'))?.id, 2);
    assert.equal(index.regionForKey(k('p'))?.id, 3);
    assert.equal(index.regionForKey(k('\xff'))?.id, 3);
  });

  it('lists the regions overlapping a range in key order', () => {
    const index = tiled();
    assert.deepEqual(
      index.overlapping(k(''), k('')).map((r) => r.id),
      [1, 2, 3],
    );
    assert.deepEqual(
      index.overlapping(k('h'), k('i')).map((r) => r.id),
      [2],
    );
    assert.deepEqual(
      index.overlapping(k('a'), k('g')).map((r) => r.id),
      [1],
      'end is exclusive',
    );
    assert.deepEqual(
      index.overlapping(k('f'), k('q')).map((r) => r.id),
      [1, 2, 3],
    );
    index.remove(2);
    assert.deepEqual(index.overlapping(k('h'), k('i')), []);
    assert.equal(index.regionForKey(k('h')), undefined);
  });

  it('refuses a region overlapping another, and moves a region on upsert', () => {
    const index = tiled();
    assert.throws(() => index.upsert(range(9, 'o', 'q')), /overlaps/);
    index.upsert(range(2, 'g', 'k'));
    assert.equal(index.regionForKey(k('l')), undefined);
    index.upsert(range(4, 'k', 'p'));
    assert.equal(index.regionForKey(k('l'))?.id, 4);
    assert.equal(index.size, 4);
  });

  it('tells overlapping ranges apart from touching ones', () => {
    assert.equal(rangesOverlap(k('a'), k('b'), k('b'), k('c')), false);
    assert.equal(rangesOverlap(k('a'), k(''), k('z'), k('')), true);
    assert.equal(rangesOverlap(k(''), k(''), k('m'), k('n')), true);
  });

  it('keeps the data of other regions when a destroyed range is cleaned', () => {
    const gaps = uncoveredRanges(range(1, 'a', 'z'), [range(2, 'c', 'e'), range(3, 'x', '')]);
    assert.deepEqual(gaps, [dataRange(k('a'), k('c')), dataRange(k('e'), k('x'))]);
    assert.deepEqual(uncoveredRanges(range(1, 'a', ''), []), [dataRange(k('a'), k(''))]);
  });
});
