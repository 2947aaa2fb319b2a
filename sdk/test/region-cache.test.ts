// The routing cache: binary-search lookup by key, overlap replacement when regions change
// (what an EpochNotMatch hint delivers), refusal of older data, TTL and LRU eviction.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegionCache } from '../src/region-cache.js';
import type { RegionInfo } from '../src/region-cache.js';

const b = (s: string): Buffer => Buffer.from(s);

function region(id: number, start: string, end: string, version = 1): RegionInfo {
  return {
    id: BigInt(id),
    startKey: b(start),
    endKey: b(end),
    epoch: { confVer: 1n, version: BigInt(version) },
    peers: [
      { id: BigInt(id * 10 + 1), storeId: 1n },
      { id: BigInt(id * 10 + 2), storeId: 2n },
    ],
    leader: undefined,
  };
}

function ids(cache: RegionCache, keys: string[]): Array<number | undefined> {
  return keys.map((k) => {
    const r = cache.lookup(b(k));
    return r === undefined ? undefined : Number(r.id);
  });
}

describe('RegionCache', () => {
  it('finds the region holding a key, with unbounded first and last regions', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(2, 'g', 'p'));
    cache.insert(region(1, '', 'g'));
    cache.insert(region(3, 'p', ''));
    assert.deepEqual(ids(cache, ['\x00', 'a', 'f\xff', 'g', 'o', 'p', 'zzzz']), [1, 1, 1, 2, 2, 3, 3]);
  });

  it('misses keys in gaps between cached regions', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, 'a', 'c'));
    cache.insert(region(3, 'm', 'p'));
    assert.deepEqual(ids(cache, ['0', 'b', 'c', 'l', 'n', 'p']), [
      undefined,
      1,
      undefined,
      undefined,
      3,
      undefined,
    ]);
  });

  it('replaces every overlapped region when a newer map arrives (split and merge)', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, '', 'm'));
    cache.insert(region(2, 'm', ''));
    // Region 1 split at 'f' into 1 [ , f) and 4 [f, m): the EpochNotMatch hint carries both.
    cache.insert(region(1, '', 'f', 2));
    cache.insert(region(4, 'f', 'm', 2));
    assert.deepEqual(ids(cache, ['a', 'f', 'l', 'm']), [1, 4, 4, 2]);
    // Then 4 and 2 merge into 2 [f, ).
    cache.insert(region(2, 'f', '', 3));
    assert.deepEqual(ids(cache, ['a', 'f', 'l', 'z']), [1, 2, 2, 2]);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(4n), undefined);
  });

  it('ignores a region older than an overlapping cached one (PD lagging behind a split)', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, '', 'f', 2));
    cache.insert(region(4, 'f', 'm', 2));
    assert.equal(cache.insert(region(1, '', 'm', 1)), false);
    assert.deepEqual(ids(cache, ['a', 'g']), [1, 4]);
  });

  it('finds the region before an end key for reverse scans', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, '', 'g'));
    cache.insert(region(2, 'g', 'p'));
    cache.insert(region(3, 'p', ''));
    assert.equal(cache.lookupBefore(b('g'))?.id, 1n);
    assert.equal(cache.lookupBefore(b('h'))?.id, 2n);
    assert.equal(cache.lookupBefore(b(''))?.id, 3n);
    const gappy = new RegionCache(100, 60_000);
    gappy.insert(region(2, 'g', 'p'));
    assert.equal(gappy.lookupBefore(b('g')), undefined);
    assert.equal(gappy.lookupBefore(b('')), undefined);
  });

  it('expires entries after the TTL', () => {
    let now = 1_000;
    const cache = new RegionCache(100, 500, () => now);
    cache.insert(region(1, '', ''));
    now += 499;
    assert.equal(cache.lookup(b('k'))?.id, 1n);
    now += 1;
    assert.equal(cache.lookup(b('k')), undefined);
    assert.equal(cache.size, 0);
  });

  it('evicts the least recently used region when full', () => {
    const cache = new RegionCache(2, 60_000);
    cache.insert(region(1, 'a', 'b'));
    cache.insert(region(2, 'b', 'c'));
    cache.lookup(b('a'));
    cache.insert(region(3, 'c', 'd'));
    assert.deepEqual(ids(cache, ['a', 'b', 'c']), [1, undefined, 3]);
  });

  it('records leaders from hints only for known peers, forgets refused ones; an unknown peer drops the region', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, '', ''));
    assert.equal(cache.updateLeader(1n, { id: 12n, storeId: 2n }), true);
    assert.deepEqual(cache.lookup(b('x'))?.leader, { id: 12n, storeId: 2n });
    cache.forgetLeader(1n, 11n);
    assert.deepEqual(cache.lookup(b('x'))?.leader, { id: 12n, storeId: 2n }, 'another peer: kept');
    cache.forgetLeader(1n, 12n);
    assert.equal(cache.lookup(b('x'))?.leader, undefined);
    assert.equal(cache.updateLeader(1n, { id: 99n, storeId: 9n }), false);
    assert.equal(cache.lookup(b('x')), undefined);
  });

  it('drops the regions of a store and single regions on invalidation', () => {
    const cache = new RegionCache(100, 60_000);
    cache.insert(region(1, '', 'g'));
    cache.insert({ ...region(2, 'g', ''), peers: [{ id: 23n, storeId: 3n }] });
    cache.invalidateStore(3n);
    assert.deepEqual(ids(cache, ['a', 'h']), [1, undefined]);
    cache.invalidate(1n);
    assert.equal(cache.size, 0);
  });

  it('keeps a large map ordered and answers every key (randomised splits)', () => {
    const cache = new RegionCache(10_000, 60_000);
    const bounds = Array.from({ length: 500 }, (_, i) => `k${String(i * 7).padStart(5, '0')}`);
    const edges = ['', ...bounds, ''];
    // Insert in a scrambled order.
    const order = edges
      .slice(0, -1)
      .map((_, i) => i)
      .sort((x, y) => ((x * 7919) % 501) - ((y * 7919) % 501));
    for (const i of order) cache.insert(region(i + 1, edges[i] as string, edges[i + 1] as string));
    assert.equal(cache.size, 501);
    for (let i = 0; i < 500; i++)
      assert.equal(cache.lookup(b(`k${String(i * 7 + 3).padStart(5, '0')}`))?.id, BigInt(i + 2));
  });
});
