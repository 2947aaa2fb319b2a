import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegionInfo } from '../../src/cluster/region-info.js';
import { EMPTY_REGION_LOAD } from '../../src/cluster/region-info.js';
import type { HotRegionConfig } from '../../src/schedule/hot-region-scheduler.js';
import {
  HotRegionScheduler,
  hotLoadByStore,
  planHotLeaderSpread,
  regionKeysPerSecond,
} from '../../src/schedule/hot-region-scheduler.js';
import { SCHEDULE_CONFIG_DEFAULTS } from '../../src/schedule/schedule-config.js';
import { healthOf, peer, regionInfo } from './helpers.js';

const NOW = 1_000_000;
const config: HotRegionConfig = SCHEDULE_CONFIG_DEFAULTS;
const never = (): boolean => false;
const up3 = healthOf([
  [1, 'up'],
  [2, 'up'],
  [3, 'up'],
]);

/** A region with voters on stores 1-3, led from `leaderStore`, reporting `keysPerSecond` over a 10 s interval. */
function hotRegion(
  id: number,
  leaderStore: number,
  keysPerSecond: number,
  reportedAtUnixMs = NOW,
): RegionInfo {
  const base = id * 10;
  const info = regionInfo(id, [peer(base + 1, 1), peer(base + 2, 2), peer(base + 3, 3)], base + leaderStore);
  return {
    ...info,
    load: {
      ...EMPTY_REGION_LOAD,
      intervalMs: 10_000,
      readKeys: keysPerSecond * 7,
      writtenKeys: keysPerSecond * 3,
    },
    heartbeatAtUnixMs: reportedAtUnixMs,
  };
}

test('a region rate is keys read plus written per second over the reported interval', () => {
  assert.equal(regionKeysPerSecond(hotRegion(1, 1, 500), NOW, 60_000), 500);
  assert.equal(
    regionKeysPerSecond(hotRegion(1, 1, 500, NOW - 61_000), NOW, 60_000),
    0,
    'a stale report counts as unknown',
  );
});

test('one store leading most hot load gives a hot leader to the store with the least', () => {
  const regions = [hotRegion(1, 1, 1000), hotRegion(2, 1, 900), hotRegion(3, 1, 800), hotRegion(4, 2, 300)];
  const plan = planHotLeaderSpread(regions, up3, NOW, config, never);
  assert.ok(plan);
  assert.equal(plan.steps.length, 1);
  assert.equal(plan.steps[0]?.kind, 'transferLeader');
  assert.equal(plan.steps[0]?.peer.storeId, 3, 'to the store leading no hot load');
  assert.equal(plan.region.leader?.storeId, 1);
  // Store 1 leads 2700, store 3 none: moving the 1000 keys/s region lowers the pair's maximum most.
  assert.equal(plan.region.region.id, 1);
});

test('spreading is by rate, not count: many cool leaders weigh less than one hot one', () => {
  // Store 1 leads one region of 3000 keys/s and one of 1500; stores 2 and 3 lead ten regions of 150 each.
  const regions = [
    hotRegion(1, 1, 3000),
    hotRegion(2, 1, 1500),
    ...Array.from({ length: 10 }, (_, i) => hotRegion(10 + i, 2 + (i % 2), 150)),
  ];
  const plan = planHotLeaderSpread(regions, up3, NOW, config, never);
  assert.ok(plan, 'store 1 is the hot one although it leads the fewest regions');
  assert.equal(plan.region.leader?.storeId, 1);
  // Moving the 3000 region would only make its destination the hottest (750 + 3000 > 3000 - 3000 + 1500).
  assert.equal(plan.region.region.id, 2);
});

test('hot load within tolerance of the average stays put', () => {
  const regions = [hotRegion(1, 1, 1000), hotRegion(2, 2, 900), hotRegion(3, 3, 950)];
  assert.equal(planHotLeaderSpread(regions, up3, NOW, config, never), undefined);
});

