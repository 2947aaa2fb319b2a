// Wake-ups asked by store suspicions are paced (wake-pacer.ts): a few regions per tick, and
// none more once the suspected store is heard again. Unit tests, then three in-memory stores
// with four quiesced regions led from one store.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/store.js';
import { WakePacer } from '../../src/store/wake-pacer.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

const te = new TextEncoder();

describe('WakePacer', () => {
  it('hands out at most regionsPerTickMax wake-ups a tick, the suspected stores in turn', () => {
    const pacer = new WakePacer(3);
    pacer.schedule(2, [10, 11, 12, 13]);
    pacer.schedule(3, [20, 21]);
    assert.equal(pacer.pendingWakeUpsCount, 6);
    assert.deepEqual(pacer.take(), [10, 20, 11]);
    assert.deepEqual(pacer.take(), [12, 21, 13]);
    assert.deepEqual(pacer.take(), []);
    assert.equal(pacer.pendingWakeUpsCount, 0);
  });

  it('drops the wake-ups of a store heard again, and a new suspicion replaces the old queue', () => {
    const pacer = new WakePacer(1);
    pacer.schedule(2, [10, 11, 12]);
    pacer.schedule(3, [20]);
    assert.equal(pacer.cancel(2), 3);
    assert.equal(pacer.cancel(2), 0);
    pacer.schedule(3, [21, 22]);
    assert.equal(pacer.pendingWakeUpsCount, 2);
    assert.deepEqual(pacer.take(), [21]);
    assert.throws(() => new WakePacer(0), RangeError);
  });
});

describe('Paced wake-ups on a store suspicion', () => {
  let cluster: MemoryCluster | undefined;
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = undefined;
  });

  it('wakes one region per tick when so configured, and no more once the store is heard', async () => {
    const c = new MemoryCluster([1, 2, 3], 7, { hibernateAfterIdleTicks: 10, wakeRegionsPerTickMax: 1 });
    cluster = c;
    await c.start();
    await c.waitForLeader(1);
    for (const key of ['d', 'g', 'p']) {
      await c.tickUntil(() => c.leaderOfKey(te.encode(key)) !== undefined);
      const { store, peer } = c.leaderOfKey(te.encode(key)) ?? assert.fail(`no leader for ${key}`);
      const outcome = await c.ticking(store.splitRegion(peer.regionId, peer.region.epoch, [te.encode(key)]));
      assert.equal(outcome.kind, 'split', JSON.stringify(outcome));
    }
    const asleepEverywhere = (): boolean =>
      c.live().every((s) => s.allRegions().length === 4 && s.stats().awakeRegionsCount === 0);
    await c.tickUntil(asleepEverywhere, 2000);
    const leaderStoreId = (c.leaderOf(1) ?? assert.fail('no leader')).store.storeId;
    const follower = c.live().find((s) => s.storeId !== leaderStoreId) as Store;

    follower.reportUnreachable(leaderStoreId, [], 'streamLost');
    assert.equal(follower.stats().suspectedStoresCount, 1);
    assert.equal(follower.stats().awakeRegionsCount, 1, 'one region woken at once');
    assert.equal(follower.stats().pendingWakeUpsCount, 3);
    follower.tick();
    assert.equal(follower.stats().awakeRegionsCount, 2, 'one more at the next tick');
    follower.noteStoreHeard(leaderStoreId);
    assert.equal(follower.stats().pendingWakeUpsCount, 0, 'heard again: a false suspicion');
    follower.tick();
    assert.equal(follower.stats().awakeRegionsCount, 2);
    assert.deepEqual(c.fatalErrors, []);
  });
});
