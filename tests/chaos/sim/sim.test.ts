// The simulator's own tests: its checkers catch what they must (forged violations; the
// linearizability checker's own tests are in ../checker/), a seed replays exactly, and a
// smoke run of many seeds passes.
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../../raft/src/index.js';
import type { ConfState, Entry, Message } from '../../../raft/src/index.js';
import { InvariantViolation, SafetyChecker } from './checkers.js';
import type { LogView } from './checkers.js';
import { defaultSimOptions, runSimulation } from './cluster-sim.js';
import { History } from './history.js';
import { KvStateMachine, votersConfState } from './kv-state-machine.js';
import { chooseMembershipChange } from './membership.js';
import { SimDisk } from './sim-disk.js';
import { SimNetwork, calmConditions } from './network.js';
import { SimRandom } from './prng.js';

const encoder = new TextEncoder();
/** Fault phase of each smoke seed (the CLI's default is 1500). */
const smokeFaultTicks = 800;

function entry(index: number, term: number, data: string): Entry {
  return { index, term, type: 'normal', data: encoder.encode(data) };
}

function logOf(entries: readonly Entry[]): LogView {
  return {
    firstIndex: () => 1,
    lastIndex: () => entries.length,
    term: (index) => entries[index - 1]?.term ?? 0,
  };
}

function heartbeat(): Message {
  return {
    type: 'heartbeat',
    to: 2,
    from: 1,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
}

function assertViolation(action: () => void, invariant: InvariantViolation['invariant']): void {
  assert.throws(
    action,
    (error: unknown) => error instanceof InvariantViolation && error.invariant === invariant,
  );
}

describe('stale read check', () => {
  it('accepts stale values that were written, and rejects values nobody wrote before the read', () => {
    const history = new History();
    const callSeq = history.nextSeq();
    history.putOk('a', 'c0.1', callSeq);
    history.readStale('a', 'c0.1');
    history.readStale('a', null);
    assert.equal(history.checkStaleReads(), null);
    history.readStale('b', 'c0.1');
    assert.match(history.checkStaleReads() ?? '', /stale read of b/);
    const early = new History();
    early.readStale('a', 'c0.2');
    early.putUnknown('a', 'c0.2', early.nextSeq());
    assert.match(early.checkStaleReads() ?? '', /stale read of a/);
  });
});

describe('safety checker', () => {
  it('detects a forged divergent applied entry (state machine safety)', () => {
    const checker = new SafetyChecker();
    checker.observeApplied(1, 2, entry(5, 2, 'put a=1'));
    checker.observeApplied(2, 2, entry(5, 2, 'put a=1'));
    assertViolation(() => checker.observeApplied(3, 3, entry(5, 2, 'put a=2')), 'stateMachineSafety');
  });

  it('detects two leaders in one term (election safety)', () => {
    const checker = new SafetyChecker();
    checker.observeRole(1, 4, 'leader');
    checker.observeRole(1, 4, 'leader');
    checker.observeRole(2, 5, 'leader');
    assertViolation(() => checker.observeRole(3, 4, 'leader'), 'electionSafety');
  });

  it('detects logs that hold different entries at the same index and term (log matching)', () => {
    const checker = new SafetyChecker();
    checker.observePersisted(1, 0, [entry(1, 1, ''), entry(2, 1, 'a')]);
    checker.observePersisted(2, 0, [entry(1, 1, ''), entry(2, 1, 'a')]);
    assertViolation(() => checker.observePersisted(3, 1, [entry(2, 1, 'b')]), 'logMatching');
  });

  it('detects equal entries that follow different predecessors (log matching)', () => {
    const checker = new SafetyChecker();
    checker.observePersisted(1, 1, [entry(3, 2, 'x')]);
    assertViolation(() => checker.observePersisted(2, 2, [entry(3, 2, 'x')]), 'logMatching');
  });

  it('detects a leader missing an entry committed in an earlier term (leader completeness)', () => {
    const checker = new SafetyChecker();
    checker.observeApplied(1, 2, entry(1, 1, ''));
    checker.observeApplied(1, 2, entry(2, 2, 'a'));
    checker.observeNewLeader(2, 3, logOf([entry(1, 1, ''), entry(2, 2, 'a'), entry(3, 3, '')]));
    assertViolation(() => checker.observeNewLeader(3, 4, logOf([entry(1, 1, '')])), 'leaderCompleteness');
    assertViolation(
      () => checker.observeNewLeader(3, 4, logOf([entry(1, 1, ''), entry(2, 3, 'b')])),
      'leaderCompleteness',
    );
  });

  it('does not demand entries committed in the leader own term or later', () => {
    const checker = new SafetyChecker();
    checker.observeApplied(1, 7, entry(1, 7, ''));
    checker.observeNewLeader(2, 5, logOf([]));
  });

  it('detects a durable vote changed within a term, and a commit index going back', () => {
    const checker = new SafetyChecker();
    checker.observeDurableHardState(1, { term: 3, vote: 2, commit: 4 });
    checker.observeDurableHardState(1, { term: 3, vote: 2, commit: 5 });
    assertViolation(
      () => checker.observeDurableHardState(1, { term: 3, vote: 3, commit: 5 }),
      'durableState',
    );
    const other = new SafetyChecker();
    other.observeDurableHardState(1, { term: 3, vote: 2, commit: 5 });
    assertViolation(() => other.observeDurableHardState(1, { term: 4, vote: 0, commit: 4 }), 'durableState');
  });

  it('detects a commit index going back within one incarnation, not across a restart', () => {
    const checker = new SafetyChecker();
    checker.observeCommit(1, 0, 10);
    checker.observeCommit(1, 1, 8);
    assertViolation(() => checker.observeCommit(1, 1, 7), 'monotonicCommit');
  });

  it('detects two different state machine images at one index', () => {
    const checker = new SafetyChecker();
    checker.observeSnapshotData(1, 20, encoder.encode('[["a","1"]]'));
    checker.observeSnapshotData(2, 20, encoder.encode('[["a","1"]]'));
    assertViolation(
      () => checker.observeSnapshotData(3, 20, encoder.encode('[["a","2"]]')),
      'snapshotAgreement',
    );
  });
});

describe('simulated network and randomness', () => {
  it('draws the same stream from the same seed, and independent forks', () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const drawsA = Array.from({ length: 8 }, () => a.nextUint32());
    assert.deepEqual(
      drawsA,
      Array.from({ length: 8 }, () => b.nextUint32()),
    );
    assert.notDeepEqual(new SimRandom(43).nextUint32(), new SimRandom(42).nextUint32());
    const forkA = new SimRandom(1).fork(1).nextUint32();
    const forkB = new SimRandom(1).fork(2).nextUint32();
    assert.notEqual(forkA, forkB);
  });

  it('drops messages on a cut link and beyond the link queue bound', () => {
    const network = new SimNetwork(new SimRandom(1), 2);
    const message = heartbeat();
    assert.equal(network.send(0, message), null);
    assert.equal(network.send(0, message), null);
    assert.equal(network.send(0, message), 'queueFull');
    network.cut(1, 2);
    assert.equal(network.send(0, message), 'partition');
    const dropped: string[] = [];
    assert.equal(network.takeDue(10, 100, (_m, reason) => dropped.push(reason)).length, 0);
    assert.deepEqual(dropped, ['partition', 'partition']);
    network.healAll();
    assert.equal(network.send(10, message), null);
    assert.equal(network.takeDue(20, 100, () => assert.fail('nothing is cut')).length, 1);
  });

  it('delivers held-back messages promptly once expedited (the heal)', () => {
    const network = new SimNetwork(new SimRandom(2), 8);
    network.setConditions({ ...calmConditions, longDelayPermille: 1000, longDelayTicksMax: 500 });
    const message = { ...heartbeat(), to: 3 };
    for (let i = 0; i < 4; i++) assert.equal(network.send(0, message), null);
    network.expedite(10, 2);
    assert.equal(network.takeDue(12, 100, () => assert.fail('nothing is cut')).length, 4);
    assert.equal(network.inFlightCount, 0);
  });
});

