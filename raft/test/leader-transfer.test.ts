// Leadership transfer (Ongaro thesis §3.10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTransferCampaign } from '../src/message.js';
import { Network, bytes } from './helpers/network.js';

test('the leader hands over to an up-to-date follower with timeoutNow', () => {
  // Thesis §3.10: "the prior leader sends a TimeoutNow request to the target server. This request has the same effect as the target server's election timer firing: the target server starts a new election"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  const term = net.node(1).status().term;
  const mark = net.sent.length;
  net.node(1).transferLeader(2);
  net.stabilize();
  assert.equal(net.node(2).status().role, 'leader');
  assert.equal(net.node(2).status().term, term + 1);
  assert.equal(net.node(1).status().role, 'follower');
  assert.equal(net.node(1).status().leaderId, 2);
  const after = net.sent.slice(mark);
  assert.equal(after.filter((m) => m.type === 'timeoutNow').length, 1);
  assert.equal(after.filter((m) => m.type === 'preVote').length, 0, 'the transferee skips pre-vote');
  const votes = after.filter((m) => m.type === 'vote');
  assert.ok(
    votes.length > 0 && votes.every((m) => isTransferCampaign(m.context)),
    'votes are marked as a transfer',
  );
});

test('the transferee bypasses the lease of voters that just heard from the leader', () => {
  // Thesis §3.10 (paraphrased): TimeoutNow makes the target start an election at once; its vote requests are marked so that voters who recently heard from the leader still answer them.
  const net = new Network({ voters: [1, 2, 3], config: () => ({ preVote: false }) });
  net.elect(1);
  net.tickAll(1); // followers heard from the leader: they are within their lease
  net.node(1).transferLeader(3);
  net.stabilize();
  assert.equal(net.node(3).status().role, 'leader');
});

test('while transferring, the leader refuses proposals', () => {
  // Thesis §3.10: "the prior leader stops accepting new client requests"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes('x'));
  net.stabilize();
  net.node(1).transferLeader(3);
  assert.deepEqual(net.node(1).propose(bytes('y')), {
    ok: false,
    error: { kind: 'leaderTransferring', transfereeId: 3 },
  });
  assert.deepEqual(net.node(1).status().leadTransferee, 3);
});

test('a lagging transferee is caught up first, then told to time out', () => {
  // Thesis §3.10: "The prior leader fully updates the target server's log to match its own, using the normal log replication mechanism" and then "sends a TimeoutNow request to the target server"
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  for (const w of ['a', 'b', 'c']) net.node(1).propose(bytes(w));
  net.stabilize();
  net.heal();
  net.node(1).transferLeader(3);
  net.stabilize();
  assert.equal(net.node(3).status().role, 'leader');
  assert.deepEqual(net.appliedData(3), ['a', 'b', 'c']);
});

test('a transfer that does not complete within an election timeout is aborted', () => {
  // Thesis §3.10: "If the transfer does not complete within an election timeout, the prior leader aborts the transfer and resumes accepting client requests."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes('x'));
  net.stabilize();
  net.node(1).transferLeader(3);
  for (let i = 0; i < 9; i++) net.node(1).tick();
  assert.equal(net.node(1).status().leadTransferee, 3);
  net.stabilize();
  for (let i = 0; i < 2; i++) net.node(1).tick();
  assert.equal(net.node(1).status().leadTransferee, 0);
  assert.equal(net.node(1).status().role, 'leader');
  assert.deepEqual(net.node(1).propose(bytes('y')), { ok: true });
});

test('a transfer to a learner, an unknown node or the leader itself is ignored', () => {
  // Thesis §3.10 (paraphrased): leadership is transferred to another server of the cluster that can become leader; a learner never campaigns (§6: non-voting members "are not considered for majorities").
  const net = new Network({ voters: [1, 2], learners: [3] });
  net.elect(1);
  for (const target of [3, 9, 1]) {
    net.node(1).transferLeader(target);
    assert.equal(net.node(1).status().leadTransferee, 0, `target ${target}`);
  }
  net.stabilize();
  assert.equal(net.node(1).status().role, 'leader');
});

test('a transfer asked of a follower is forwarded to the leader', () => {
  // §5.1: "The leader handles all client requests (if a client contacts a follower, the follower redirects it to the leader)."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.node(3).transferLeader(2);
  net.stabilize();
  assert.equal(net.node(2).status().role, 'leader');
});

test('a second transfer replaces the first; repeating the same one changes nothing', () => {
  // Thesis §3.10 (paraphrased): the prior leader transfers to one target at a time; a new request aborts the pending one.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  net.node(1).propose(bytes('x'));
  net.stabilize();
  net.node(1).transferLeader(2);
  net.node(1).transferLeader(2);
  assert.equal(net.node(1).status().leadTransferee, 2);
  net.node(1).transferLeader(3);
  assert.equal(net.node(1).status().leadTransferee, 3);
  net.heal();
  net.stabilize();
  assert.equal(net.node(3).status().role, 'leader');
});

test('a stale timeoutNow, from a transfer that was aborted, does not depose the leader', () => {
  // Thesis §3.10: "If the transfer does not complete within an election timeout, the prior leader aborts the transfer and resumes accepting client requests." A timeoutNow delivered after that must not start an election.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.filter = (m) => m.type !== 'timeoutNow';
  net.node(1).transferLeader(2);
  net.stabilize();
  // The filter drops it on the way out; the leader's Readys still show what it sent.
  const held = (net.readies.get(1) ?? []).flatMap((rd) => rd.messages).find((m) => m.type === 'timeoutNow');
  assert.ok(held !== undefined, 'the timeoutNow was sent (and held back)');
  net.filter = null;
  net.tickAll(11); // the transfer is aborted
  assert.equal(net.node(1).status().leadTransferee, 0);
  net.node(1).propose(bytes('after abort'));
  net.stabilize();
  const term = net.node(1).status().term;
  net.node(2).step(held);
  net.stabilize();
  assert.equal(net.node(1).status().role, 'leader');
  assert.equal(net.node(1).status().term, term);
  assert.equal(net.node(2).status().role, 'follower');
});
