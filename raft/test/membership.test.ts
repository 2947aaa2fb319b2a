// Membership changes: learners, single-server changes, joint consensus (Ongaro thesis §4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftInvariantError, encodeConfChange } from '../src/index.js';
import type { ConfChange, ConfChangeSingle, ConfChangeTransition, NodeId } from '../src/index.js';
import { Network, bytes } from './helpers/network.js';

function cc(transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChange {
  return { transition, changes, context: new Uint8Array() };
}
const addVoter = (nodeId: NodeId): ConfChangeSingle => ({ type: 'addVoter', nodeId });
const addLearner = (nodeId: NodeId): ConfChangeSingle => ({ type: 'addLearner', nodeId });
const removeNode = (nodeId: NodeId): ConfChangeSingle => ({ type: 'removeNode', nodeId });

/** Snapshots node `id` at its applied index and compacts its log there. */
function snapshotAndCompact(net: Network, id: NodeId): void {
  const status = net.node(id).status();
  net.storage(id).createSnapshot(status.applied, status.confState, new Uint8Array());
  net.storage(id).compact(status.applied);
}

/**
 * Adds learners the way a real store does: the conf change commits first, then the new
 * node starts with an empty config and is caught up with a snapshot that includes it.
 */
function addLearners(net: Network, leader: NodeId, ids: NodeId[]): void {
  for (const id of ids) {
    assert.deepEqual(net.node(leader).proposeConfChange(cc('auto', addLearner(id))), { ok: true });
    net.stabilize();
  }
  snapshotAndCompact(net, leader);
  for (const id of ids) net.start(id, new MemoryStorage());
  net.tickAll(2);
}

function voters(net: Network, id: NodeId): NodeId[] {
  return [...net.node(id).status().confState.voters];
}

test('a learner receives the log but is not counted for commitment', () => {
  // §6: new servers "join the cluster as non-voting members (the leader replicates log entries to them, but they are not considered for majorities)"
  const net = new Network({ voters: [1, 2], learners: [3] });
  net.elect(1);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  assert.deepEqual(net.appliedData(3), ['a']);
  net.isolate(2);
  net.node(1).propose(bytes('b'));
  net.stabilize();
  assert.equal(net.storage(3).lastIndex(), 3, 'the learner stores the entry');
  assert.equal(net.node(1).status().commit, 2, 'but leader + learner are not a majority of {1, 2}');
});

test('a new node joins as a learner, catches up from the log and is promoted with a single-server change', () => {
  // §6: "the new servers join the cluster as non-voting members ... they are not considered for majorities"; thesis §4.1 (paraphrased): a change of one server at a time is safe without joint consensus.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(1).propose(bytes('before'));
  net.stabilize();
  addLearners(net, 1, [4]);
  assert.equal(net.node(4).status().commit, 3, 'caught up through the snapshot');
  assert.deepEqual(net.node(4).status().confState.learners, [4]);
  net.node(1).propose(bytes('as learner'));
  net.stabilize();
  assert.deepEqual(net.appliedData(4), ['as learner']);
  assert.deepEqual(net.node(1).proposeConfChange(cc('auto', addVoter(4))), { ok: true });
  net.stabilize();
  assert.deepEqual(voters(net, 1), [1, 2, 3, 4]);
  assert.deepEqual(voters(net, 4), [1, 2, 3, 4]);
  // With four voters a majority is three: two nodes down and nothing commits.
  net.isolate(3);
  net.isolate(4);
  net.node(1).propose(bytes('needs 3'));
  net.stabilize();
  assert.deepEqual(net.appliedData(1), ['before', 'as learner']);
  net.heal();
  net.tickAll(2);
  assert.deepEqual(net.appliedData(1), ['before', 'as learner', 'needs 3']);
});

test('only one conf change may be pending; more than one voter change needs joint consensus', () => {
  // Thesis §4.1 (paraphrased): the leader does not start a new configuration change until the previous one is committed (Flotilla: applied).
  // §6: "In order to ensure safety, configuration changes must use a two-phase approach."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  assert.equal(net.node(1).proposeConfChange(cc('auto', addLearner(4))).ok, true);
  const pending = net.node(1).proposeConfChange(cc('auto', addLearner(5)));
  assert.deepEqual(pending, { ok: false, error: { kind: 'confChangePending', pendingIndex: 2 } });
  net.heal();
  net.tickAll(2);
  const two = net.node(1).proposeConfChange(cc('auto', removeNode(3), removeNode(2)));
  assert.equal(two.ok, true, "'auto' with two changes enters joint consensus");
  net.stabilize();
  net.tickAll(1);
  assert.deepEqual(voters(net, 1), [1]);
});

test('invalid conf changes are refused up front', () => {
  // §6: "In order to ensure safety, configuration changes must use a two-phase approach." Changes that would break it (e.g. removing every voter) are refused at proposal.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  const refuse = (change: ConfChange): string => {
    const r = net.node(1).proposeConfChange(change);
    assert.equal(r.ok, false);
    return r.ok ? '' : r.error.kind;
  };
  assert.equal(refuse(cc('auto')), 'invalidConfChange', 'nothing to leave');
  assert.equal(refuse(cc('auto', removeNode(1), removeNode(2), removeNode(3))), 'invalidConfChange');
  assert.equal(refuse(cc('auto', addVoter(0))), 'invalidConfChange');
  assert.equal(net.node(2).proposeConfChange(cc('auto', addLearner(4))).ok, true, 'forwarded by a follower');
  net.stabilize();
  assert.deepEqual(net.node(1).status().confState.learners, [4]);
  // A committed change that cannot apply means this replica's membership diverged: stop.
  assert.throws(() => net.node(1).applyConfChange(cc('auto')), RaftInvariantError);
});

