// Linearizable reads without log writes: ReadIndex and leases (Ongaro thesis §6.4, §6.4.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, text } from './helpers/network.js';
import { Solo } from './helpers/node.js';

function readCtxs(net: Network, id: number): string[] {
  return (net.readStates.get(id) ?? []).map((rs) => text(rs.requestCtx));
}

test('safe reads are confirmed by one heartbeat round and released at the commit index', () => {
  // §8: "Raft handles this by having the leader exchange heartbeat messages with a majority of the cluster before responding to read-only requests."
  // Thesis §6.4 (paraphrased): the leader records its commit index as the readIndex, confirms with one heartbeat round acknowledged by a majority, and serves once applied up to readIndex.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(1).propose(bytes('v'));
  net.stabilize();
  const mark = net.sent.length;
  for (let i = 0; i < 5; i++) assert.deepEqual(net.node(1).readIndex(bytes(`r${i}`)), { ok: true });
  net.stabilize();
  const heartbeats = net.sent.slice(mark).filter((m) => m.type === 'heartbeat');
  assert.equal(heartbeats.length, 2, 'one heartbeat per follower for the whole batch');
  assert.deepEqual(readCtxs(net, 1), ['r0', 'r1', 'r2', 'r3', 'r4']);
  for (const rs of net.readStates.get(1) ?? []) assert.equal(rs.index, 2);
});

test('reads arriving while a round is in flight wait for the next round, which confirms them all', () => {
  // Thesis §6.4: "the leader can amortize the cost of confirming its leadership: it can use a single round of heartbeats for any number of read-only queries that it has accumulated."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(1).readIndex(bytes('a'));
  net.processReady(1); // round 1 is sent
  net.node(1).readIndex(bytes('b'));
  net.node(1).readIndex(bytes('c'));
  net.processReady(1);
  assert.equal(
    net.queue.filter((m) => m.type === 'heartbeat').length,
    2,
    'no new round while one is in flight',
  );
  net.stabilize();
  assert.deepEqual(readCtxs(net, 1), ['a', 'b', 'c']);
  assert.equal(net.sentOfType('heartbeat').length, 4, 'two rounds in all');
});

test('a new leader holds reads until an entry of its own term has committed', () => {
  // §8: "a leader must have the latest information on which entries are committed. The Leader Completeness Property guarantees that a leader has all committed entries, but at the start of its term, it may not know which those are. To find out, it needs to commit an entry from its term."
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false } });
  solo.node.campaign();
  solo.round();
  solo.step({ type: 'voteResp', from: 2, term: 1 });
  assert.equal(solo.node.status().role, 'leader');
  assert.deepEqual(solo.node.readIndex(bytes('early')), { ok: true });
  const rd = solo.round();
  assert.equal(
    rd.messages.filter((m) => m.type === 'heartbeat').length,
    0,
    'no round before the no-op commits',
  );
  solo.step({ type: 'appResp', from: 2, term: 1, index: 1 });
  const heartbeats = solo.messages().filter((m) => m.type === 'heartbeat');
  assert.equal(heartbeats.length, 2, 'the queued read starts its round once the no-op commits');
  solo.step({ type: 'heartbeatResp', from: 3, term: 1, context: heartbeats[1]?.context ?? new Uint8Array() });
  const states = solo.round().readStates;
  assert.deepEqual(
    states.map((rs) => [rs.index, text(rs.requestCtx)]),
    [[1, 'early']],
  );
});

test('pending reads are bounded: beyond maxPendingReadRequests the leader answers readQueueFull', () => {
  // Not from the paper: Flotilla bounds every queue (STYLE.md); a full read queue is reported as data (readQueueFull).
  const net = new Network({ voters: [1, 2, 3], config: () => ({ maxPendingReadRequests: 2 }) });
  net.elect(1);
  assert.equal(net.node(1).readIndex(bytes('1')).ok, true);
  assert.equal(net.node(1).readIndex(bytes('2')).ok, true);
  assert.deepEqual(net.node(1).readIndex(bytes('3')), {
    ok: false,
    error: { kind: 'readQueueFull', maxPending: 2 },
  });
  net.stabilize();
  assert.equal(net.node(1).readIndex(bytes('4')).ok, true, 'room again once released');
});

test('a follower read is forwarded to the leader and answered with a ReadState', () => {
  // Thesis §6.4 (paraphrased): followers can help serve reads by asking the leader for the current readIndex and serving once they have applied up to it.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(1).propose(bytes('v'));
  net.stabilize();
  assert.equal(net.node(2).readIndex(bytes('f')).ok, true);
  net.stabilize();
  assert.deepEqual(readCtxs(net, 2), ['f']);
  assert.equal(net.readStates.get(2)?.[0]?.index, 2);
  assert.equal(net.node(2).readIndex(bytes('lease'), 'lease').ok, true);
  net.stabilize();
  assert.deepEqual(readCtxs(net, 2), ['f', 'lease']);
});

test('a node without a leader refuses reads with notLeader', () => {
  // §5.1: "The leader handles all client requests (if a client contacts a follower, the follower redirects it to the leader)."
  const solo = new Solo({ voters: [1, 2, 3] });
  assert.deepEqual(solo.node.readIndex(bytes('x')), { ok: false, error: { kind: 'notLeader', leaderId: 0 } });
  solo.node.campaign();
  assert.deepEqual(solo.node.readIndex(bytes('x')), { ok: false, error: { kind: 'notLeader', leaderId: 0 } });
});

