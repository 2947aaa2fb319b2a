import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pdpb } from '@flotilla/proto';
import { formatOperatorStatus } from '../../../server/src/cli/operator-status-format.js';
import { OperatorController } from '../../src/schedule/operator-controller.js';
import { operatorStatusReport, operatorStatusToProto } from '../../src/schedule/operator-status.js';
import { resolveScheduleConfig } from '../../src/schedule/schedule-config.js';
import { peer, regionInfo } from './helpers.js';

function setup(): { c: OperatorController; now: { value: number } } {
  const now = { value: 10_000 };
  const c = new OperatorController(
    resolveScheduleConfig({ hotRegionScheduleLimit: 1, operatorTimeoutMs: 60_000 }),
    () => true,
    () => now.value,
    () => undefined,
  );
  return { c, now };
}

test('status lists running operators with the stores they move from and to, their step and age', () => {
  const { c, now } = setup();
  const region = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  assert.ok(
    c.add(region, 'hotRegion', 'spread hot leaders', [{ kind: 'transferLeader', peer: peer(13, 3) }]),
  );
  const learner = peer(24, 4, 'learner');
  const other = regionInfo(20, [peer(21, 1), peer(22, 2), peer(23, 3)], 21);
  assert.ok(
    c.add(other, 'balanceRegion', 'move a replica', [
      { kind: 'addLearner', peer: learner },
      { kind: 'promoteLearner', peer: learner },
      { kind: 'removePeer', peer: peer(23, 3) },
    ]),
  );
  now.value += 2500;
  const report = operatorStatusReport(c, now.value);
  assert.equal(report.running.length, 2);
  const [hot, balance] = report.running;
  assert.deepEqual(
    { kind: hot?.kind, region: hot?.regionId, from: hot?.fromStoreIds, to: hot?.toStoreIds, age: hot?.ageMs },
    { kind: 'hotRegion', region: 10, from: [1], to: [3], age: 2500 },
  );
  assert.deepEqual({ from: balance?.fromStoreIds, to: balance?.toStoreIds }, { from: [3], to: [4] });
  assert.equal(balance?.steps[balance.stepIndex], 'addLearner peer 24 on store 4');
});

test('status shows each kind running against its limit: a full kind takes no more operators', () => {
  const { c } = setup();
  const a = regionInfo(10, [peer(11, 1), peer(12, 2)], 11);
  const b = regionInfo(20, [peer(21, 1), peer(22, 2)], 21);
  assert.ok(c.add(a, 'hotRegion', 'first', [{ kind: 'transferLeader', peer: peer(12, 2) }]));
  assert.equal(c.add(b, 'hotRegion', 'second', [{ kind: 'transferLeader', peer: peer(22, 2) }]), false);
  const limits = operatorStatusReport(c, 0).limits;
  assert.deepEqual(
    limits.find((l) => l.kind === 'hotRegion'),
    { kind: 'hotRegion', runningCount: 1, limit: 1 },
  );
  assert.deepEqual(
    limits.map((l) => l.kind),
    ['replica', 'balanceLeader', 'balanceRegion', 'hotRegion', 'merge', 'evictLeader', 'balanceSpace'],
  );
});

test('finished operators keep their outcome and duration, on the wire and in flotilla status', () => {
  const { c, now } = setup();
  const region = regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 11);
  c.add(region, 'hotRegion', 'spread hot leaders', [{ kind: 'transferLeader', peer: peer(12, 2) }]);
  now.value += 800;
  c.onHeartbeat(regionInfo(10, [peer(11, 1), peer(12, 2), peer(13, 3)], 12));
  const other = regionInfo(20, [peer(21, 1), peer(22, 2)], 21);
  c.add(other, 'replica', 'grow', [{ kind: 'addLearner', peer: peer(23, 3, 'learner') }]);
  now.value += 1000;
  c.cancel(20, 'test');
  now.value += 500;
  const wire = operatorStatusToProto(operatorStatusReport(c, now.value));
  assert.equal(wire.running.length, 0);
  assert.deepEqual(
    wire.finished.map((o) => [Number(o.regionId), o.status, Number(o.durationMs), Number(o.ageMs)]),
    [
      [10, pdpb.OperatorStatus.SUCCEEDED, 800, 2300],
      [20, pdpb.OperatorStatus.CANCELLED, 1000, 1500],
    ],
  );
  const lines = formatOperatorStatus({ header: undefined, ...wire });
  assert.match(
    lines[0] ?? '',
    /^operators: 0 running \(.*hotRegion 0\/1, merge 0\/8, evictLeader 0\/16, balanceSpace 0\/4\), 2 finished recently$/,
  );
  assert.match(lines[1] ?? '', /#1 hotRegion region 10 store 1 -> 2 {2}succeeded after 0\.8 s, 1\.5 s ago/);
  assert.match(lines[2] ?? '', /#2 replica region 20 store - -> 3 {2}cancelled after 1\.0 s, 0\.5 s ago/);
});
