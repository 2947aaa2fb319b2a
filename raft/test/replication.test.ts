// Log replication and the Ready/advance contract (Raft paper §5.3, §5.4.2; thesis §3.5, §10.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftInvariantError } from '../src/index.js';
import type { Message } from '../src/index.js';
import { Network, bytes, confState } from './helpers/network.js';
import { Solo, entries } from './helpers/node.js';

test('the leader replicates a proposal and every node applies it once a majority stores it', () => {
  // §5.3: "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in parallel to each of the other servers to replicate the entry. When the entry has been safely replicated (as described below), the leader applies the entry to its state machine"
  // §5.3: "A log entry is committed once the leader that created the entry has replicated it on a majority of the servers"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  for (const word of ['a', 'b', 'c']) assert.deepEqual(net.node(1).propose(bytes(word)), { ok: true });
  net.stabilize();
  for (const id of [1, 2, 3]) {
    assert.deepEqual(net.appliedData(id), ['a', 'b', 'c']);
    assert.equal(net.node(id).status().commit, 4);
    assert.equal(net.node(id).status().applied, 4);
  }
});

test('an entry stored on a minority is not committed; it commits when a majority has it', () => {
  // §5.3: "A log entry is committed once the leader that created the entry has replicated it on a majority of the servers"
  const net = new Network({ voters: [1, 2, 3, 4, 5] });
  net.elect(1);
  net.isolate(3);
  net.isolate(4);
  net.isolate(5);
  net.node(1).propose(bytes('x'));
  net.stabilize();
  assert.equal(net.node(1).status().commit, 1);
  assert.deepEqual(net.appliedData(1), []);
  net.heal();
  net.tickAll(2);
  assert.equal(net.node(1).status().commit, 2);
  for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(net.appliedData(id), ['x']);
});

test('a follower with conflicting entries has them overwritten by the leader', () => {
  // §5.3: "In Raft, the leader handles inconsistencies by forcing the followers' logs to duplicate its own. This means that conflicting entries in follower logs will be overwritten with entries from the leader's log."
  const cs = confState([1, 2, 3]);
  const leaderLog = new MemoryStorage({ confState: cs, hardState: { term: 3, vote: 0, commit: 0 } });
  leaderLog.append(entries(1, [1, 1, 3]));
  const staleLog = new MemoryStorage({ confState: cs, hardState: { term: 2, vote: 0, commit: 0 } });
  staleLog.append(entries(1, [1, 2, 2, 2, 2]));
  // Without check-quorum: restarted nodes would otherwise hold back votes for an election timeout.
  const net = new Network({ voters: [1, 2, 3], config: () => ({ checkQuorum: false }) });
  net.start(1, leaderLog);
  net.start(2, staleLog);
  net.start(3, leaderLog.clone());
  net.elect(1);
  const terms = (id: number): number[] =>
    net
      .storage(id)
      .entries(1, net.storage(id).lastIndex() + 1, 1 << 20)
      .map((e) => e.term);
  assert.deepEqual(terms(1), [1, 1, 3, 4]);
  assert.deepEqual(terms(2), [1, 1, 3, 4]);
  assert.equal(net.node(2).status().commit, 4);
});

test('fast backtracking skips a whole conflicting term per round trip', () => {
  // §5.3: "when rejecting an AppendEntries request, the follower can include the term of the conflicting entry and the first index it stores for that term. With this information, the leader can decrement nextIndex to bypass all of the conflicting entries in that term"
  const cs = confState([1, 2, 3]);
  const leaderLog = new MemoryStorage({ confState: cs, hardState: { term: 5, vote: 0, commit: 0 } });
  leaderLog.append(entries(1, [1, ...Array<number>(50).fill(5)]));
  const staleLog = new MemoryStorage({ confState: cs, hardState: { term: 4, vote: 0, commit: 0 } });
  staleLog.append(entries(1, [1, ...Array<number>(100).fill(4)]));
  // Without check-quorum: restarted nodes would otherwise hold back votes for an election timeout.
  const net = new Network({ voters: [1, 2, 3], config: () => ({ checkQuorum: false }) });
  net.start(1, leaderLog);
  net.start(2, staleLog);
  net.start(3, leaderLog.clone());
  net.elect(1);
  const rejections = net.sent.filter((m) => m.type === 'appResp' && m.from === 2 && m.reject);
  assert.ok(rejections.length <= 2, `${rejections.length} rejections`);
  assert.equal(net.storage(2).lastIndex(), 52);
  assert.equal(net.storage(2).term(52), 6);
});