test('joint consensus: during C_old,new an entry needs a majority of both configurations', () => {
  // §6: "Agreement (for elections and entry commitment) requires separate majorities from both the old and new configurations."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  addLearners(net, 1, [4, 5]);
  assert.equal(
    net.node(1).proposeConfChange(cc('jointExplicit', addVoter(4), addVoter(5), removeNode(2), removeNode(3)))
      .ok,
    true,
  );
  net.stabilize();
  const joint = net.node(1).status().confState;
  assert.deepEqual(joint.voters, [1, 4, 5]);
  assert.deepEqual(joint.votersOutgoing, [1, 2, 3]);
  assert.equal(joint.autoLeave, false);
  net.isolate(4);
  net.isolate(5);
  net.node(1).propose(bytes('old majority only'));
  net.stabilize();
  assert.deepEqual(net.appliedData(1), [], 'C_old agrees but C_new does not');
  net.heal();
  net.tickAll(2);
  assert.deepEqual(net.appliedData(1), ['old majority only']);
  // Explicit joint: still joint until an empty change is proposed; other changes are refused.
  const more = net.node(1).proposeConfChange(cc('auto', addLearner(6)));
  assert.equal(more.ok ? '' : more.error.kind, 'invalidConfChange');
  assert.equal(net.node(1).proposeConfChange(cc('auto')).ok, true);
  net.stabilize();
  const final = net.node(1).status().confState;
  assert.deepEqual(final.voters, [1, 4, 5]);
  assert.deepEqual(final.votersOutgoing, []);
});

test('joint consensus with auto-leave: the leader proposes leaving once the joint config is applied', () => {
  // §6: "It is now safe for the leader to create a log entry describing C_new and replicate it to the cluster."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  addLearners(net, 1, [4]);
  assert.equal(net.node(1).proposeConfChange(cc('jointImplicit', addVoter(4), addLearner(3))).ok, true);
  net.stabilize();
  net.tickAll(1);
  for (const id of [1, 2, 3, 4]) {
    const cs = net.node(id).status().confState;
    assert.deepEqual(cs.voters, [1, 2, 4], `node ${id}`);
    assert.deepEqual(cs.votersOutgoing, []);
    assert.deepEqual(cs.learners, [3], 'the demoted voter became a learner on leaving');
    assert.equal(cs.autoLeave, false);
  }
});

test('a leader removed from the configuration steps down once the change is applied, and the rest elect a new one', () => {
  // §6: "the leader steps down (returns to follower state) once it has committed the C_new log entry." (Flotilla: once applied.)
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  assert.equal(net.node(1).proposeConfChange(cc('auto', removeNode(1))).ok, true);
  net.stabilize();
  assert.equal(net.node(1).status().role, 'follower');
  assert.deepEqual(voters(net, 2), [2, 3]);
  net.tickAll(40);
  const leader = net.leader();
  assert.ok(leader === 2 || leader === 3, `leader ${leader}`);
  net.node(leader).propose(bytes('after'));
  net.stabilize();
  assert.deepEqual(net.appliedData(leader === 2 ? 3 : 2), ['after']);
  assert.deepEqual(net.appliedData(1), [], 'the removed node no longer gets entries');
});

test('a removed node that never learned of its removal does not disrupt the cluster', () => {
  // §6: "removed servers (those not in C_new) can disrupt the cluster" and "servers disregard RequestVote RPCs when they believe a current leader exists."
  const net = new Network({ voters: [1, 2, 3], config: () => ({ preVote: false }) });
  net.elect(1);
  net.isolate(3);
  assert.equal(net.node(1).proposeConfChange(cc('auto', removeNode(3))).ok, true);
  net.stabilize();
  assert.deepEqual(voters(net, 1), [1, 2]);
  net.tick(3, 60); // node 3 campaigns again and again in ever higher terms
  const term = net.node(1).status().term;
  assert.ok(net.node(3).status().term > term);
  net.heal();
  net.tickAll(5);
  assert.equal(net.node(1).status().role, 'leader');
  assert.equal(net.node(1).status().term, term, 'its higher-term vote requests were ignored');
});

