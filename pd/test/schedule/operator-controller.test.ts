import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { pdpb } from '@flotilla/proto';
import { OperatorController } from '../../src/schedule/operator-controller.js';
import { resolveScheduleConfig } from '../../src/schedule/schedule-config.js';
import { peer, regionInfo } from './helpers.js';

function controller(nowMs: { value: number }, sendOk = true) {
  const sent: Array<{ regionId: number; operator: pdpb.RegionHeartbeatResponse['operator'] }> = [];
  const c = new OperatorController(
    resolveScheduleConfig({ stepResendIntervalMs: 1000, operatorTimeoutMs: 60_000, replicaScheduleLimit: 2 }),
    (regionId, operator) => {
      sent.push({ regionId, operator });
      return sendOk;
    },
    () => nowMs.value,
    () => undefined,
  );
  return { c, sent };
}

test('steps are sent one at a time and advance only when a heartbeat shows them done', () => {
  const now = { value: 1000 };
  const { c, sent } = controller(now);
  const learner = peer(14, 4, 'learner');
  const start = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  assert.ok(
    c.add(start, 'replica', 'add a replica', [
      { kind: 'addLearner', peer: learner },
      { kind: 'promoteLearner', peer: learner },
      { kind: 'removePeer', peer: peer(13, 3) },
    ]),
  );
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.operator?.$case, 'changePeer');
  // Same state again, before the resend interval: nothing new.
  c.onHeartbeat(start);
  assert.equal(sent.length, 1);
  // After the interval the step is sent again (the leader may have ignored it).
  now.value += 1000;
  c.onHeartbeat(start);
  assert.equal(sent.length, 2);
  // The learner appears: the promotion goes out.
  c.onHeartbeat(regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3), learner], 11));
  assert.equal(sent.length, 3);
  // Promoted and the old peer removed in one report: the operator is done.
  c.onHeartbeat(regionInfo(10, [peer(11, 1), peer(12, 2), peer(14, 4)], 11));
  assert.equal(c.has(10), false);
  assert.equal(c.counters.succeeded, 1);
  assert.equal(c.list().finished[0]?.status, 'succeeded');
});

test('one operator per region, and a bounded number per kind', () => {
  const now = { value: 0 };
  const { c } = controller(now);
  const step = (id: number) => [{ kind: 'transferLeader' as const, peer: peer(id, 2) }];
  const r = (id: number) => regionInfo(id, [peer(id + 1, 1), peer(id + 2, 2)], id + 1);
  assert.ok(c.add(r(10), 'replica', 'a', step(12)));
  assert.equal(c.add(r(10), 'replica', 'b', step(12)), false);
  assert.ok(c.add(r(20), 'replica', 'c', step(22)));
  assert.equal(c.add(r(30), 'replica', 'd', step(32)), false);
  assert.equal(c.hasRoom('replica'), false);
  assert.equal(c.hasRoom('balanceLeader'), true);
});

test('an operator whose step became impossible is cancelled; one that takes too long times out', () => {
  const now = { value: 0 };
  const { c } = controller(now);
  const learner = peer(14, 4, 'learner');
  c.add(regionInfo(10, [peer(11, 1), learner], 11), 'replica', 'promote', [
    { kind: 'promoteLearner', peer: learner },
  ]);
  // The learner vanished (removed by someone else): cannot promote.
  c.onHeartbeat(regionInfo(10, [peer(11, 1)], 11));
  assert.equal(c.counters.cancelled, 1);
  c.add(regionInfo(20, [peer(21, 1), peer(22, 2)], 21), 'replica', 'move leader', [
    { kind: 'transferLeader', peer: peer(22, 2) },
  ]);
  now.value += 60_000;
  c.expire();
  assert.equal(c.counters.timedOut, 1);
  assert.equal(c.has(20), false);
});

test('a learner is promoted only once its leader no longer reports it pending', () => {
  const now = { value: 0 };
  const { c, sent } = controller(now);
  const learner = peer(14, 4, 'learner');
  const voters = [peer(11, 1), peer(12, 2), peer(13, 3)];
  c.add(regionInfo(10, voters, 11), 'replica', 'add', [
    { kind: 'addLearner', peer: learner },
    { kind: 'promoteLearner', peer: learner },
  ]);
  assert.equal(sent.length, 1);
  // The learner exists but still waits for its snapshot: no promotion, however long.
  for (let i = 0; i < 5; i++) {
    now.value += 5000;
    c.onHeartbeat(regionInfo(10, [...voters, learner], 11, { pendingPeers: [learner] }));
  }
  assert.equal(sent.length, 1);
  c.onHeartbeat(regionInfo(10, [...voters, learner], 11));
  assert.equal(sent.length, 2);
  assert.equal(sent[1]?.operator?.$case, 'changePeer');
});