test('a leader never commits an entry from a previous term by counting replicas', () => {
  // §5.4.2: "Raft never commits log entries from previous terms by counting replicas. Only log entries from the leader's current term are committed by counting replicas"
  const cs = confState([1, 2, 3]);
  const solo = new Solo({
    voters: [1, 2, 3],
    storage: (() => {
      const s = new MemoryStorage({ confState: cs, hardState: { term: 2, vote: 0, commit: 0 } });
      s.append(entries(1, [1, 2]));
      return s;
    })(),
    config: { preVote: false },
  });
  solo.node.campaign();
  solo.round();
  solo.step({ type: 'voteResp', from: 2, term: 3 });
  assert.equal(solo.node.status().role, 'leader');
  solo.round();
  // Follower 2 acknowledges index 2 (term 2), but not the no-op at 3 (term 3).
  solo.step({ type: 'appResp', from: 2, term: 3, index: 2 });
  assert.equal(solo.node.status().commit, 0, 'index 2 is on a majority but of an older term');
  solo.step({ type: 'appResp', from: 2, term: 3, index: 3 });
  assert.equal(solo.node.status().commit, 3, 'committing the current-term entry commits the earlier ones');
});

test('append messages are capped by maxMsgSizeBytes and in flight by maxInflightMsgs', () => {
  // §5.3: "If followers crash or run slowly, or if network packets are lost, the leader retries AppendEntries RPCs indefinitely (even after it has responded to the client) until all followers eventually store all log entries."
  // Flotilla bounds the batch (maxMsgSizeBytes) and the window (maxInflightMsgs) of those retries.
  const net = new Network({ voters: [1, 2], config: () => ({ maxMsgSizeBytes: 100, maxInflightMsgs: 3 }) });
  net.elect(1);
  net.isolate(2); // follower 2 never answers: the window must fill and stop
  const readyMark = net.readies.get(1)?.length ?? 0;
  const blob = new Uint8Array(60);
  for (let i = 0; i < 20; i++) net.node(1).propose(blob);
  net.stabilize();
  // Isolation drops the messages, so count the leader's outbox through its Readys.
  const fromReadys = (net.readies.get(1) ?? [])
    .slice(readyMark)
    .flatMap((rd) => rd.messages)
    .filter((m) => m.type === 'app' && m.entries.length > 0);
  assert.equal(fromReadys.length, 3, 'window of 3 messages');
  for (const m of fromReadys)
    assert.ok(m.entries.length === 1, 'one 76-byte entry fits in 100 bytes, two do not');
  assert.equal(
    net
      .node(1)
      .status()
      .progress.find((p) => p.id === 2)?.inflightCount,
    3,
  );
  net.heal();
  net.tickAll(5);
  assert.equal(net.appliedData(2).length, 20);
});

test('proposals on a follower are forwarded to the leader, or refused with the leader hint', () => {
  // §5.1: "The leader handles all client requests (if a client contacts a follower, the follower redirects it to the leader)."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  assert.deepEqual(net.node(2).propose(bytes('fwd')), { ok: true });
  net.stabilize();
  assert.deepEqual(net.appliedData(3), ['fwd']);
  const strict = new Network({ voters: [1, 2, 3], config: () => ({ disableProposalForwarding: true }) });
  strict.elect(1);
  assert.deepEqual(strict.node(2).propose(bytes('x')), {
    ok: false,
    error: { kind: 'notLeader', leaderId: 1 },
  });
  const lonely = new Solo({ voters: [1, 2, 3] });
  assert.deepEqual(lonely.node.propose(bytes('x')), { ok: false, error: { kind: 'notLeader', leaderId: 0 } });
  lonely.node.campaign();
  assert.deepEqual(lonely.node.propose(bytes('x')), { ok: false, error: { kind: 'notLeader', leaderId: 0 } });
});