test('demoting a voter through a joint config keeps it a voter until the config is left', () => {
  // §6: "Agreement (for elections and entry commitment) requires separate majorities from both the old and new configurations." — a demoted voter still counts in C_old.
  const net = new Network({ voters: [1, 2, 3], autoApply: true } as never);
  net.elect(1);
  net.autoApplyConfChanges = false;
  net.node(1).proposeConfChange(cc('jointExplicit', addLearner(3)));
  net.stabilize();
  const cs = net.node(1).applyConfChange(cc('jointExplicit', addLearner(3)));
  assert.deepEqual(cs.learnersNext, [3]);
  assert.deepEqual(cs.votersOutgoing, [1, 2, 3]);
  assert.deepEqual(
    net
      .node(1)
      .status()
      .progress.find((p) => p.id === 3)?.isLearner,
    false,
  );
  const left = net.node(1).applyConfChange(cc('auto'));
  assert.deepEqual(left.learners, [3]);
  assert.deepEqual(left.learnersNext, []);
});

test('a conf change entry carries the encoded ConfChange', () => {
  // Thesis §4.1: "the cluster configuration is stored and communicated using special entries in the replicated log"
  const net = new Network({ voters: [1] });
  net.elect(1);
  const change = cc('auto', addLearner(2));
  net.node(1).proposeConfChange(change);
  net.stabilize();
  const stored = net.storage(1).entries(2, 3, 1 << 20)[0];
  assert.equal(stored?.type, 'confChange');
  assert.deepEqual(stored?.data, encodeConfChange(change));
  assert.equal(net.node(1).proposeConfChange({ ...change, transition: 'bogus' as never }).ok, false);
});

test('with asyncApply, conf changes wait for reportApplied: the next change and the auto-leave both need the apply report', () => {
  // §6: "It is now safe for the leader to create a log entry describing C_new and replicate it to the cluster." Flotilla waits until C_old,new is applied (reported).
  const net = new Network({ voters: [1, 2, 3], config: () => ({ asyncApply: true }) });
  net.elect(1);
  assert.equal(net.node(1).proposeConfChange(cc('jointImplicit', addLearner(4))).ok, true);
  net.stabilize();
  assert.equal(net.node(1).status().confState.autoLeave, true, 'joint, waiting for the apply report');
  const pending = net.node(1).proposeConfChange(cc('auto'));
  assert.equal(pending.ok ? '' : pending.error.kind, 'confChangePending');
  net.node(1).reportApplied(net.node(1).status().commit);
  net.stabilize();
  const cs = net.node(1).status().confState;
  assert.deepEqual(cs.votersOutgoing, []);
  assert.deepEqual(cs.learners, [4]);
});

test('a learner at a higher term answers a lower-term leader, so the terms meet and it catches up (sim seed 101659)', () => {
  // §5.1: "If a server receives a request with a stale term number, it rejects the request";
  // the answer carries its term. A learner never campaigns, so without this answer (check
  // quorum and pre-vote off) nothing would ever raise the leader's term to the learner's.
  const net = new Network({
    voters: [1, 2, 3],
    learners: [4],
    config: () => ({ checkQuorum: false, preVote: false }),
  });
  net.elect(1);
  assert.deepEqual(net.node(1).propose(bytes('before')), { ok: true });
  net.stabilize();
  const leaderTerm = net.node(1).status().term;
  // A candidate's vote request pushes the learner to a much higher term. The candidate is
  // cut off from the learner's answers (in the simulator it had since been removed), so
  // only the learner itself can carry the higher term to the others.
  net.filter = (m) => !(m.from === 4 && m.to === 2 && m.type === 'voteResp');
  net.node(4).step({
    type: 'vote',
    to: 4,
    from: 2,
    term: leaderTerm + 7,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(),
  });
  net.stabilize();
  assert.equal(net.node(4).status().term, leaderTerm + 7);
  assert.deepEqual(net.node(1).propose(bytes('after')), { ok: true });
  for (let i = 0; i < 60 && net.appliedData(4).at(-1) !== 'after'; i++) {
    net.tickAll();
    const leader = net.leader();
    if (leader !== null && net.appliedData(leader).at(-1) !== 'after')
      net.node(leader).propose(bytes('after'));
  }
  assert.equal(net.appliedData(4).at(-1), 'after', 'the learner caught up under a leader of its term');
  assert.ok((net.node(net.leader() ?? 1).status().term ?? 0) >= leaderTerm + 7);
});
