// PD and full disks: no new data or leaders on a store whose disk is not NORMAL (or that
// the region's size would push below its reserve), leaders evicted off such stores, regions
// moved off them and off stores low on space, each bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegionInfo } from '../../src/cluster/region-info.js';
import { EMPTY_REGION_LOAD } from '../../src/cluster/region-info.js';
import { planLeaderBalance, planRegionBalance } from '../../src/schedule/balancers.js';
import { planDiskLeaderEviction, planSpaceBalance } from '../../src/schedule/disk-schedulers.js';
import { planHotLeaderSpread } from '../../src/schedule/hot-region-scheduler.js';
import { MergeChecker } from '../../src/schedule/merge-checker.js';
import { checkReplicas, pickTargetStore } from '../../src/schedule/replica-checker.js';
import { SCHEDULE_CONFIG_DEFAULTS } from '../../src/schedule/schedule-config.js';
import type { DiskLevel, StoreDisk } from '../../src/schedule/store-disk.js';
import { isLowSpace, refusesData } from '../../src/schedule/store-disk.js';
import { healthOf, peer, regionInfo } from './helpers.js';

const MiB = 1024 * 1024;
const never = (): boolean => false;
const config = SCHEDULE_CONFIG_DEFAULTS;

function disk(level: DiskLevel, availableMiB = 1000, capacityMiB = 1000, reservedMiB = 10): StoreDisk {
  return {
    level,
    capacityBytes: capacityMiB * MiB,
    availableBytes: availableMiB * MiB,
    usedBytes: (capacityMiB - availableMiB) * MiB,
    reservedBytes: reservedMiB * MiB,
  };
}

function upStores(n: number): ReturnType<typeof healthOf> {
  return healthOf(Array.from({ length: n }, (_, i) => [i + 1, 'up'] as [number, 'up']));
}

/** Region `id` with voters on `stores`, led from `leaderStore`, of `sizeMiB`. */
function region(id: number, stores: number[], leaderStore: number, sizeMiB = 1): RegionInfo {
  const base = id * 10;
  const peers = stores.map((s) => peer(base + s, s));
  const info = regionInfo(id, peers, base + leaderStore);
  return { ...info, load: { ...EMPTY_REGION_LOAD, approximateSizeBytes: sizeMiB * MiB } };
}

test('a store whose disk is not NORMAL is refused; a NORMAL one only while the data keeps its reserve', () => {
  assert.match(refusesData(disk('almostFull'), 0) ?? '', /almost full/);
  assert.match(refusesData(disk('alreadyFull'), 0) ?? '', /already full/);
  assert.equal(refusesData(disk('normal', 100, 1000, 10), 89 * MiB), undefined);
  assert.match(refusesData(disk('normal', 100, 1000, 10), 91 * MiB) ?? '', /below its reserve/);
  assert.equal(refusesData(undefined, 10 * MiB), undefined, 'no heartbeat yet: unknown, not refused');
  const unknownSpace = { ...disk('normal'), capacityBytes: 0, availableBytes: 0 };
  assert.equal(refusesData(unknownSpace, 10 * MiB), undefined, 'capacity not reported: judged by level only');
});

test('low on space: used share at the ratio and less than half the room of another store', () => {
  const disks = new Map([
    [1, disk('normal', 100)],
    [2, disk('normal', 500)],
    [3, disk('normal', 150)],
  ]);
  assert.equal(isLowSpace(1, disks, [1, 2, 3], 80), true);
  assert.equal(isLowSpace(3, disks, [1, 2, 3], 80), true);
  assert.equal(isLowSpace(2, disks, [1, 2, 3], 80), false);
  // Stores sharing one file system see the same space: none is low against the others.
  const shared = new Map([
    [1, disk('normal', 100)],
    [2, disk('normal', 100)],
  ]);
  assert.equal(isLowSpace(1, shared, [1, 2], 80), false);
});

test('the replica checker adds no replica on a store whose disk is almost full, and says so', () => {
  const info = region(10, [1], 1);
  const view = {
    health: upStores(4),
    replicaCounts: new Map([
      [1, 5],
      [2, 0],
      [3, 3],
      [4, 4],
    ]),
    disks: new Map([[2, disk('almostFull', 5)]]),
  };
  const plan = checkReplicas(info, view, 3);
  assert.deepEqual(
    plan?.steps.map((s) => [s.kind, s.peer.storeId]),
    [
      ['addLearner', 3],
      ['promoteLearner', 3],
    ],
  );
  assert.match(plan?.description ?? '', /not on store 2: disk almost full/);
});