test('oversized entries and too much uncommitted data are refused', () => {
  // Not from the paper: Flotilla puts a limit on everything (STYLE.md), like etcd's MaxUncommittedEntriesSize; refusals are data (ProposalError).
  const net = new Network({
    voters: [1, 2, 3],
    config: () => ({ maxEntrySizeBytes: 100, maxUncommittedEntriesSizeBytes: 250 }),
  });
  net.elect(1);
  assert.deepEqual(net.node(1).propose(new Uint8Array(101)), {
    ok: false,
    error: { kind: 'entryTooLarge', sizeBytes: 101, maxSizeBytes: 100 },
  });
  assert.equal(net.node(2).propose(new Uint8Array(101)).ok, false, 'checked before forwarding too');
  net.isolate(2);
  net.isolate(3);
  assert.equal(net.node(1).propose(new Uint8Array(100)).ok, true);
  assert.equal(net.node(1).propose(new Uint8Array(100)).ok, true);
  assert.deepEqual(net.node(1).propose(new Uint8Array(100)), {
    ok: false,
    error: { kind: 'uncommittedSizeLimit', maxSizeBytes: 250 },
  });
  net.heal();
  net.tickAll(3);
  assert.equal(net.node(1).propose(new Uint8Array(100)).ok, true, 'room again once committed and applied');
});

test('Ready: committed entries are handed out only once persisted, capped per Ready, and mustSync is set', () => {
  // Figure 2: "Persistent state on all servers: (Updated on stable storage before responding to RPCs)" and "If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to state machine"
  const net = new Network({ voters: [1], config: () => ({ maxCommittedSizePerReadyBytes: 50 }) });
  net.elect(1);
  const node = net.node(1);
  node.propose(bytes('a'));
  node.propose(bytes('b'));
  const rd = node.ready();
  assert.equal(rd.entries.length, 2);
  assert.equal(rd.mustSync, true);
  assert.deepEqual(rd.committedEntries, [], 'committed on the leader alone, but not yet persisted');
  net.storage(1).append(rd.entries);
  node.advance();
  const next = node.ready();
  assert.equal(next.committedEntries.length, 2, 'two 17-byte entries fit in 50 bytes');
  assert.equal(next.mustSync, false);
  assert.deepEqual(next.entries, []);
  node.advance();
  assert.equal(node.hasReady(), false);
  for (let i = 0; i < 5; i++) node.propose(bytes('c'));
  net.processReady(1);
  const capped = node.ready();
  assert.equal(capped.committedEntries.length, 2, 'the 50-byte cap splits the batch');
  node.advance();
});

test('asyncApply: advance does not mark entries applied; reportApplied does', () => {
  // Figure 2: "lastApplied: index of highest log entry applied to state machine" — with asyncApply the application reports it.
  const net = new Network({ voters: [1], config: () => ({ asyncApply: true }) });
  net.elect(1);
  const node = net.node(1);
  node.propose(bytes('a'));
  net.processReady(1);
  net.processReady(1);
  assert.equal(node.status().applied, 0);
  assert.equal(node.hasReady(), false, 'entries handed out once are not handed out again');
  node.reportApplied(2);
  assert.equal(node.status().applied, 2);
  node.reportApplied(1); // stale reports are ignored
  assert.throws(() => node.reportApplied(5), RaftInvariantError);
  const sync = new Network({ voters: [1] });
  assert.throws(() => sync.node(1).reportApplied(0), RaftInvariantError);
});

test('heartbeats never tell a follower to commit past what it is known to store', () => {
  // §5.3: "The leader keeps track of the highest index it knows to be committed, and it includes that index in future AppendEntries RPCs (including heartbeats) so that the other servers eventually find out."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  net.heal();
  net.filter = (m: Message) => m.type !== 'app';
  net.node(1).tick();
  net.processReady(1);
  const hb = net.queue.find((m) => m.type === 'heartbeat' && m.to === 3);
  assert.equal(hb?.commit, 1, 'follower 3 only matched index 1');
  net.stabilize();
  net.heal();
  net.tickAll(2);
  assert.deepEqual(net.appliedData(3), ['a']);
});

