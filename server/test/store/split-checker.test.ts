// The split checker with a small split size (64 KiB) on three stores: writing 1 MiB
// cascades into many regions; afterwards the regions are disjoint and cover the keyspace on
// every store, every key is readable through the region holding it, and a scan region by
// region returns every key exactly once. Also: where measureRegion cuts.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes } from '../../src/storage/bytes.js';
import { dataKey, dataRange, userKeyOf } from '../../src/storage/keys.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { WriteBatch } from '../../src/storage/engine.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { RegionMeta } from '../../src/store/region-meta.js';
import { measureRegion } from '../../src/store/split-checker.js';
import type { Store } from '../../src/store/store.js';
import { liveValue } from '../../src/store/user-value.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();
const SPLIT_SIZE_BYTES = 64 * 1024;
const VALUE_BYTES = 1024;
const KEYS_COUNT = 1024; // 1 MiB of values

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

const keyOf = (i: number): string => `key-${String((i * 7919) % KEYS_COUNT).padStart(4, '0')}`;
const valueOf = (key: string): Uint8Array => te.encode(key.padEnd(VALUE_BYTES, '.'));

/** Puts `key` through the region holding it, re-routing after region errors (splits move keys). */
async function put(c: MemoryCluster, key: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    await c.tickUntil(() => c.leaderOfKey(te.encode(key)) !== undefined);
    const { store, peer } = c.leaderOfKey(te.encode(key)) as NonNullable<
      ReturnType<MemoryCluster['leaderOfKey']>
    >;
    const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
      { kind: 'put', key: te.encode(key), value: valueOf(key) },
    ]);
    const result = await c.ticking(store.propose(peer.regionId, data));
    if (result.kind === 'write') return;
    assert.equal(result.kind, 'regionError', JSON.stringify(result));
  }
  assert.fail(`put ${key}: no success after 50 attempts`);
}

async function checkSplitsEverywhere(c: MemoryCluster): Promise<void> {
  await c.ticking(Promise.all(c.live().map((s) => s.checkSplits())));
}

function regionsInOrder(store: Store): RegionMeta[] {
  return store.regionsOverlapping(new Uint8Array(0), new Uint8Array(0));
}

describe('Split checker', () => {
  it('splits 1 MiB written into 64 KiB regions that tile the keyspace and serve every key', async () => {
    const c = new MemoryCluster([1, 2, 3], 3, { regionSplitSizeBytes: SPLIT_SIZE_BYTES });
    cluster = c;
    await c.start();
    await c.waitForLeader(1);
    for (let i = 0; i < KEYS_COUNT; i += 16) {
      await Promise.all(Array.from({ length: 16 }, (_, j) => put(c, keyOf(i + j))));
      if (i % 64 === 48) await checkSplitsEverywhere(c);
    }
    // Keep checking until a pass splits nothing and every region has a leader.
    for (let pass = 0; pass < 40; pass++) {
      const before = c.live().reduce((n, s) => n + s.stats().splitsCount, 0);
      await c.tickUntil(() => regionsInOrder(c.stores.get(1) as Store).every((r) => c.leaderOf(r.id)));
      await checkSplitsEverywhere(c);
      const after = c.live().reduce((n, s) => n + s.stats().splitsCount, 0);
      if (after === before && pass > 0) break;
    }
    const regions = regionsInOrder(c.stores.get(1) as Store);
    assert.ok(regions.length >= 10, `only ${regions.length} regions after writing 1 MiB`);
    const checks = c.live().reduce((n, s) => n + s.stats().splitChecksCount, 0);
    assert.ok(checks >= regions.length - 1);
    await c.tickUntil(() => c.live().every((s) => regionsInOrder(s).length === regions.length));
    for (const store of c.live()) {
      const tiles = regionsInOrder(store);
      assert.equal(tiles[0]?.startKey.length, 0, 'the first region starts at the beginning');
      assert.equal(tiles.at(-1)?.endKey.length, 0, 'the last region is unbounded');
      for (let i = 1; i < tiles.length; i++)
        assert.equal(compareBytes((tiles[i - 1] as RegionMeta).endKey, (tiles[i] as RegionMeta).startKey), 0);
    }
    // Every key through its region's leader, after a linearizable read barrier.
    for (let i = 0; i < KEYS_COUNT; i += 37) {
      const key = keyOf(i);
      const { store, peer } = c.leaderOfKey(te.encode(key)) as NonNullable<
        ReturnType<MemoryCluster['leaderOfKey']>
      >;
      assert.equal(await c.ticking(store.readBarrier(peer.regionId, 'safe')), undefined);
      const stored = liveValue(store.engineGet(dataKey(te.encode(key))), Date.now());
      assert.equal(td.decode(stored ?? new Uint8Array()), td.decode(valueOf(key)));
    }
    // A scan region by region returns every key exactly once.
    const seen: string[] = [];
    const store = c.stores.get(1) as Store;
    for (const region of regions) {
      const pairs = await store.engineScan(dataRange(region.startKey, region.endKey), { limit: 100_000 });
      for (const { key } of pairs) seen.push(td.decode(userKeyOf(key)));
    }
    assert.equal(seen.length, KEYS_COUNT);
    assert.equal(new Set(seen).size, KEYS_COUNT);
    for (const r of regions) {
      const size = await store.approximateSizeBytes(dataRange(r.startKey, r.endKey));
      assert.ok(size < 2 * SPLIT_SIZE_BYTES, `region ${r.id} holds ${size} bytes`);
    }
    assert.deepEqual(c.fatalErrors, []);
  });

  it('cuts a region at the key halving it by size, never at its first key', async () => {
    const engine = new MemoryEngine();
    const batch = new WriteBatch();
    // 10 small keys then 10 large ones: the size midpoint is inside the large ones.
    for (let i = 0; i < 10; i++) batch.put(dataKey(te.encode(`a${i}`)), new Uint8Array(10));
    for (let i = 0; i < 10; i++) batch.put(dataKey(te.encode(`b${i}`)), new Uint8Array(1000));
    await engine.write(batch, { sync: true });
    const region: RegionMeta = {
      id: 1,
      startKey: new Uint8Array(0),
      endKey: new Uint8Array(0),
      epoch: { confVer: 1, version: 1 },
      peers: [],
    };
    const store = { engineScan: engine.scan.bind(engine) };
    const bySize = await measureRegion(store, region, { regionSplitSizeBytes: 5000, regionSplitKeys: 1000 });
    assert.equal(bySize.keysCount, 20);
    assert.equal(td.decode(bySize.splitKey ?? new Uint8Array()), 'b5');
    const byKeys = await measureRegion(store, region, {
      regionSplitSizeBytes: 1_000_000,
      regionSplitKeys: 10,
    });
    assert.equal(td.decode(byKeys.splitKey ?? new Uint8Array()), 'b0');
    const single = await measureRegion(
      store,
      { ...region, startKey: te.encode('b9') },
      { regionSplitSizeBytes: 10, regionSplitKeys: 10 },
    );
    assert.equal(single.splitKey, undefined, 'a one-key region cannot be cut');
  });
});