test('a single-node group serves reads at once', () => {
  // §8: "Raft handles this by having the leader exchange heartbeat messages with a majority of the cluster before responding to read-only requests." A single voter is that majority.
  const net = new Network({ voters: [1] });
  net.elect(1);
  net.node(1).readIndex(bytes('solo'));
  net.stabilize();
  assert.deepEqual(readCtxs(net, 1), ['solo']);
  assert.equal(net.sentOfType('heartbeat').length, 0);
});

test('an isolated leader cannot confirm a safe read', () => {
  // §8: "with no additional measures, this would run the risk of returning stale data, since the leader responding to the request might have been superseded by a newer leader of which it is unaware."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(1);
  net.node(1).readIndex(bytes('stale?'));
  net.stabilize();
  for (let i = 0; i < 30; i++) {
    net.node(1).tick();
    net.stabilize();
  }
  assert.deepEqual(readCtxs(net, 1), []);
  assert.equal(net.node(1).status().role, 'follower', 'check-quorum stepped it down; its reads were dropped');
});

test('lease reads are served without a round while a quorum acknowledged a recent heartbeat', () => {
  // §8: "Alternatively, the leader could rely on the heartbeat mechanism to provide a form of lease [9], but this would rely on timing for safety (it assumes bounded clock skew)."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.tickAll(1); // one acknowledged heartbeat round
  const mark = net.sent.length;
  assert.equal(net.node(1).readIndex(bytes('lease'), 'lease').ok, true);
  net.processReady(1);
  assert.deepEqual(readCtxs(net, 1), ['lease'], 'served in the same round');
  assert.equal(net.sent.slice(mark).filter((m) => m.type === 'heartbeat').length, 0);
});

test('the lease runs from when the confirming round was sent, minus the clock drift margin', () => {
  // §8: the lease "would rely on timing for safety (it assumes bounded clock skew)" — the margin is that bound, and the lease starts when the round was SENT.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.tickAll(1);
  net.isolate(1);
  // electionTimeout 10, margin ceil(10/5) = 2: the lease of the round sent at tick s lasts while now - s < 8.
  for (let i = 0; i < 7; i++) net.node(1).tick();
  net.node(1).readIndex(bytes('in-lease'), 'lease');
  net.processReady(1);
  assert.deepEqual(readCtxs(net, 1), ['in-lease']);
  net.node(1).tick();
  net.node(1).readIndex(bytes('expired'), 'lease');
  net.processReady(1);
  assert.deepEqual(readCtxs(net, 1), ['in-lease'], 'falls back to a safe read, which cannot complete');
});

test('lease reads fall back to safe reads without check-quorum', () => {
  // §8: a lease "would rely on timing for safety"; without check-quorum followers give no timing promise, so the read takes a heartbeat round.
  const net = new Network({ voters: [1, 2, 3], config: () => ({ checkQuorum: false }) });
  net.elect(1);
  net.tickAll(1);
  const mark = net.sent.length;
  net.node(1).readIndex(bytes('x'), 'lease');
  net.stabilize();
  assert.deepEqual(readCtxs(net, 1), ['x']);
  assert.equal(net.sent.slice(mark).filter((m) => m.type === 'heartbeat').length, 2, 'confirmed by a round');
});

test('no lease reads while a leader transfer is in progress', () => {
  // Thesis §3.10 (paraphrased): the transferee starts an election at once, so followers may vote before their election timeout; the lease promise does not hold during a transfer.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.tickAll(1);
  net.isolate(3);
  net.node(1).propose(bytes('x'));
  net.stabilize();
  net.node(1).transferLeader(3); // 3 is behind: the transfer stays pending
  assert.equal(net.node(1).status().leadTransferee, 3);
  const mark = net.sent.length;
  net.node(1).readIndex(bytes('t'), 'lease');
  net.stabilize();
  assert.deepEqual(readCtxs(net, 1), ['t']);
  assert.equal(
    net.sent.slice(mark).filter((m) => m.type === 'heartbeat').length,
    1,
    'a safe round (3 is cut off)',
  );
});

test('a restarted node grants no vote for an election timeout, so leases it extended before crashing hold', () => {
  // Thesis §6.4.1 relies on followers not voting within an election timeout of a heartbeat they acknowledged; a
  // restarted node cannot remember when that was, so it waits one election timeout before granting votes.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.tickAll(1);
  net.restart(2);
  net.restart(3);
  net.node(2).step({ ...net.sent[0]!, type: 'preVote', from: 3, to: 2, term: 5, index: 9, logTerm: 9 });
  assert.equal(net.processReady(2), false, 'the pre-vote is ignored right after restart');
  for (let i = 0; i < 10; i++) net.node(2).tick();
  net.node(2).step({ ...net.sent[0]!, type: 'preVote', from: 3, to: 2, term: 5, index: 9, logTerm: 9 });
  net.processReady(2);
  assert.equal(net.queue.at(-1)?.type, 'preVoteResp');
  assert.equal(net.queue.at(-1)?.reject, false);
});

test('a joint config whose halves are both the leader serves reads without waiting for anyone', () => {
  // §6: "Agreement (for elections and entry commitment) requires separate majorities from both the old and new configurations." Here both are the leader alone.
  const net = new Network({ voters: [1], learners: [2] });
  net.elect(1);
  const joint = {
    transition: 'jointExplicit' as const,
    changes: [{ type: 'addLearner' as const, nodeId: 3 }],
    context: new Uint8Array(),
  };
  assert.equal(net.node(1).proposeConfChange(joint).ok, true);
  net.stabilize();
  assert.deepEqual(net.node(1).status().confState.votersOutgoing, [1]);
  net.node(1).readIndex(bytes('j'));
  net.stabilize();
  assert.deepEqual(readCtxs(net, 1), ['j']);
});
