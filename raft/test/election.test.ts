// Leader election (Raft paper §5.2, §5.4.1; Ongaro thesis §3.4, §4.2.3, §6.2, §9.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftInvariantError } from '../src/index.js';
import { Network, confState } from './helpers/network.js';
import { Solo, entries } from './helpers/node.js';

test('a follower that hears nothing for its randomized election timeout starts an election', () => {
  // §5.2: "If a follower receives no communication over a period of time called the election timeout, then it assumes there is no viable leader and begins an election to choose a new leader."
  // §5.2: "election timeouts are chosen randomly from a fixed interval" — here [electionTimeoutTicks, 2 * electionTimeoutTicks).
  const elapsed: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const solo = new Solo({
      voters: [1, 2, 3],
      config: {
        random: new (class {
          private s = seed;
          nextInt(bound: number): number {
            this.s = (this.s * 48271) % 2147483647;
            return this.s % bound;
          }
        })(),
      },
    });
    let ticks = 0;
    while (solo.node.status().role === 'follower' && ticks < 100) {
      solo.node.tick();
      ticks++;
    }
    assert.equal(solo.node.status().role, 'preCandidate');
    elapsed.push(ticks);
  }
  assert.ok(
    elapsed.every((t) => t >= 10 && t < 20),
    `timeouts ${elapsed.join(',')}`,
  );
  assert.ok(new Set(elapsed).size > 3, 'timeouts are spread');
});

test('a candidate that wins votes from a majority becomes leader and appends a no-op entry', () => {
  // §5.2: "A candidate wins an election if it receives votes from a majority of the servers in the full cluster for the same term."
  // §8: "each leader commit a blank no-op entry into the log at the start of its term"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  const status = net.node(1).status();
  assert.equal(status.role, 'leader');
  assert.equal(status.term, 1);
  assert.equal(status.commit, 1);
  assert.equal(net.storage(2).term(1), 1);
  assert.equal(net.node(2).status().leaderId, 1);
  assert.equal(net.node(3).status().leaderId, 1);
});

test('a single-node group elects itself at once', () => {
  // §5.2: "A candidate wins an election if it receives votes from a majority of the servers in the full cluster for the same term." In a one-node group its own vote is that majority.
  const net = new Network({ voters: [1] });
  net.elect(1);
  assert.equal(net.node(1).status().commit, 1);
});

test('each server votes for at most one candidate per term, first come first served, and persists it before answering', () => {
  // §5.2: "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis"
  // Figure 2: "Persistent state on all servers: (Updated on stable storage before responding to RPCs)"
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false, checkQuorum: false } });
  solo.step({ type: 'vote', from: 2, term: 5, index: 0, logTerm: 0 });
  solo.step({ type: 'vote', from: 3, term: 5, index: 0, logTerm: 0 });
  const rd = solo.round();
  assert.deepEqual(rd.hardState, { term: 5, vote: 2, commit: 0 });
  assert.equal(rd.mustSync, true);
  const answers = rd.messages.map((m) => [m.to, m.type, m.reject]);
  assert.deepEqual(answers, [
    [2, 'voteResp', false],
    [3, 'voteResp', true],
  ]);
  // A repeated request from the same candidate is granted again (idempotent).
  solo.step({ type: 'vote', from: 2, term: 5, index: 0, logTerm: 0 });
  assert.equal(solo.messages()[0]?.reject, false);
});

test('the vote survives a restart: no second vote in the same term', () => {
  // Figure 2: "votedFor: candidateId that received vote in current term" is persistent state.
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false, checkQuorum: false } });
  solo.step({ type: 'vote', from: 2, term: 5, index: 0, logTerm: 0 });
  solo.round();
  const restarted = new Solo({
    storage: solo.storage.clone(),
    config: { preVote: false, checkQuorum: false },
  });
  assert.equal(restarted.node.status().vote, 2);
  restarted.step({ type: 'vote', from: 3, term: 5, index: 0, logTerm: 0 });
  assert.equal(restarted.messages()[0]?.reject, true);
});

