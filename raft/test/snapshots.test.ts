// Log compaction and InstallSnapshot (Raft paper §7; Ongaro thesis §5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, StorageError } from '../src/index.js';
import type { NodeId, Snapshot } from '../src/index.js';
import { Network, bytes, confState } from './helpers/network.js';
import { Solo, entries } from './helpers/node.js';

function compact(net: Network, id: NodeId): Snapshot {
  const status = net.node(id).status();
  const snap = net
    .storage(id)
    .createSnapshot(status.applied, status.confState, bytes(`state@${status.applied}`));
  net.storage(id).compact(status.applied);
  return snap;
}

function progressOf(net: Network, leader: NodeId, id: NodeId) {
  return net
    .node(leader)
    .status()
    .progress.find((p) => p.id === id);
}

test('a follower that needs compacted entries is sent the snapshot and installs it through Ready', () => {
  // §7: "the leader must occasionally send snapshots to followers that lag behind. This happens when the leader has already discarded the next log entry that it needs to send to a follower."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  for (const w of ['a', 'b', 'c']) net.node(1).propose(bytes(w));
  net.stabilize();
  const snap = compact(net, 1);
  net.heal();
  net.tickAll(3);
  const installs = (net.readies.get(3) ?? []).filter((rd) => rd.snapshot !== null);
  assert.equal(installs.length, 1);
  assert.equal(installs[0]?.snapshot?.metadata.index, snap.metadata.index);
  assert.deepEqual(installs[0]?.snapshot?.data, bytes('state@4'));
  assert.equal(net.storage(3).firstIndex(), 5);
  assert.equal(net.node(3).status().applied, 4);
  assert.equal(progressOf(net, 1, 3)?.state, 'replicate', 'the snapshot ack moves it back to replicate');
  net.node(1).propose(bytes('d'));
  net.stabilize();
  assert.deepEqual(net.appliedData(3), ['d']);
});

test('a follower restores the membership from the snapshot', () => {
  // §7: the snapshot includes "the latest configuration as of the last included index".
  const storage = new MemoryStorage();
  const solo = new Solo({ id: 4, storage, voters: [] });
  const snapshot: Snapshot = {
    metadata: { index: 10, term: 2, confState: confState([1, 2, 3], [4]) },
    data: bytes('s'),
  };
  solo.step({ type: 'snap', from: 1, term: 2, snapshot });
  const rd = solo.round();
  assert.equal(rd.snapshot?.metadata.index, 10);
  assert.equal(rd.hardState?.commit, 10);
  assert.equal(rd.mustSync, true);
  const status = solo.node.status();
  assert.deepEqual(status.confState.voters, [1, 2, 3]);
  assert.deepEqual(status.confState.learners, [4]);
  assert.equal(status.lastIndex, 10);
  assert.equal(status.applied, 10);
  assert.deepEqual(
    rd.messages.map((m) => [m.type, m.index]),
    [['appResp', 10]],
  );
});

test('a snapshot older than the commit index or already covered by the log is not installed', () => {
  // §7: "If the follower receives a snapshot that describes a prefix of its log ... entries covered by the snapshot are deleted but entries following the snapshot are still valid and must be retained."
  const storage = new MemoryStorage({
    confState: confState([1, 2, 3]),
    hardState: { term: 2, vote: 0, commit: 3 },
  });
  storage.append(entries(1, [1, 1, 2, 2, 2]));
  const solo = new Solo({ storage });
  const old: Snapshot = { metadata: { index: 2, term: 1, confState: confState([1, 2, 3]) }, data: bytes('') };
  solo.step({ type: 'snap', from: 2, term: 2, snapshot: old });
  const covered: Snapshot = {
    metadata: { index: 4, term: 2, confState: confState([1, 2, 3]) },
    data: bytes(''),
  };
  solo.step({ type: 'snap', from: 2, term: 2, snapshot: covered });
  const rd = solo.round();
  assert.equal(rd.snapshot, null);
  assert.deepEqual(
    rd.messages.map((m) => m.index),
    [3, 4],
  );
  assert.equal(solo.node.status().commit, 4, 'the covered snapshot fast-forwards the commit');
  assert.equal(solo.node.status().lastIndex, 5, 'entries after it are kept');
  const notMine: Snapshot = {
    metadata: { index: 9, term: 2, confState: confState([5, 6, 7]) },
    data: bytes(''),
  };
  solo.step({ type: 'snap', from: 2, term: 2, snapshot: notMine });
  assert.equal(solo.round().snapshot, null, 'a snapshot whose config does not include us is ignored');
});