describe('simulated disk', () => {
  it('keeps synced writes and loses unsynced ones in a crash', () => {
    const kv = new KvStateMachine(votersConfState([1, 2, 3]));
    const disk = new SimDisk(new MemoryStorage({ confState: votersConfState([1, 2, 3]) }), kv);
    disk.append([entry(1, 1, ''), entry(2, 1, 'a')]);
    disk.setHardState({ term: 1, vote: 1, commit: 2 });
    kv.applyNormal(1, new Uint8Array(0));
    disk.sync(kv);
    disk.append([entry(3, 1, 'b')]);
    disk.setHardState({ term: 2, vote: 2, commit: 3 });
    kv.applyNormal(2, new Uint8Array(0));
    assert.equal(disk.live.lastIndex(), 3);
    const survived = disk.crash();
    assert.equal(survived.storage.lastIndex(), 2);
    assert.deepEqual(survived.storage.initialState().hardState, { term: 1, vote: 1, commit: 2 });
    assert.equal(survived.kv.appliedIndex, 1);
    assert.equal(disk.live, survived.storage);
  });
});

describe('membership changes', () => {
  it('keeps voters within bounds and never names a retired id', () => {
    const random = new SimRandom(5);
    const bounds = { votersMin: 3, votersMax: 5, poolIds: [1, 2, 3, 4, 5, 6, 7] };
    const retired = new Set([7]);
    let confState: ConfState = votersConfState([1, 2, 3]);
    for (let step = 0; step < 300; step++) {
      const change = chooseMembershipChange(random, confState, retired, bounds);
      if (change === null) continue;
      assert.ok(
        change.changes.every((c) => !retired.has(c.nodeId)),
        JSON.stringify(change),
      );
      if (change.changes.length !== 1) continue;
      const [single] = change.changes;
      if (single === undefined) continue;
      const voters = new Set(confState.voters);
      const learners = new Set(confState.learners);
      voters.delete(single.nodeId);
      learners.delete(single.nodeId);
      if (single.type === 'addVoter') voters.add(single.nodeId);
      if (single.type === 'addLearner') learners.add(single.nodeId);
      if (single.type === 'removeNode') retired.add(single.nodeId);
      assert.ok(voters.size >= 3 && voters.size <= 5, `voters ${[...voters].join(',')}`);
      confState = { ...confState, voters: [...voters], learners: [...learners] };
    }
  });
});

