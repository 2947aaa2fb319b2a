import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReplicas, pickTargetStore } from '../../src/schedule/replica-checker.js';
import { healthOf, peer, regionInfo } from './helpers.js';

const allUp = healthOf([
  [1, 'up'],
  [2, 'up'],
  [3, 'up'],
  [4, 'up'],
]);

test('a healthy region with maxReplicas voters needs nothing', () => {
  const info = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  assert.equal(
    checkReplicas(info, { health: allUp, replicaCounts: new Map(), disks: new Map() }, 3),
    undefined,
  );
});

test('a single-voter region (just bootstrapped) gets a learner on the emptiest store, then a promotion', () => {
  const info = regionInfo(10, [peer(11, 1)], 11);
  const counts = new Map([
    [1, 5],
    [2, 3],
    [3, 1],
    [4, 2],
  ]);
  const plan = checkReplicas(info, { health: allUp, replicaCounts: counts, disks: new Map() }, 3);
  assert.ok(plan);
  assert.deepEqual(
    plan.steps.map((s) => [s.kind, s.peer.storeId]),
    [
      ['addLearner', 3],
      ['promoteLearner', 3],
    ],
  );
});

test('a voter on a down store is replaced: add and promote elsewhere before removing it', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'up'],
    [3, 'down'],
    [4, 'up'],
  ]);
  const info = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  const plan = checkReplicas(info, { health, replicaCounts: new Map(), disks: new Map() }, 3);
  assert.ok(plan);
  assert.deepEqual(
    plan.steps.map((s) => [s.kind, s.peer.storeId]),
    [
      ['addLearner', 4],
      ['promoteLearner', 4],
      ['removePeer', 3],
    ],
  );
});

test('with no spare store, a region keeps its unavailable voter (never shrinks below maxReplicas)', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'up'],
    [3, 'down'],
  ]);
  const info = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  assert.equal(checkReplicas(info, { health, replicaCounts: new Map(), disks: new Map() }, 3), undefined);
});

test('a learner still catching up is left alone; once caught up it is promoted', () => {
  const learner = peer(14, 4, 'learner');
  const peers = [peer(11, 1), peer(12, 2), peer(13, 3), learner];
  const pending = regionInfo(10, peers, 11, { pendingPeers: [learner] });
  assert.equal(
    checkReplicas(pending, { health: allUp, replicaCounts: new Map(), disks: new Map() }, 3),
    undefined,
  );
  const caughtUp = regionInfo(10, peers, 11);
  const plan = checkReplicas(caughtUp, { health: allUp, replicaCounts: new Map(), disks: new Map() }, 3);
  assert.deepEqual(
    plan?.steps.map((s) => [s.kind, s.peer.id]),
    [['promoteLearner', 14]],
  );
});

test('an extra voter is removed from the fullest store, never the leader', () => {
  const info = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3), peer(14, 4)], 11);
  const counts = new Map([
    [1, 9],
    [2, 1],
    [3, 7],
    [4, 2],
  ]);
  const plan = checkReplicas(info, { health: allUp, replicaCounts: counts, disks: new Map() }, 3);
  assert.deepEqual(
    plan?.steps.map((s) => [s.kind, s.peer.id]),
    [['removePeer', 13]],
  );
});

test('a voter to replace that leads hands leadership to a healthy voter before it is removed', () => {
  const health = healthOf([
    [1, 'offline'],
    [2, 'up'],
    [3, 'up'],
    [4, 'up'],
  ]);
  const info = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  const plan = checkReplicas(info, { health, replicaCounts: new Map(), disks: new Map() }, 3);
  assert.deepEqual(
    plan?.steps.map((s) => [s.kind, s.peer.storeId]),
    [
      ['addLearner', 4],
      ['promoteLearner', 4],
      ['transferLeader', 2],
      ['removePeer', 1],
    ],
  );
});

test('a region in a joint configuration is left to its leader', () => {
  const info = regionInfo(10, [peer(11, 1), peer(12, 2, 'incomingVoter'), peer(13, 3, 'demotingVoter')], 11);
  assert.equal(
    checkReplicas(info, { health: allUp, replicaCounts: new Map(), disks: new Map() }, 3),
    undefined,
  );
});

test('target stores are up, without a peer of the region, fewest replicas first', () => {
  const health = healthOf([
    [1, 'up'],
    [2, 'disconnected'],
    [3, 'up'],
    [4, 'up'],
  ]);
  const counts = new Map([
    [3, 4],
    [4, 4],
  ]);
  assert.equal(pickTargetStore({ health, replicaCounts: counts, disks: new Map() }, [peer(11, 1)]), 3);
  assert.equal(
    pickTargetStore({ health, replicaCounts: counts, disks: new Map() }, [
      peer(11, 1),
      peer(12, 3),
      peer(13, 4),
    ]),
    undefined,
  );
});