test('a single hot region is not moved: it would only move the hotspot', () => {
  const regions = [hotRegion(1, 1, 5000), hotRegion(2, 2, 100), hotRegion(3, 3, 100)];
  assert.equal(planHotLeaderSpread(regions, up3, NOW, config, never), undefined);
});

test('regions below the hot threshold, busy regions and stores not up are left out', () => {
  const cool = [hotRegion(1, 1, 90), hotRegion(2, 1, 90), hotRegion(3, 1, 90)];
  assert.equal(planHotLeaderSpread(cool, up3, NOW, config, never), undefined, 'nothing hot');
  const hot = [hotRegion(1, 1, 1000), hotRegion(2, 1, 1000)];
  assert.equal(
    planHotLeaderSpread(hot, up3, NOW, config, () => true),
    undefined,
    'all busy',
  );
  const down23 = healthOf([
    [1, 'up'],
    [2, 'down'],
    [3, 'disconnected'],
  ]);
  assert.equal(planHotLeaderSpread(hot, down23, NOW, config, never), undefined, 'no healthy destination');
  const twoUp = healthOf([
    [1, 'up'],
    [2, 'disconnected'],
    [3, 'up'],
  ]);
  assert.equal(planHotLeaderSpread(hot, twoUp, NOW, config, never)?.steps[0]?.peer.storeId, 3);
});

test('a planned move counts at its destination at once, while the transfer is still in flight', () => {
  const scheduler = new HotRegionScheduler(config, () => NOW);
  const regions = [
    hotRegion(1, 1, 1000),
    hotRegion(2, 1, 1000),
    hotRegion(3, 1, 1000),
    hotRegion(4, 1, 1000),
  ];
  const first = scheduler.plan(regions, up3, never);
  assert.ok(first);
  const firstTo = first.steps[0]?.peer.storeId as number;
  // Same reports (the leader has not moved yet): the next move must not pick the same
  // destination as if it were still cold, nor the region already being moved.
  const second = scheduler.plan(regions, up3, never);
  assert.ok(second);
  assert.notEqual(second.region.region.id, first.region.region.id);
  assert.notEqual(second.steps[0]?.peer.storeId, firstTo);
  // Store 1 now counts 2000 keys/s, the others 1000 each: above tolerance (2000 > 1333 * 1.25),
  // but any further move would leave some store at 2000 — no better, so none.
  assert.equal(scheduler.plan(regions, up3, never), undefined);
});

test('a moved region keeps its old rate at its new leader during the cooldown', () => {
  const moved = {
    ...hotRegion(1, 2, 0),
    // The new leader's first report covers almost nothing yet.
    load: { ...EMPTY_REGION_LOAD, intervalMs: 50, readKeys: 1 },
  };
  const recent = new Map([[1, { keysPerSecond: 1000, atUnixMs: NOW - 1000, fromStoreId: 1, toStoreId: 2 }]]);
  const { loads, hot } = hotLoadByStore([moved], up3, NOW, config, recent);
  assert.equal(loads.get(2), 1000);
  assert.equal(hot.get(1), 1000);
  // After the cooldown only its own report counts.
  const later = hotLoadByStore([moved], up3, NOW + config.hotRegionCooldownMs, config, recent);
  assert.equal(later.loads.get(2), 0);
  // A leader that something else moved to a third store counts where it is.
  const elsewhere = { ...moved, leader: moved.region.peers.find((p) => p.storeId === 3) };
  assert.equal(hotLoadByStore([elsewhere], up3, NOW, config, recent).loads.get(3), 1000);
});

test('the leader-count balancer is told which regions are hot (recent moves included)', () => {
  const scheduler = new HotRegionScheduler(config, () => NOW);
  assert.equal(scheduler.isHot(hotRegion(1, 1, 1000)), true);
  assert.equal(scheduler.isHot(hotRegion(1, 1, 10)), false);
});