test('a voter denies its vote to a candidate whose log is less up to date', () => {
  // §5.4.1: "The voter denies its vote if its own log is more up-to-date than that of the candidate."
  // §5.4.1: "If the logs have last entries with different terms, then the log with the later term is more up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date."
  const storage = new MemoryStorage({
    confState: confState([1, 2, 3]),
    hardState: { term: 3, vote: 0, commit: 0 },
  });
  storage.append(entries(1, [1, 3, 3]));
  const cases: [number, number, boolean][] = [
    [3, 2, true], // lower last term
    [2, 3, true], // same term, shorter
    [3, 3, false], // same
    [1, 4, false], // later term
  ];
  for (const [index, logTerm, reject] of cases) {
    const solo = new Solo({ storage: storage.clone(), config: { preVote: false, checkQuorum: false } });
    solo.step({ type: 'vote', from: 2, term: 4, index, logTerm });
    assert.equal(solo.messages()[0]?.reject, reject, `candidate log (${index}, ${logTerm})`);
  }
});

test('a server that sees a higher term adopts it and reverts to follower; stale-term requests are rejected', () => {
  // §5.1: "If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state. If a server receives a request with a stale term number, it rejects the request."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(1);
  for (let i = 0; i < 40; i++) {
    net.tick(2);
    net.tick(3);
    net.stabilize();
  }
  const newLeader = net.node(2).status().role === 'leader' ? 2 : 3;
  assert.equal(net.node(newLeader).status().role, 'leader');
  assert.equal(net.node(1).status().role, 'leader', 'the isolated old leader has not noticed yet');
  net.heal();
  net.tickAll(1); // the old leader's heartbeat reaches a node of a newer term
  assert.equal(net.node(1).status().role, 'follower');
  assert.equal(net.node(1).status().term, net.node(2).status().term);
  assert.equal(net.node(1).status().leaderId, newLeader);
  // A stale vote request is answered with a rejection (pre-vote) or ignored (vote).
  const solo = new Solo({
    voters: [1, 2, 3],
    storage: new MemoryStorage({
      confState: confState([1, 2, 3]),
      hardState: { term: 7, vote: 0, commit: 0 },
    }),
  });
  solo.step({ type: 'preVote', from: 2, term: 3 });
  solo.step({ type: 'vote', from: 2, term: 3 });
  const out = solo.messages();
  assert.deepEqual(
    out.map((m) => [m.type, m.term, m.reject]),
    [['preVoteResp', 7, true]],
  );
});

test('a candidate that learns of a leader of its term returns to follower', () => {
  // §5.2: "If the leader's term (included in its RPC) is at least as large as the candidate's current term, then the candidate recognizes the leader as legitimate and returns to follower state."
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false } });
  solo.node.campaign();
  assert.equal(solo.node.status().role, 'candidate');
  solo.round();
  solo.step({ type: 'heartbeat', from: 2, term: 1, commit: 0 });
  assert.equal(solo.node.status().role, 'follower');
  assert.equal(solo.node.status().leaderId, 2);
});

test('a candidate rejected by a majority goes back to follower', () => {
  // §5.2: "a candidate continues in this state until one of three things happens: (a) it wins the election, (b) another server establishes itself as leader, or (c) a period of time goes by with no winner."
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false } });
  solo.node.campaign();
  solo.round();
  solo.step({ type: 'voteResp', from: 2, term: 1, reject: true });
  assert.equal(solo.node.status().role, 'candidate');
  solo.step({ type: 'voteResp', from: 3, term: 1, reject: true });
  assert.equal(solo.node.status().role, 'follower');
  assert.equal(solo.node.status().term, 1);
});

test('pre-vote: a partitioned node does not bump its term and does not disrupt the leader when it returns', () => {
  // Thesis §9.6: "In the Pre-Vote algorithm, a candidate only increments its term if it first learns from a majority of the cluster that they would be willing to grant the candidate their votes"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  const term = net.node(1).status().term;
  net.isolate(3);
  net.tickAll(100);
  assert.equal(net.node(3).status().term, term, 'no term inflation while partitioned');
  assert.equal(net.node(3).status().role, 'preCandidate');
  net.heal();
  net.tickAll(5);
  assert.equal(net.node(1).status().role, 'leader');
  assert.equal(net.node(1).status().term, term);
  assert.equal(net.node(3).status().leaderId, 1);
});

