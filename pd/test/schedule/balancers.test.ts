import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planLeaderBalance, planRegionBalance } from '../../src/schedule/balancers.js';
import { healthOf, peer, regionInfo } from './helpers.js';

const never = (): boolean => false;
const up3 = healthOf([
  [1, 'up'],
  [2, 'up'],
  [3, 'up'],
]);

/** n regions, each with voters on stores 1-3, all led from `leaderStore`. */
function regionsLedBy(n: number, leaderStore: number): ReturnType<typeof regionInfo>[] {
  return Array.from({ length: n }, (_, i) => {
    const base = 100 + i * 10;
    return regionInfo(base, [peer(base + 1, 1), peer(base + 2, 2), peer(base + 3, 3)], base + leaderStore);
  });
}

test('leaders concentrated on one store move to the store leading the fewest', () => {
  const plan = planLeaderBalance(regionsLedBy(6, 1), up3, 1, never);
  assert.ok(plan);
  assert.equal(plan.steps[0]?.kind, 'transferLeader');
  assert.equal(plan.steps[0]?.peer.storeId, 2);
});

test('balanced leaders stay put', () => {
  const regions = [...regionsLedBy(2, 1), ...regionsLedBy(2, 2), ...regionsLedBy(2, 3)];
  assert.equal(planLeaderBalance(regions, up3, 1, never), undefined);
});

test('a leader on an offline store moves even when counts are balanced', () => {
  const health = healthOf([
    [1, 'offline'],
    [2, 'up'],
    [3, 'up'],
  ]);
  const plan = planLeaderBalance(regionsLedBy(1, 1), health, 1, never);
  assert.equal(plan?.steps[0]?.kind, 'transferLeader');
  assert.notEqual(plan?.steps[0]?.peer.storeId, 1);
});

test('regions with an operator running are not picked', () => {
  assert.equal(
    planLeaderBalance(regionsLedBy(6, 1), up3, 1, () => true),
    undefined,
  );
});

test('a new empty store receives replicas from the fullest store, leadership moved off a leading source', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'up'],
    [3, 'up'],
    [4, 'up'],
  ]);
  const regions = regionsLedBy(4, 1);
  const plan = planRegionBalance(regions, health, 1, never);
  assert.ok(plan);
  const kinds = plan.steps.map((s) => [s.kind, s.peer.storeId]);
  assert.deepEqual(kinds[0], ['addLearner', 4]);
  assert.deepEqual(kinds[1], ['promoteLearner', 4]);
  assert.deepEqual(kinds.at(-1)?.[0], 'removePeer');
  const removed = plan.steps.at(-1)?.peer;
  if (removed?.id === plan.region.leader?.id) assert.ok(kinds.some(([k]) => k === 'transferLeader'));
});

test('replicas within tolerance do not move', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'up'],
    [3, 'up'],
    [4, 'up'],
  ]);
  // 4 stores, 1 region of 3 replicas: counts 1,1,1,0 — a move would only shift the gap.
  assert.equal(planRegionBalance(regionsLedBy(1, 1), health, 1, never), undefined);
});

test('replica moves already in flight count: a second pass does not overshoot', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'up'],
    [3, 'up'],
    [4, 'up'],
  ]);
  // Stores 1-3 hold 4 replicas each, store 4 none: one move is due...
  const regions = regionsLedBy(4, 1);
  assert.ok(planRegionBalance(regions, health, 1, never));
  // ...but with one replica already on its way from store 1 to store 4, counts are 3/4/4/1
  // and a move of 2→4 or 3→4 is still fine; with two in flight (2/4/4/2 after 1→4 twice,
  // minus one each from 2 and 3), nothing more is due.
  const inFlight = {
    leaders: new Map<number, number>(),
    replicas: new Map([
      [1, -1],
      [2, -1],
      [3, -1],
      [4, 3],
    ]),
  };
  assert.equal(planRegionBalance(regions, health, 1, never, inFlight), undefined);
});
