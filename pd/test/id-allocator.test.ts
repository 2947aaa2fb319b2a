// Id allocation: ids come from blocks reserved by compare-and-swap on the high-water mark,
// are never 0 and never repeat, also when leadership moves between allocators sharing the
// meta store, and when a reservation fails midway.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdAllocator, IdAllocatorError } from '../src/id-allocator.js';
import { allocIdKey, decodeU64Value } from '../src/meta/meta-keys.js';
import { MetaStoreError } from '../src/meta/meta-kv.js';
import { MemoryMetaKv } from './helpers/memory-meta-kv.js';

function mark(kv: MemoryMetaKv): number {
  const value = kv.data.get(Buffer.from(allocIdKey).toString('hex'));
  return value === undefined ? 0 : decodeU64Value(value, 'mark');
}

describe('IdAllocator', () => {
  it('hands out 1, 2, 3... from one reserved block, writing the meta store once per block', async () => {
    const kv = new MemoryMetaKv();
    const ids = new IdAllocator(kv, 10);
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(await ids.alloc());
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(kv.writesCount, 1);
    assert.equal(mark(kv), 10);
    assert.equal(await ids.alloc(), 11);
    assert.equal(kv.writesCount, 2);
    assert.equal(mark(kv), 20);
  });

  it('never repeats an id when a new leader takes over mid-block (the old block is skipped)', async () => {
    const kv = new MemoryMetaKv();
    const first = new IdAllocator(kv, 100);
    const seen = new Set<number>();
    for (let i = 0; i < 5; i++) seen.add(await first.alloc());
    const second = new IdAllocator(kv, 100);
    for (let i = 0; i < 150; i++) {
      const id = await second.alloc();
      assert.ok(!seen.has(id), `id ${id} repeated`);
      seen.add(id);
    }
    // The deposed allocator still owns the rest of its block: its ids stay unique too.
    for (let i = 0; i < 5; i++) {
      const id = await first.alloc();
      assert.ok(!seen.has(id), `id ${id} repeated by the old leader`);
      seen.add(id);
    }
    assert.ok(Math.min(...seen) >= 1);
  });

  it('serves concurrent callers from one reservation, without duplicates', async () => {
    const kv = new MemoryMetaKv();
    const ids = new IdAllocator(kv, 1000);
    const got = await Promise.all(Array.from({ length: 200 }, () => ids.alloc()));
    assert.equal(new Set(got).size, 200);
    assert.equal(kv.writesCount, 1);
  });

  it('allocates many ids across block boundaries in ascending order', async () => {
    const kv = new MemoryMetaKv();
    const ids = new IdAllocator(kv, 7);
    const got = await ids.allocMany(20);
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('skips the ids of a block reserved after reset (no id below the mark is reissued)', async () => {
    const kv = new MemoryMetaKv();
    const ids = new IdAllocator(kv, 10);
    assert.equal(await ids.alloc(), 1);
    ids.reset();
    assert.equal(await ids.alloc(), 11);
  });

  it('fails cleanly when the meta store refuses, and recovers on the next call', async () => {
    const kv = new MemoryMetaKv();
    const ids = new IdAllocator(kv, 10);
    kv.failNext();
    await assert.rejects(ids.alloc(), MetaStoreError);
    assert.equal(await ids.alloc(), 1);
  });

  it('refuses id counts outside its bounds', async () => {
    const ids = new IdAllocator(new MemoryMetaKv(), 10);
    await assert.rejects(ids.allocMany(0), IdAllocatorError);
    await assert.rejects(ids.allocMany(1_000_000), IdAllocatorError);
  });
});