test('pre-vote: granted only to an up-to-date log by a node that has not heard from a leader within the election timeout', () => {
  // Thesis §9.6: a pre-vote is granted "if the candidate's log is sufficiently up-to-date, and the voters have not received heartbeats from a valid leader for at least a baseline election timeout"
  const solo = new Solo({ voters: [1, 2, 3] });
  solo.step({ type: 'heartbeat', from: 2, term: 1 });
  solo.round();
  solo.step({ type: 'preVote', from: 3, term: 2, index: 0, logTerm: 0 });
  assert.deepEqual(solo.messages(), [], 'ignored within the lease');
  for (let i = 0; i < 10; i++) solo.node.tick();
  solo.step({ type: 'preVote', from: 3, term: 2, index: 0, logTerm: 0 });
  const granted = solo.messages().find((m) => m.type === 'preVoteResp');
  assert.equal(granted?.reject, false);
  assert.equal(granted?.term, 2);
  assert.equal(solo.node.status().term, 1, 'granting a pre-vote does not change our term');
  assert.equal(solo.node.status().vote, 0);
});

test('pre-vote: a pre-candidate that wins becomes a candidate in the next term, then leader', () => {
  // Thesis §9.6: "a candidate only increments its term if it first learns from a majority of the cluster that they would be willing to grant the candidate their votes"
  const solo = new Solo({ voters: [1, 2, 3] });
  solo.node.campaign();
  assert.equal(solo.node.status().role, 'preCandidate');
  assert.equal(solo.node.status().term, 0);
  const preVotes = solo.messages().filter((m) => m.type === 'preVote');
  assert.deepEqual(
    preVotes.map((m) => [m.to, m.term]),
    [
      [2, 1],
      [3, 1],
    ],
  );
  solo.step({ type: 'preVoteResp', from: 2, term: 1 });
  assert.equal(solo.node.status().role, 'candidate');
  assert.equal(solo.node.status().term, 1);
  solo.round();
  solo.step({ type: 'voteResp', from: 3, term: 1 });
  assert.equal(solo.node.status().role, 'leader');
  // A pre-vote rejection carrying a higher term makes the pre-candidate adopt it.
  const other = new Solo({ voters: [1, 2, 3] });
  other.node.campaign();
  other.step({ type: 'preVoteResp', from: 2, term: 9, reject: true });
  assert.equal(other.node.status().role, 'follower');
  assert.equal(other.node.status().term, 9);
});

test('check-quorum: a leader that hears from no quorum within an election timeout steps down', () => {
  // Thesis §6.2: "a leader steps down if an election timeout elapses without a successful round of heartbeats to a majority of its cluster"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(1);
  for (let i = 0; i < 9; i++) net.node(1).tick();
  assert.equal(net.node(1).status().role, 'leader');
  for (let i = 0; i < 11; i++) net.node(1).tick();
  assert.equal(net.node(1).status().role, 'follower');
  assert.equal(net.node(1).status().leaderId, 0);
});

test('check-quorum: a follower that heard from a live leader ignores vote requests', () => {
  // §6: "if a server receives a RequestVote RPC within the minimum election timeout of hearing from a current leader, it does not update its term or grant its vote."
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false } });
  solo.step({ type: 'app', from: 2, term: 1, index: 0, logTerm: 0 });
  solo.round();
  solo.step({ type: 'vote', from: 3, term: 2, index: 5, logTerm: 5 });
  assert.deepEqual(solo.messages(), []);
  assert.equal(solo.node.status().term, 1);
  // Without check-quorum the vote is granted.
  const open = new Solo({ voters: [1, 2, 3], config: { preVote: false, checkQuorum: false } });
  open.step({ type: 'app', from: 2, term: 1, index: 0, logTerm: 0 });
  open.round();
  open.step({ type: 'vote', from: 3, term: 2, index: 5, logTerm: 5 });
  assert.equal(open.messages()[0]?.reject, false);
});

