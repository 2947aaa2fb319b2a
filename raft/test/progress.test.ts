// Unit tests of the leader's bookkeeping: inflights window, Progress state machine,
// quorum arithmetic (majority and joint), the membership changer and read rounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftInvariantError } from '../src/index.js';
import type { NodeId } from '../src/index.js';
import { Inflights } from '../src/inflights.js';
import { Progress } from '../src/progress.js';
import {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from '../src/quorum.js';
import { ProgressTracker, checkConfig, configFromConfState, confStateFromConfig } from '../src/tracker.js';
import { Changer, ConfChangeError, restoreConfig } from '../src/conf-change.js';
import { ReadOnly, decodeHeartbeatContext, encodeHeartbeatContext } from '../src/read-only.js';
import { confState } from './helpers/network.js';

test('Inflights: bounded window freed by acknowledgements, wrapping around', () => {
  const w = new Inflights(3);
  w.add(1);
  w.add(2);
  w.add(3);
  assert.equal(w.full(), true);
  assert.throws(() => w.add(4), RaftInvariantError);
  w.freeLE(2);
  assert.equal(w.count, 1);
  w.add(5);
  w.add(6); // wraps
  assert.throws(() => w.add(6), RaftInvariantError); // must increase
  const copy = w.clone();
  w.freeLE(5);
  assert.equal(w.count, 1);
  assert.equal(copy.count, 3);
  w.freeLE(100);
  assert.equal(w.count, 0);
  copy.reset();
  assert.equal(copy.count, 0);
  assert.throws(() => new Inflights(0), RaftInvariantError);
});

test('Progress: probe sends one append at a time, replicate streams within the window', () => {
  const pr = new Progress(6, 2, false, true);
  assert.equal(pr.isPaused(), false);
  pr.sentEntries(3, 8);
  assert.equal(pr.isPaused(), true); // probe: wait for the answer
  assert.equal(pr.maybeDecrTo(4, 3), false); // stale rejection (not of next - 1)
  assert.equal(pr.maybeDecrTo(5, 2), true);
  assert.equal(pr.next, 3);
  assert.equal(pr.maybeUpdate(4), true);
  assert.equal(pr.next, 5);
  pr.becomeReplicate();
  pr.sentEntries(2, 6);
  pr.sentEntries(1, 7);
  assert.equal(pr.isPaused(), true); // window of 2 is full
  assert.equal(pr.next, 8);
  assert.equal(pr.maybeUpdate(6), true);
  pr.inflights.freeLE(6);
  assert.equal(pr.isPaused(), false);
  assert.equal(pr.maybeDecrTo(5, 5), false); // at or below match: stale
  assert.equal(pr.maybeDecrTo(7, 5), true);
  assert.equal(pr.next, 7);
  assert.equal(pr.maybeUpdate(3), false);
});

test('Progress: snapshot state pauses until the snapshot is reported', () => {
  const pr = new Progress(2, 4, false, true);
  pr.becomeSnapshot(10);
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.next, 11);
  pr.becomeProbe(); // success: continue after the snapshot
  assert.equal(pr.next, 11);
  pr.becomeSnapshot(10);
  pr.pendingSnapshot = 0; // failure
  pr.becomeProbe();
  assert.equal(pr.next, 1);
  const copy = pr.clone();
  copy.match = 5;
  assert.equal(pr.match, 0);
  assert.throws(() => new Progress(0, 1, false, false), RaftInvariantError);
  assert.throws(() => pr.becomeSnapshot(0), RaftInvariantError);
});

const ids = (...xs: number[]): Set<NodeId> => new Set(xs);

test('quorum: majority commit index and vote results', () => {
  const match = new Map<NodeId, number>([
    [1, 5],
    [2, 3],
    [3, 9],
  ]);
  assert.equal(
    majorityCommittedIndex(ids(1, 2, 3), (id) => match.get(id)),
    5,
  );
  assert.equal(
    majorityCommittedIndex(ids(1, 2, 3, 4), (id) => match.get(id)),
    3,
  );
  assert.equal(
    majorityCommittedIndex(ids(), () => 0),
    Infinity,
  );
  const votes = new Map<NodeId, boolean>([
    [1, true],
    [2, false],
  ]);
  assert.equal(majorityVoteResult(ids(1, 2, 3), votes), 'pending');
  assert.equal(majorityVoteResult(ids(1, 2), votes), 'lost');
  assert.equal(majorityVoteResult(ids(1), votes), 'won');
  assert.equal(majorityVoteResult(ids(), votes), 'won');
});

