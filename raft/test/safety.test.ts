// Safety properties under a hostile network (Raft paper §5.2-§5.4, Figure 3): seeded random
// partitions, drops, duplicates, reordering and crashes, with the properties checked throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../src/index.js';
import type { Entry, Message, NodeId } from '../src/index.js';
import { Network, bytes } from './helpers/network.js';

const IDS: NodeId[] = [1, 2, 3, 4, 5];

interface Observed {
  /** term -> the leader seen in it */
  leaders: Map<number, NodeId>;
  /** index -> the entry applied there (by anyone) */
  applied: Map<number, Entry>;
}

function observe(net: Network, seen: Observed): void {
  for (const [id, node] of net.nodes) {
    const s = node.status();
    if (s.role === 'leader') {
      const other = seen.leaders.get(s.term);
      // §5.2 Election Safety: "at most one leader can be elected in a given term"
      assert.ok(other === undefined || other === id, `two leaders in term ${s.term}: ${other} and ${id}`);
      seen.leaders.set(s.term, id);
    }
    for (const e of net.applied.get(id) ?? []) {
      const first = seen.applied.get(e.index);
      // Figure 3, State Machine Safety: "if a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index"
      if (first === undefined) seen.applied.set(e.index, e);
      else
        assert.ok(
          first.term === e.term && Buffer.from(first.data).equals(Buffer.from(e.data)),
          `divergent apply at ${e.index}`,
        );
    }
  }
}

function deliverChaotically(net: Network, rng: SeededRandom): void {
  const batch: Message[] = net.queue;
  net.queue = [];
  // Reorder (Fisher-Yates), drop 10%, duplicate 5%.
  for (let i = batch.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [batch[i], batch[j]] = [batch[j] as Message, batch[i] as Message];
  }
  for (const m of batch) {
    const roll = rng.nextInt(100);
    if (roll < 10) continue;
    net.nodes.get(m.to)?.step(m);
    if (roll >= 95) net.nodes.get(m.to)?.step(m);
  }
}

function checkLogMatching(net: Network): void {
  // §5.3 Log Matching: "If two entries in different logs have the same index and term, then the logs are identical in all preceding entries."
  const logs = IDS.map((id) => {
    const s = net.storage(id);
    return new Map(
      s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER).map((e) => [e.index, e]),
    );
  });
  for (const a of logs) {
    for (const b of logs) {
      let matched = false;
      const top = Math.max(...a.keys(), 0);
      for (let i = top; i >= 1; i--) {
        const ea = a.get(i);
        const eb = b.get(i);
        if (ea === undefined || eb === undefined) continue;
        if (matched) assert.equal(ea.term, eb.term, `logs match at a later index but differ at ${i}`);
        else if (ea.term === eb.term) matched = true;
      }
    }
  }
}

function runChaos(seed: number, ticks: number): { commits: number } {
  const rng = new SeededRandom(seed);
  const net = new Network({ voters: IDS, seed });
  const seen: Observed = { leaders: new Map(), applied: new Map() };
  let proposals = 0;
  for (let t = 0; t < ticks; t++) {
    const roll = rng.nextInt(100);
    if (roll < 3) net.isolate(IDS[rng.nextInt(IDS.length)] as NodeId);
    else if (roll < 6) net.heal();
    else if (roll < 8) net.restart(IDS[rng.nextInt(IDS.length)] as NodeId);
    for (const node of net.nodes.values()) node.tick();
    const leader = net.leader();
    if (leader !== null && rng.nextInt(2) === 0) {
      net.node(leader).propose(bytes(`p${proposals++}`));
    }
    if (rng.nextInt(10) === 0)
      net
        .node(IDS[rng.nextInt(IDS.length)] as NodeId)
        .readIndex(bytes(`r${t}`), rng.nextInt(2) === 0 ? 'safe' : 'lease');
    for (let round = 0; round < 3; round++) {
      for (const id of IDS) net.processReady(id);
      deliverChaotically(net, rng);
    }
    observe(net, seen);
  }
  net.heal();
  net.tickAll(60);
  observe(net, seen);
  checkLogMatching(net);
  return { commits: seen.applied.size };
}

test('election safety, state machine safety and log matching hold under partitions, loss, reordering and crashes', () => {
  let commits = 0;
  for (let seed = 1; seed <= 12; seed++) commits += runChaos(seed, 250).commits;
  assert.ok(commits > 100, `the cluster made progress (${commits} entries applied)`);
});

test('after the faults stop, every node converges to the same applied log', () => {
  // §5.3: "With this mechanism, a leader does not need to take any special actions to restore log consistency when it comes to power."
  const rng = new SeededRandom(99);
  const net = new Network({ voters: IDS, seed: 99 });
  for (let t = 0; t < 200; t++) {
    if (rng.nextInt(20) === 0) net.isolate(IDS[rng.nextInt(IDS.length)] as NodeId);
    if (rng.nextInt(20) === 0) net.heal();
    for (const node of net.nodes.values()) node.tick();
    const leader = net.leader();
    if (leader !== null) net.node(leader).propose(bytes(`v${t}`));
    for (const id of IDS) net.processReady(id);
    deliverChaotically(net, rng);
  }
  net.heal();
  net.tickAll(80);
  const reference = net.appliedData(1);
  assert.ok(reference.length > 50);
  for (const id of IDS) assert.deepEqual(net.appliedData(id), reference, `node ${id}`);
});