test('learners never campaign and are not counted in elections', () => {
  // §6: new servers "join the cluster as non-voting members (the leader replicates log entries to them, but they are not considered for majorities)"
  const net = new Network({ voters: [1, 2], learners: [3] });
  net.tick(3, 100);
  assert.equal(net.node(3).status().role, 'follower');
  net.node(3).campaign();
  assert.equal(net.node(3).status().role, 'follower');
  net.elect(1);
  assert.deepEqual(
    net.sentOfType('preVote').map((m) => m.to),
    [2],
  );
});

test('a stale leader that is told of a newer term steps down', () => {
  // §5.1: "If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state."
  const solo = new Solo({ voters: [1, 2, 3] });
  solo.node.campaign();
  solo.step({ type: 'preVoteResp', from: 2, term: 1 });
  solo.step({ type: 'voteResp', from: 2, term: 1 });
  assert.equal(solo.node.status().role, 'leader');
  solo.round();
  solo.step({ type: 'appResp', from: 3, term: 4, index: 0 });
  assert.equal(solo.node.status().role, 'follower');
  assert.equal(solo.node.status().term, 4);
});

test('a follower answers a stale leader so that it learns the newer term', () => {
  // §5.1: "If one server's current term is smaller than the other's, then it updates its current term to the larger value."
  const solo = new Solo({
    voters: [1, 2, 3],
    storage: new MemoryStorage({
      confState: confState([1, 2, 3]),
      hardState: { term: 5, vote: 0, commit: 0 },
    }),
  });
  solo.step({ type: 'heartbeat', from: 2, term: 3 });
  const out = solo.messages();
  assert.deepEqual(
    out.map((m) => [m.type, m.to, m.term]),
    [['appResp', 2, 5]],
  );
});

test('step refuses local-only messages and ignores messages from nodes outside the config', () => {
  // §6: "removed servers (those not in C_new) can disrupt the cluster" — Flotilla ignores their messages (leader-only kinds excepted, see RawNode.step).
  const solo = new Solo({ voters: [1, 2, 3], config: { preVote: false, checkQuorum: false } });
  for (const type of ['hup', 'beat', 'unreachable', 'snapStatus', 'checkQuorum'] as const) {
    assert.throws(() => solo.step({ type, from: 2 }), RaftInvariantError);
  }
  solo.step({ type: 'vote', from: 9, term: 5, index: 9, logTerm: 9 });
  assert.deepEqual(solo.messages(), []);
  assert.equal(solo.node.status().term, 0);
  // Misaddressed messages are ignored too.
  solo.step({ type: 'vote', from: 2, to: 3, term: 5 });
  assert.equal(solo.node.status().term, 0);
});

test('elections are deterministic for a seed', () => {
  // §5.2: "Raft uses randomized election timeouts to ensure that split votes are rare and that they are resolved quickly." Our randomness is seeded, so runs replay.
  const run = (): string => {
    const net = new Network({ voters: [1, 2, 3, 4, 5], seed: 11 });
    net.tickAll(40);
    return JSON.stringify([...net.nodes.values()].map((n) => [n.status().role, n.status().term]));
  };
  assert.equal(run(), run());
  const net = new Network({ voters: [1, 2, 3, 4, 5], seed: 11 });
  net.tickAll(40);
  const leaders = [...net.nodes.values()].filter((n) => n.status().role === 'leader');
  assert.equal(leaders.length, 1);
});

test('a restarted node stays quiet for one election timeout, unless the host says its state was never led', () => {
  // Thesis §4.2.3: servers that "believe a current leader exists" disregard RequestVote; a
  // node that acknowledged a heartbeat just before a crash must keep honouring that lease.
  const first = new Solo({ voters: [1, 2, 3] });
  first.step({ type: 'heartbeat', from: 2, term: 5 });
  first.round();
  const quiet = new Solo({ storage: first.storage.clone() });
  quiet.step({ type: 'preVote', from: 3, term: 6, index: 0, logTerm: 0 });
  assert.deepEqual(quiet.messages(), [], 'ignored right after the restart');
  const pristine = new Solo({ storage: first.storage.clone(), config: { quietOnRestart: false } });
  pristine.step({ type: 'preVote', from: 3, term: 6, index: 0, logTerm: 0 });
  assert.equal(pristine.messages().find((m) => m.type === 'preVoteResp')?.reject, false);
});