test('while the snapshot is temporarily unavailable the follower stays in probe and the leader retries', () => {
  // §7: "the leader must occasionally send snapshots to followers that lag behind" — when one is not ready yet, the leader keeps probing and retries.
  class SlowStorage extends MemoryStorage {
    busy = true;
    override snapshot(): Snapshot {
      if (this.busy) throw new StorageError('snapshotTemporarilyUnavailable', 'generating');
      return super.snapshot();
    }
  }
  const cs = confState([1, 2, 3]);
  const net = new Network({ voters: [1, 2, 3] });
  const slow = new SlowStorage({ confState: cs });
  net.start(1, slow);
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  const status = net.node(1).status();
  slow.createSnapshot(status.applied, status.confState, bytes('s'));
  slow.compact(status.applied);
  net.heal();
  net.tickAll(3);
  assert.equal(progressOf(net, 1, 3)?.state, 'probe');
  assert.equal(net.sentOfType('snap').length, 0);
  slow.busy = false;
  net.tickAll(3);
  assert.equal(net.sentOfType('snap').length, 1);
  assert.equal(net.node(3).status().commit, status.applied);
});

test('reportSnapshot moves the progress out of snapshot state: after success past the snapshot, after failure back to probing', () => {
  // §7: "the leader must occasionally send snapshots to followers that lag behind" — the transport reports the outcome of each send.
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  compact(net, 1);
  net.heal();
  net.filter = (m) => m.type !== 'snap'; // the snapshot is lost in transit
  net.tickAll(1);
  assert.equal(progressOf(net, 1, 3)?.state, 'snapshot');
  assert.equal(progressOf(net, 1, 3)?.pendingSnapshot, 2);
  net.node(1).reportSnapshot(3, false);
  assert.equal(progressOf(net, 1, 3)?.state, 'probe');
  assert.equal(progressOf(net, 1, 3)?.next, 2);
  net.heal();
  net.tickAll(3);
  assert.equal(net.node(3).status().commit, 2);
  net.node(1).reportSnapshot(3, true); // not in snapshot state: ignored
  assert.equal(progressOf(net, 1, 3)?.state, 'replicate');
  // Success path: next continues after the snapshot.
  net.isolate(2);
  net.node(1).propose(bytes('b'));
  net.stabilize();
  compact(net, 1);
  net.heal();
  net.filter = (m) => m.type !== 'snap' || m.to !== 2;
  net.tickAll(1);
  assert.equal(progressOf(net, 1, 2)?.state, 'snapshot');
  net.node(1).reportSnapshot(2, true);
  assert.equal(progressOf(net, 1, 2)?.state, 'probe');
  assert.equal(progressOf(net, 1, 2)?.next, 4);
});

test('a node restarted from a snapshot resumes at the snapshot index', () => {
  // §7: "Each server takes snapshots independently, covering just the committed entries in its log."
  const net = new Network({ voters: [1, 2, 3] });
  net.elect(1);
  for (const w of ['a', 'b']) net.node(1).propose(bytes(w));
  net.stabilize();
  compact(net, 2);
  net.restart(2);
  const status = net.node(2).status();
  assert.equal(status.applied, 3);
  assert.equal(status.commit, 3);
  assert.equal(net.storage(2).firstIndex(), 4);
  net.node(1).propose(bytes('c'));
  net.stabilize();
  assert.deepEqual(net.appliedData(2), ['a', 'b', 'c']);
});