test('the replica checker skips a NORMAL store the region would push below its reserve', () => {
  const view = {
    health: upStores(3),
    replicaCounts: new Map([
      [2, 0],
      [3, 9],
    ]),
    disks: new Map([[2, disk('normal', 50, 1000, 10)]]),
  };
  assert.equal(pickTargetStore(view, [peer(11, 1)], new Set(), 30 * MiB), 2, 'a small region fits');
  assert.equal(pickTargetStore(view, [peer(11, 1)], new Set(), 45 * MiB), 3, 'a large one does not');
  const allFull = {
    ...view,
    disks: new Map([
      [2, disk('almostFull')],
      [3, disk('alreadyFull')],
    ]),
  };
  assert.equal(checkReplicas(region(10, [1], 1), allFull, 3), undefined, 'nowhere to go: nothing is added');
});

test('a learner stuck catching up on a full store is removed; a region with a voter too many drops the full one', () => {
  const learner = peer(14, 4, 'learner');
  const base = region(10, [1, 2, 3], 1);
  const stuck = {
    ...base,
    region: { ...base.region, peers: [...base.region.peers, learner] },
    pendingPeers: [learner],
  };
  const view = { health: upStores(4), replicaCounts: new Map(), disks: new Map([[4, disk('almostFull')]]) };
  const plan = checkReplicas(stuck, view, 3);
  assert.deepEqual(
    plan?.steps.map((s) => [s.kind, s.peer.id]),
    [['removePeer', 14]],
  );
  const extra = region(20, [1, 2, 3, 4], 1);
  const counts = new Map([
    [1, 1],
    [2, 9],
    [3, 9],
    [4, 1],
  ]);
  const removed = checkReplicas(extra, { ...view, replicaCounts: counts }, 3);
  assert.deepEqual(
    removed?.steps.map((s) => [s.kind, s.peer.storeId]),
    [['removePeer', 4]],
  );
  assert.match(removed?.description ?? '', /store 4's disk almost full/);
});

test('replica balance moves no replica onto a full store, nor onto one low on space', () => {
  const regions = Array.from({ length: 4 }, (_, i) => region(10 + i, [1, 2, 3], 1));
  const health = upStores(4);
  assert.equal(
    planRegionBalance(regions, health, 1, never)?.steps[0]?.peer.storeId,
    4,
    'an empty store fills',
  );
  const full = { disks: new Map([[4, disk('almostFull')]]), lowSpaceRatioPercent: 80 };
  assert.equal(planRegionBalance(regions, health, 1, never, undefined, full), undefined);
  const low = {
    disks: new Map([
      [1, disk('normal', 800)],
      [2, disk('normal', 800)],
      [3, disk('normal', 800)],
      [4, disk('normal', 100)],
    ]),
    lowSpaceRatioPercent: 80,
  };
  assert.equal(planRegionBalance(regions, health, 1, never, undefined, low), undefined);
});

test('leader balance hands no leader to a store whose disk is not NORMAL', () => {
  const regions = Array.from({ length: 6 }, (_, i) => region(10 + i, [1, 2, 3], 1));
  const health = upStores(3);
  const disks = new Map([[2, disk('almostFull')]]);
  const plan = planLeaderBalance(regions, health, 1, never, undefined, disks);
  assert.equal(plan?.steps[0]?.peer.storeId, 3);
  const both = new Map([
    [2, disk('almostFull')],
    [3, disk('alreadyFull')],
  ]);
  assert.equal(planLeaderBalance(regions, health, 1, never, undefined, both), undefined);
});

test('hot leaders do not move to a store whose disk is not NORMAL', () => {
  const hot = (id: number, leaderStore: number, keysPerSecond: number): RegionInfo => ({
    ...region(id, [1, 2, 3], leaderStore),
    load: { ...EMPTY_REGION_LOAD, intervalMs: 10_000, writtenKeys: keysPerSecond * 10 },
    heartbeatAtUnixMs: 1_000,
  });
  const regions = [hot(1, 1, 1000), hot(2, 1, 900), hot(3, 2, 300)];
  const health = upStores(3);
  const spread = (disks: Map<number, StoreDisk>): number | undefined =>
    planHotLeaderSpread(regions, health, 1_000, config, never, new Map(), disks)?.steps[0]?.peer.storeId;
  assert.equal(spread(new Map()), 3);
  assert.equal(spread(new Map([[3, disk('almostFull')]])), 2);
  assert.equal(
    spread(
      new Map([
        [2, disk('almostFull')],
        [3, disk('almostFull')],
      ]),
    ),
    undefined,
  );
});

test('no merge on stores where one disk is not NORMAL', () => {
  const small = (id: number): RegionInfo => ({ ...region(id, [1, 2, 3], 1, 1), heartbeatAtUnixMs: 1 });
  const now = { ms: 0 };
  const checker = new MergeChecker({ ...config, splitMergeIntervalMs: 10 }, () => now.ms);
  const regions = [small(1), small(2)];
  checker.plan(regions, never);
  now.ms = 100;
  assert.ok(checker.plan(regions, never), 'mergeable with every disk NORMAL');
  assert.equal(checker.plan(regions, never, new Map([[2, disk('almostFull')]])), undefined);
});

test('leaders on a store whose disk is not NORMAL are evicted to caught-up voters on NORMAL stores, bounded per pass', () => {
  const regions = Array.from({ length: 5 }, (_, i) => region(10 + i, [1, 2, 3], 1));
  const lagging = region(20, [1, 2, 3], 1);
  regions.push({ ...lagging, pendingPeers: [lagging.region.peers[1] as RegionInfo['pendingPeers'][number]] });
  const health = upStores(3);
  const disks = new Map([
    [1, disk('almostFull')],
    [3, disk('alreadyFull')],
  ]);
  const plans = planDiskLeaderEviction(regions, health, disks, never, 16);
  assert.equal(plans.length, 5, 'the region whose only NORMAL voter lags keeps its leader for now');
  assert.ok(plans.every((p) => p.steps.length === 1 && p.steps[0]?.kind === 'transferLeader'));
  assert.ok(plans.every((p) => p.steps[0]?.peer.storeId === 2));
  assert.match(plans[0]?.description ?? '', /off store 1 \(disk almost full/);
  assert.equal(planDiskLeaderEviction(regions, health, disks, never, 2).length, 2);
  assert.equal(
    planDiskLeaderEviction(regions, health, new Map(), never, 16).length,
    0,
    'nothing without a full disk',
  );
});

test('evicted leaders spread over the NORMAL stores by leader count', () => {
  const regions = Array.from({ length: 4 }, (_, i) => region(10 + i, [1, 2, 3], 1));
  const plans = planDiskLeaderEviction(regions, upStores(3), new Map([[1, disk('almostFull')]]), never, 16);
  const to = plans.map((p) => p.steps[0]?.peer.storeId).sort();
  assert.deepEqual(to, [2, 2, 3, 3]);
});

test('space balance moves the largest region off an almost-full store to the store with the most room', () => {
  const regions = [region(10, [1, 2, 3], 1, 2), region(11, [1, 2, 3], 2, 8), region(12, [2, 3, 4], 2, 50)];
  const health = upStores(5);
  const disks = new Map([
    [1, disk('almostFull', 5)],
    [2, disk('normal', 500)],
    [3, disk('normal', 500)],
    [4, disk('normal', 600)],
    [5, disk('normal', 900)],
  ]);
  const plan = planSpaceBalance(regions, health, disks, config, never, new Map());
  assert.ok(plan);
  assert.equal(plan.region.region.id, 11);
  assert.deepEqual(
    plan.steps.map((s) => [s.kind, s.peer.storeId]),
    [
      ['addLearner', 5],
      ['promoteLearner', 5],
      ['removePeer', 1],
    ],
  );
  assert.match(plan.description, /off store 1 \(disk almost full.*to store 5/);
  // The source led region 10: leadership moves to the new peer before the source is removed.
  const led = planSpaceBalance(regions, health, disks, config, (id) => id === 11, new Map());
  assert.deepEqual(
    led?.steps.map((s) => s.kind),
    ['addLearner', 'promoteLearner', 'transferLeader', 'removePeer'],
  );
});

test('space balance is bounded per store: no move out of, or into, a store already at its limit', () => {
  const regions = [region(10, [1, 2, 3], 2, 8)];
  const health = upStores(5);
  const disks = new Map([
    [1, disk('almostFull', 5)],
    [4, disk('normal', 600)],
    [5, disk('normal', 900)],
  ]);
  const max = config.spaceMovesPerStoreMax;
  assert.equal(planSpaceBalance(regions, health, disks, config, never, new Map([[1, max]])), undefined);
  const plan = planSpaceBalance(regions, health, disks, config, never, new Map([[5, max]]));
  assert.equal(plan?.steps[0]?.peer.storeId, 4, 'the busiest target is passed over');
});

test('space balance from a store low on space narrows the gap, and stops once it cannot', () => {
  const health = upStores(4);
  const disks = new Map([
    [1, disk('normal', 100)],
    [2, disk('normal', 500)],
    [3, disk('normal', 500)],
    [4, disk('normal', 900)],
  ]);
  const small = [region(10, [1, 2, 3], 2, 50)];
  assert.equal(planSpaceBalance(small, health, disks, config, never, new Map())?.steps[0]?.peer.storeId, 4);
  // Moving 450 MiB would leave store 4 with less room than store 1 would have.
  const huge = [region(10, [1, 2, 3], 2, 450)];
  assert.equal(planSpaceBalance(huge, health, disks, config, never, new Map()), undefined);
  // Every store on one file system: nothing is low, nothing moves.
  const shared = new Map([1, 2, 3, 4].map((id) => [id, disk('normal', 100)]));
  assert.equal(planSpaceBalance(small, health, shared, config, never, new Map()), undefined);
});
