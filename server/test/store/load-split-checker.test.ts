import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '@flotilla/raft';
import type { LoadSplitStore } from '../../src/store/load-split-checker.js';
import { LoadSplitChecker } from '../../src/store/load-split-checker.js';
import type { RegionEpoch, RegionMeta } from '../../src/store/region-meta.js';
import type { SplitOutcome } from '../../src/store/region-split.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const key = (i: number): string => `k${String(i).padStart(4, '0')}`;

/** One region led here, splits recorded; the clock is advanced by the test. */
class FakeStore implements LoadSplitStore {
  region: RegionMeta = {
    id: 7,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 1, version: 1 },
    peers: [{ id: 71, storeId: 1, role: 'voter' }],
  };
  leads = true;
  splits: Array<{ regionId: number; epoch: RegionEpoch; keys: string[] }> = [];

  ledRegion(regionId: number): RegionMeta | undefined {
    return this.leads && regionId === this.region.id ? this.region : undefined;
  }

  splitRegion(regionId: number, epoch: RegionEpoch, splitKeys: readonly Uint8Array[]): Promise<SplitOutcome> {
    this.splits.push({ regionId, epoch, keys: splitKeys.map((k) => new TextDecoder().decode(k)) });
    const left = {
      ...this.region,
      endKey: splitKeys[0] as Uint8Array,
      epoch: { ...epoch, version: epoch.version + 1 },
    };
    this.region = left;
    return Promise.resolve({ kind: 'split', regions: [left] });
  }
}

function setup(
  qps = 100,
  windowMs = 3000,
): { store: FakeStore; checker: LoadSplitChecker; clock: { now: number } } {
  const store = new FakeStore();
  const clock = { now: 1_000_000 };
  const checker = new LoadSplitChecker(
    store,
    { loadSplitQpsThreshold: qps, loadSplitWindowMs: windowMs },
    () => clock.now,
    () => {},
    new SeededRandom(3),
  );
  return { store, checker, clock };
}

/** One second of `perSecond` requests on keys from `keyOf`, then a check. */
async function second(
  s: ReturnType<typeof setup>,
  perSecond: number,
  keyOf: (i: number) => string,
): Promise<void> {
  for (let i = 0; i < perSecond; i++)
    s.checker.record(s.store.region, { startKey: enc(keyOf(i)), endKey: undefined });
  s.clock.now += 1000;
  await s.checker.checkOnce();
}

test('a region above the QPS threshold for the whole window splits at the middle of its load', async () => {
  const s = setup(100, 3000);
  const spread = (i: number): string => key(i % 200);
  await second(s, 300, spread);
  await second(s, 300, spread);
  assert.equal(s.store.splits.length, 0, 'not before the window is full');
  await second(s, 300, spread);
  assert.equal(s.store.splits.length, 1);
  const split = s.store.splits[0];
  assert.deepEqual(split?.epoch, { confVer: 1, version: 1 }, 'the split carries the epoch sampled');
  const at = split?.keys[0] ?? '';
  assert.ok(at > key(60) && at < key(140), `split at ${at}`);
  assert.equal(s.checker.counters.splits, 1);
});

test('a dip below the threshold restarts the window', async () => {
  const s = setup(100, 3000);
  const spread = (i: number): string => key(i % 200);
  await second(s, 300, spread);
  await second(s, 300, spread);
  await second(s, 50, spread);
  await second(s, 300, spread);
  await second(s, 300, spread);
  assert.equal(s.store.splits.length, 0);
  await second(s, 300, spread);
  assert.equal(s.store.splits.length, 1);
});

test('a region below the threshold never splits, however long', async () => {
  const s = setup(100, 3000);
  for (let i = 0; i < 10; i++) await second(s, 90, (j) => key(j));
  assert.equal(s.store.splits.length, 0);
  assert.equal(s.checker.counters.decisions, 0);
});

test('a region hot on one key is judged unsplittable and left alone', async () => {
  const s = setup(100, 3000);
  for (let i = 0; i < 6; i++) await second(s, 500, () => 'the-hot-key');
  assert.equal(s.store.splits.length, 0);
  assert.ok(s.checker.counters.unsplittable >= 1);
  const last = s.checker.lastDecisions.get(7);
  assert.equal(last?.kind === 'none' ? last.cause : last?.kind, 'oneKey');
});

test('a region this store no longer leads is forgotten and not split', async () => {
  const s = setup(100, 3000);
  await second(s, 300, (i) => key(i % 200));
  s.store.leads = false;
  await second(s, 300, (i) => key(i % 200));
  await second(s, 300, (i) => key(i % 200));
  assert.equal(s.store.splits.length, 0);
  assert.equal(s.checker.trackedRegionsCount, 0);
  // Leading again: a full window is needed from scratch.
  s.store.leads = true;
  await second(s, 300, (i) => key(i % 200));
  await second(s, 300, (i) => key(i % 200));
  assert.equal(s.store.splits.length, 0);
  await second(s, 300, (i) => key(i % 200));
  assert.equal(s.store.splits.length, 1);
});

test('after a split the region starts a fresh window at its new epoch', async () => {
  const s = setup(100, 2000);
  const spread = (i: number): string => key(i % 200);
  await second(s, 300, spread);
  await second(s, 300, spread);
  assert.equal(s.store.splits.length, 1);
  // The left half keeps the load of its keys: it needs a full window again.
  const leftKeys = (i: number): string => key(i % 90);
  await second(s, 300, leftKeys);
  assert.equal(s.store.splits.length, 1);
  await second(s, 300, leftKeys);
  await second(s, 300, leftKeys);
  assert.equal(s.store.splits.length, 2);
  assert.equal(s.store.splits[1]?.epoch.version, 2);
});
