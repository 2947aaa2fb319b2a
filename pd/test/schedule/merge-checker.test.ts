import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegionInfo } from '../../src/cluster/region-info.js';
import { EMPTY_REGION_LOAD } from '../../src/cluster/region-info.js';
import { MergeChecker } from '../../src/schedule/merge-checker.js';
import { SCHEDULE_CONFIG_DEFAULTS } from '../../src/schedule/schedule-config.js';
import { stepToProto } from '../../src/schedule/operator.js';
import { peer, regionInfo } from './helpers.js';

const MiB = 1024 * 1024;
const config = { ...SCHEDULE_CONFIG_DEFAULTS, splitMergeIntervalMs: 60_000 };
const never = (): boolean => false;

/** Region `id` covering [id, id+1) with voters on `stores`, reporting `sizeBytes`. */
function region(id: number, sizeBytes: number, stores = [1, 2, 3], version = 1): RegionInfo {
  const base = id * 10;
  const info = regionInfo(
    id,
    stores.map((s, i) => peer(base + i + 1, s)),
    base + 1,
    {},
    { confVer: 1, version },
  );
  return { ...info, load: { ...EMPTY_REGION_LOAD, approximateSizeBytes: sizeBytes, approximateKeys: 100 } };
}

/** A checker whose clock the test moves; it has seen `regions` once at time 0. */
function checkerAfter(
  regions: RegionInfo[],
  elapsedMs: number,
): { checker: MergeChecker; now: { ms: number } } {
  const now = { ms: 0 };
  const checker = new MergeChecker(config, () => now.ms);
  checker.plan(regions, never);
  now.ms = elapsedMs;
  return { checker, now };
}

test('a small region merges into its smaller same-store neighbour once its range has been stable long enough', () => {
  const regions = [region(1, 3 * MiB), region(2, 1 * MiB), region(3, 2 * MiB)];
  const early = checkerAfter(regions, 59_000);
  assert.equal(early.checker.plan(regions, never), undefined, 'not within the split-merge interval');
  const { checker } = checkerAfter(regions, 60_000);
  const plan = checker.plan(regions, never);
  assert.ok(plan);
  assert.equal(plan.source.region.id, 1);
  assert.equal(plan.target.id, 2, 'its only neighbour');
  const second = checker.plan(regions, (id) => id === 1 || id === 2);
  assert.equal(second, undefined, 'region 3 has only busy neighbours');
  const fromMiddle = checker.plan(regions, (id) => id === 1);
  assert.equal(fromMiddle?.source.region.id, 2);
  assert.equal(fromMiddle?.target.id, 3, 'the smaller free neighbour');
});

test('large regions, different stores, unhealthy regions and merges past the split size are left alone', () => {
  const big = [region(1, 9 * MiB), region(2, 9 * MiB)];
  assert.equal(checkerAfter(big, 60_000).checker.plan(big, never), undefined, 'above the merge size');
  const apart = [region(1, MiB, [1, 2, 3]), region(2, MiB, [1, 2, 4])];
  assert.equal(checkerAfter(apart, 60_000).checker.plan(apart, never), undefined, 'not on the same stores');
  const lagging = region(2, MiB);
  const pending = [region(1, MiB), { ...lagging, pendingPeers: [lagging.region.peers[1] ?? peer(0, 0)] }];
  assert.equal(checkerAfter(pending, 60_000).checker.plan(pending, never), undefined, 'a lagging peer');
  const leaderless = [region(1, MiB), { ...region(2, MiB), leader: undefined }];
  assert.equal(checkerAfter(leaderless, 60_000).checker.plan(leaderless, never), undefined, 'no leader');
  const small = region(1, 7 * MiB);
  const huge = region(2, 60 * MiB);
  assert.equal(
    checkerAfter([small, huge], 60_000).checker.plan([small, huge], never),
    undefined,
    'the merged region would pass the split size',
  );
});

test('a region whose range just changed waits the interval again', () => {
  const regions = [region(1, MiB), region(2, MiB)];
  const { checker, now } = checkerAfter(regions, 30_000);
  const resplit = [region(1, MiB, [1, 2, 3], 2), region(2, MiB, [1, 2, 3], 2)];
  assert.equal(checker.plan(resplit, never), undefined);
  now.ms = 80_000;
  assert.equal(checker.plan(resplit, never), undefined, '50 s after the change');
  now.ms = 90_000;
  assert.ok(checker.plan(resplit, never));
});

test('the merge step goes to the source leader as a merge operator naming the target', () => {
  const target = region(2, MiB).region;
  const op = stepToProto({ kind: 'merge', peer: peer(11, 1), target });
  assert.equal(op?.$case, 'merge');
  assert.equal(op?.$case === 'merge' ? Number(op.merge.target?.id) : 0, 2);
});