test('reportUnreachable puts a replicating follower back into probe', () => {
  // §5.3: "the leader retries AppendEntries RPCs indefinitely (even after it has responded to the client) until all followers eventually store all log entries."
  const net = new Network({ voters: [1, 2] });
  net.elect(1);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  assert.equal(
    net
      .node(1)
      .status()
      .progress.find((p) => p.id === 2)?.state,
    'replicate',
  );
  net.node(1).reportUnreachable(2);
  assert.equal(
    net
      .node(1)
      .status()
      .progress.find((p) => p.id === 2)?.state,
    'probe',
  );
  net.tickAll(2);
  assert.equal(
    net
      .node(1)
      .status()
      .progress.find((p) => p.id === 2)?.state,
    'replicate',
  );
});

test('a restarted node keeps its log and catches up', () => {
  // Figure 2: "Persistent state on all servers: currentTerm, votedFor, log[]"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  net.restart(2);
  assert.equal(net.node(2).status().commit, 2);
  assert.equal(net.node(2).status().applied, 2);
  net.node(1).propose(bytes('b'));
  net.stabilize();
  assert.deepEqual(net.appliedData(2), ['a', 'b']);
});

test('a follower never truncates committed entries (log matching)', () => {
  // §5.3 Log Matching Property: "If two entries in different logs have the same index and term, then the logs are identical in all preceding entries."
  const storage = new MemoryStorage({
    confState: confState([1, 2, 3]),
    hardState: { term: 2, vote: 0, commit: 2 },
  });
  storage.append(entries(1, [1, 2, 2]));
  const solo = new Solo({ storage });
  // An append that would overwrite committed entry 2 is answered with the commit index instead.
  solo.step({ type: 'app', from: 2, term: 3, index: 1, logTerm: 1, entries: entries(2, [3]), commit: 2 });
  const answer = solo.messages().find((m) => m.type === 'appResp');
  assert.equal(answer?.index, 2);
  assert.equal(answer?.reject, false);
  assert.equal(solo.storage.term(2), 2);
  // An append that follows on after the commit point is accepted.
  solo.step({ type: 'app', from: 2, term: 3, index: 3, logTerm: 2, entries: entries(4, [3]), commit: 2 });
  solo.round();
  assert.equal(solo.storage.lastIndex(), 4);
});

test('Ready reports the soft state only when leader or role changed, and the hard state only when it changed', () => {
  // Figure 2: "Persistent state on all servers: (Updated on stable storage before responding to RPCs)" — only changes need writing (mustSync).
  const net = new Network({ voters: [1, 2, 3] });
  net.node(1).campaign();
  const first = net.node(1).ready();
  assert.deepEqual(first.softState, { leaderId: 0, role: 'preCandidate' });
  assert.equal(first.hardState, null, 'a pre-vote changes no persistent state');
  assert.equal(first.mustSync, false);
  net.queue.push(...first.messages);
  net.node(1).advance();
  net.stabilize();
  const leaderReadys = net.readies.get(1) ?? [];
  const softStates = leaderReadys.map((rd) => rd.softState).filter((s) => s !== null);
  assert.deepEqual(softStates.at(-1), { leaderId: 1, role: 'leader' });
  net.tickAll(1);
  const last = (net.readies.get(1) ?? []).at(-1);
  assert.equal(last?.softState, null);
  assert.equal(last?.hardState, null);
  assert.equal(last?.mustSync, false);
});

test('a malformed append from the network is refused loudly', () => {
  // §5.3 Log Matching: "If two entries in different logs have the same index and term, then the logs are identical in all preceding entries." Entries must follow on from prevLogIndex.
  const solo = new Solo({ voters: [1, 2, 3] });
  assert.throws(
    () => solo.step({ type: 'app', from: 2, term: 1, index: 0, logTerm: 0, entries: entries(2, [1]) }),
    RaftInvariantError,
  );
  assert.throws(
    () => solo.step({ type: 'app', from: 2, term: 1, index: 0, logTerm: 0, entries: entries(1, [2]) }),
    RaftInvariantError,
  );
  assert.throws(() => solo.step({ type: 'heartbeat', from: 2, term: 1, commit: -1 }), RaftInvariantError);
  assert.equal(solo.node.status().lastIndex, 0);
});