describe('cluster simulation', () => {
  it('replays a seed exactly: two runs give the same trace digest and summary', () => {
    const options = { ...defaultSimOptions, seed: 7 };
    const first = runSimulation(options);
    const second = runSimulation(options);
    assert.equal(first.failure, null, first.failure?.message);
    assert.ok(first.summary.traceEvents > 1000, 'the run did something');
    assert.equal(first.summary.traceDigest, second.summary.traceDigest);
    assert.deepEqual(first.summary, second.summary);
    assert.notEqual(runSimulation({ ...options, seed: 8 }).summary.traceDigest, first.summary.traceDigest);
  });

  it('catches a planted durability bug (sending before the disk is synced)', () => {
    let failed = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const result = runSimulation({ ...defaultSimOptions, seed, sabotage: 'ignoreMustSync' });
      if (result.failure !== null) failed++;
    }
    assert.ok(failed >= 5, `only ${failed} of 10 sabotaged seeds failed`);
  });

  it('catches a planted stale-read bug with the linearizability checker', () => {
    // The bug shows only when a write lands between a read's index and its late apply, so look
    // through seeds until one shows it (a few percent of seeds do).
    let caught: number | null = null;
    for (let seed = 1; seed <= 300 && caught === null; seed++) {
      const sabotaged = runSimulation({ ...defaultSimOptions, seed, sabotage: 'serveReadsEarly' });
      if (sabotaged.failure?.kind === 'linearizability') caught = seed;
    }
    assert.notEqual(caught, null, 'no sabotaged seed produced a non-linearizable history');
    const honest = runSimulation({ ...defaultSimOptions, seed: caught ?? 0 });
    assert.equal(honest.failure, null, `seed ${caught} fails without the planted bug too`);
  });

  it('catches a planted liveness bug (reads never answered)', () => {
    const result = runSimulation({ ...defaultSimOptions, seed: 1, sabotage: 'dropReadStates' });
    assert.equal(result.failure?.kind, 'liveness', result.failure?.message);
  });

  it('replays a seed from the command line with the same trace digest, and exits 1 on a failure', () => {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 120_000 });
    const passing = run(['--seed', '4', '--ticks', '600']);
    assert.equal(passing.status, 0, passing.stderr);
    const inProcess = runSimulation({ ...defaultSimOptions, seed: 4, faultTicks: 600 });
    assert.match(passing.stdout, new RegExp(`trace digest ${inProcess.summary.traceDigest}`));
    const failing = run(['--seed', '1', '--sabotage', 'dropReadStates']);
    assert.equal(failing.status, 1, failing.stderr);
    assert.match(failing.stdout, /FAIL seed 1 \(liveness/);
    assert.match(failing.stdout, /replay: npm run sim -- --seed 1 --sabotage dropReadStates --verbose/);
  });

  it('passes a smoke run of 500 seeds', { timeout: 600_000 }, () => {
    const failures: string[] = [];
    let opsChecked = 0;
    let snapshotsInstalled = 0;
    let confChanges = 0;
    let crashes = 0;
    // A shorter fault phase than the CLI's default keeps 500 seeds within a CI budget.
    for (let seed = 1; seed <= 500; seed++) {
      const result = runSimulation({ ...defaultSimOptions, seed, faultTicks: smokeFaultTicks });
      if (result.failure !== null) {
        failures.push(
          `seed ${seed}: ${result.failure.kind} at tick ${result.failure.tick}: ${result.failure.message}`,
        );
      }
      opsChecked += result.summary.opsChecked;
      snapshotsInstalled += result.summary.snapshotsInstalled;
      confChanges += result.summary.confChangesApplied;
      crashes += result.summary.crashes;
    }
    assert.deepEqual(failures, [], `replay with npm run sim -- --seed N --ticks ${smokeFaultTicks}`);
    // The faults the run is meant to exercise did happen.
    assert.ok(opsChecked > 500 * 100, `ops checked: ${opsChecked}`);
    assert.ok(snapshotsInstalled > 500, `snapshots installed: ${snapshotsInstalled}`);
    assert.ok(confChanges > 500, `conf changes: ${confChanges}`);
    assert.ok(crashes > 500, `crashes: ${crashes}`);
  });
});