test('quorum: a joint config needs a majority in both halves (thesis §4.3)', () => {
  const match = new Map<NodeId, number>([
    [1, 9],
    [2, 9],
    [3, 1],
    [4, 1],
    [5, 1],
  ]);
  // §4.3: "Agreement (for elections and entry commitment) requires separate majorities from both the old and new configurations."
  assert.equal(
    jointCommittedIndex([ids(1, 2, 3), ids(3, 4, 5)], (id) => match.get(id)),
    1,
  );
  assert.equal(
    jointCommittedIndex([ids(1, 2, 3), ids()], (id) => match.get(id)),
    9,
  );
  const votes = new Map<NodeId, boolean>([
    [1, true],
    [2, true],
    [4, false],
    [5, false],
  ]);
  assert.equal(jointVoteResult([ids(1, 2, 3), ids(3, 4, 5)], votes), 'lost');
  assert.equal(jointVoteResult([ids(1, 2, 3), ids(1, 2, 4)], votes), 'won');
  assert.equal(jointVoteResult([ids(1, 2, 3), ids(1, 4, 6)], votes), 'pending');
});

test('tracker: conf state round trip, vote tally and quorum activity', () => {
  const cs = { voters: [3, 1], learners: [4], votersOutgoing: [1, 2], learnersNext: [2], autoLeave: true };
  assert.deepEqual(confStateFromConfig(configFromConfState(cs)), {
    voters: [1, 3],
    learners: [4],
    votersOutgoing: [1, 2],
    learnersNext: [2],
    autoLeave: true,
  });
  const { config, progress } = restoreConfig(cs, 10, 4);
  const t = new ProgressTracker(4);
  t.setConfig(config, progress);
  assert.deepEqual(t.voterIds(), [1, 2, 3]);
  assert.deepEqual(t.ids(), [1, 2, 3, 4]);
  assert.equal(t.isSingleton(), false);
  t.recordVote(1, true);
  t.recordVote(3, true);
  t.recordVote(3, false); // only the first answer counts
  assert.deepEqual(t.tallyVotes(), { granted: 2, rejected: 0, result: 'pending' });
  t.recordVote(2, true);
  assert.equal(t.tallyVotes().result, 'won');
  assert.equal(t.quorumActive(), true);
  for (const pr of t.progress.values()) pr.recentActive = false;
  assert.equal(t.quorumActive(), false);
  assert.equal(t.isQuorum(ids(1, 3)), false);
  assert.equal(t.isQuorum(ids(1, 2, 3)), true);
  assert.throws(
    () => checkConfig({ ...config, autoLeave: false, voters: [ids(1), ids()] }, progress),
    RaftInvariantError,
  );
});

function changer(cs = confState([1, 2, 3])): Changer {
  const { config, progress } = restoreConfig(cs, 5, 4);
  return new Changer(config, progress, 5, 4);
}

test('changer: simple changes alter at most one voter', () => {
  const r = changer().simple([{ type: 'addVoter', nodeId: 4 }]);
  assert.deepEqual([...r.config.voters[0]].sort(), [1, 2, 3, 4]);
  assert.equal(r.progress.get(4)?.next, 6);
  assert.throws(
    () =>
      changer().simple([
        { type: 'addVoter', nodeId: 4 },
        { type: 'addVoter', nodeId: 5 },
      ]),
    ConfChangeError,
  );
  assert.throws(
    () => changer(confState([1])).simple([{ type: 'removeNode', nodeId: 1 }]),
    /removed all voters/,
  );
  const demoted = changer().simple([{ type: 'addLearner', nodeId: 3 }]);
  assert.deepEqual([...demoted.config.learners], [3]);
  assert.equal(demoted.progress.get(3)?.isLearner, true);
  const removedUnknown = changer().simple([{ type: 'removeNode', nodeId: 9 }]);
  assert.equal(removedUnknown.config.voters[0].size, 3);
  assert.throws(() => changer().simple([{ type: 'addVoter', nodeId: 0 }]), ConfChangeError);
});

test('changer: enter and leave joint, with learnersNext for demoted outgoing voters', () => {
  const base = changer();
  const original = restoreConfig(confState([1, 2, 3]), 5, 4);
  const joint = new Changer(original.config, original.progress, 5, 4).enterJoint(true, [
    { type: 'addVoter', nodeId: 4 },
    { type: 'addLearner', nodeId: 3 },
    { type: 'addLearner', nodeId: 5 },
  ]);
  assert.equal(original.progress.get(3)?.isLearner, false, 'the current progress is not touched');
  assert.deepEqual([...joint.config.voters[1]].sort(), [1, 2, 3]);
  assert.deepEqual([...joint.config.learnersNext], [3]);
  assert.deepEqual([...joint.config.learners], [5]);
  assert.equal(joint.config.autoLeave, true);
  const again = new Changer(joint.config, joint.progress, 5, 4);
  assert.throws(() => again.enterJoint(false, []), /already joint/);
  assert.throws(() => again.simple([]), ConfChangeError);
  const left = again.leaveJoint();
  assert.deepEqual([...left.config.voters[0]].sort(), [1, 2, 4]);
  assert.equal(left.config.voters[1].size, 0);
  assert.deepEqual([...left.config.learners].sort(), [3, 5]);
  assert.equal(left.progress.get(3)?.isLearner, true);
  assert.throws(() => base.leaveJoint(), /non-joint/);
  // Removing an outgoing voter keeps its progress until the joint config is left.
  const removing = changer().enterJoint(false, [{ type: 'removeNode', nodeId: 1 }]);
  assert.equal(removing.progress.has(1), true);
  const done = new Changer(removing.config, removing.progress, 5, 4).leaveJoint();
  assert.equal(done.progress.has(1), false);
  assert.throws(
    () => changer(confState([], [1])).enterJoint(false, [{ type: 'addVoter', nodeId: 1 }]),
    /zero-voter/,
  );
  // change() dispatches by transition.
  assert.equal(
    changer().change({
      transition: 'auto',
      changes: [{ type: 'addVoter', nodeId: 7 }],
      context: new Uint8Array(),
    }).config.voters[1].size,
    0,
  );
  assert.equal(
    changer().change({
      transition: 'jointExplicit',
      changes: [{ type: 'addVoter', nodeId: 7 }],
      context: new Uint8Array(),
    }).config.autoLeave,
    false,
  );
  // A learner promoted to voter.
  const promoted = changer(confState([1], [2])).simple([{ type: 'addVoter', nodeId: 2 }]);
  assert.equal(promoted.progress.get(2)?.isLearner, false);
  assert.equal(promoted.config.learners.size, 0);
  const stillLearner = changer(confState([1], [2])).simple([{ type: 'addLearner', nodeId: 2 }]);
  assert.deepEqual([...stillLearner.config.learners], [2]);
});

test('read rounds: one round in flight, late requests join while unsealed, acks release up to the round', () => {
  const ro = new ReadOnly(3);
  const quorum2 = (acks: ReadonlySet<NodeId>): boolean => acks.size >= 2;
  assert.equal(ro.add({ index: 5, from: 1, requestCtx: new Uint8Array([1]) }), 1);
  assert.equal(ro.add({ index: 5, from: 1, requestCtx: new Uint8Array([2]) }), 0, 'joins round 1 (unsealed)');
  ro.seal();
  assert.equal(ro.add({ index: 6, from: 2, requestCtx: new Uint8Array([3]) }), 0, 'waits for round 2');
  assert.equal(ro.hasRoom(), false);
  assert.throws(() => ro.add({ index: 6, from: 2, requestCtx: new Uint8Array([4]) }), RaftInvariantError);
  assert.equal(ro.recvAck(1, 1, quorum2), null);
  assert.equal(ro.recvAck(2, 7, quorum2), null, 'an ack for another round is ignored');
  assert.equal(ro.recvAck(2, 0, quorum2), null);
  const done = ro.recvAck(2, 1, quorum2);
  assert.deepEqual(
    done?.released.map((r) => r.requestCtx[0]),
    [1, 2],
  );
  assert.equal(done?.nextRound, 2);
  assert.equal(ro.currentRound(), 2);
  ro.reset();
  assert.equal(ro.pendingCount, 0);
  assert.equal(ro.currentRound(), 0);
});

test('heartbeat context encodes the read round and send tick; garbage decodes to null', () => {
  assert.deepEqual(decodeHeartbeatContext(encodeHeartbeatContext(3, 99)), { round: 3, sentTick: 99 });
  const sliced = new Uint8Array(20);
  sliced.set(encodeHeartbeatContext(1, 2), 4);
  assert.deepEqual(decodeHeartbeatContext(sliced.subarray(4)), { round: 1, sentTick: 2 });
  assert.equal(decodeHeartbeatContext(new Uint8Array(3)), null);
  assert.equal(decodeHeartbeatContext(encodeHeartbeatContext(-1, 0)), null);
  assert.equal(decodeHeartbeatContext(encodeHeartbeatContext(0.5, 0)), null);
});
