// Log replication (Raft paper §5.3, §7): the leader's side (appends, snapshots, heartbeats
// and the handling of their responses) and the follower's side (accepting appends,
// heartbeats and snapshots). Functions of the Raft state machine, kept apart for size.
import type { Entry, Message, NodeId, Snapshot } from './types.js';
import { StorageError } from './storage.js';
import type { Progress } from './progress.js';
import { restoreConfig } from './conf-change.js';
import { decodeHeartbeatContext, encodeHeartbeatContext } from './read-only.js';
import { recordReadAck } from './raft-reads.js';
import { assert } from './invariants.js';
import type { Raft } from './raft.js';

/** Sends an append (or a snapshot) to `to` if its progress allows; returns whether anything was sent. */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.tracker.progress.get(to);
  if (pr === undefined || to === r.id || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  let prevTerm: number;
  let entries: Entry[];
  try {
    prevTerm = r.log.term(prevIndex);
    entries = r.log.entriesFrom(pr.next, r.cfg.maxMsgSizeBytes);
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'compacted') return maybeSendSnapshot(r, to, pr);
    throw err;
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed });
  pr.sentEntries(entries.length, prevIndex + entries.length);
  return true;
}

export function sendAppend(r: Raft, to: NodeId): void {
  maybeSendAppend(r, to, true);
}

/** The follower needs compacted entries: send the snapshot (retried later if it is being made). */
export function maybeSendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) return false;
  let snapshot;
  try {
    snapshot = r.log.snapshot();
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'snapshotTemporarilyUnavailable') return false;
    throw err;
  }
  assert(snapshot.metadata.index > 0, () => `need a non-empty snapshot to catch up ${to}`);
  pr.becomeSnapshot(snapshot.metadata.index);
  r.send({ type: 'snap', to, snapshot });
  return true;
}

export function bcastAppend(r: Raft): void {
  for (const id of r.tracker.ids()) if (id !== r.id) sendAppend(r, id);
}

/** Heartbeats carry the read round being confirmed and their send tick (for the lease). */
export function bcastHeartbeat(r: Raft): void {
  const context = encodeHeartbeatContext(r.readOnly.currentRound(), r.tickCount);
  for (const id of r.tracker.ids()) {
    if (id === r.id) continue;
    const pr = r.tracker.progress.get(id) as Progress;
    // Never tell a follower to commit past what it is known to hold.
    r.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, r.log.committed), context });
  }
}

export function handleAppendResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    const hint = m.logTerm > 0 ? r.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
  if (pr.state === 'probe') {
    pr.becomeReplicate();
  } else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) bcastAppend(r);
  else if (oldPaused) sendAppend(r, m.from);
  // Fill the window: bounded by the inflights capacity plus the final empty check.
  for (let i = 0; i <= r.cfg.maxInflightMsgs && maybeSendAppend(r, m.from, false); i++);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.sendTimeoutNow(m.from); // §3.10: the transferee is caught up
  }
}

export function handleHeartbeatResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.msgAppFlowPaused = false;
  // A full window may be made of lost messages: free one slot so replication resumes and
  // a rejection (if they were lost) sends the follower back to probing.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
  if (pr.match < r.log.lastIndex() || pr.state === 'probe') sendAppend(r, m.from);
  const hb = decodeHeartbeatContext(m.context);
  if (hb === null) return;
  pr.leaseAckSentTick = Math.max(pr.leaseAckSentTick, hb.sentTick);
  recordReadAck(r, m.from, hb.round);
}

export function handleAppend(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    r.send({ type: 'appResp', to: m.from, index: r.log.committed });
    return;
  }
  const lastNewIndex = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNewIndex !== null) {
    r.send({ type: 'appResp', to: m.from, index: lastNewIndex });
    return;
  }
  // Reject with a hint: the last index whose term is <= the leader's prevLogTerm, so the
  // leader can skip every entry of a conflicting term in one round trip.
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send({
    type: 'appResp',
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

export function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send({ type: 'heartbeatResp', to: m.from, context: m.context });
}

export function handleSnapshot(r: Raft, m: Message): void {
  if (m.snapshot !== null && restore(r, m.snapshot)) {
    r.send({ type: 'appResp', to: m.from, index: r.log.lastIndex() });
  } else {
    r.send({ type: 'appResp', to: m.from, index: r.log.committed });
  }
}

/** §7: install a leader's snapshot unless our log already covers it. */
export function restore(r: Raft, snapshot: Snapshot): boolean {
  const { index, term, confState } = snapshot.metadata;
  if (index <= r.log.committed) return false;
  assert(r.role === 'follower', () => `only a follower installs a snapshot, not a ${r.role}`);
  const members = [...confState.voters, ...confState.learners, ...confState.votersOutgoing];
  if (!members.includes(r.id)) return false; // not for us: we would not be in its config
  if (r.log.matchTerm(index, term)) {
    r.log.commitTo(index); // our log already has it: just fast-forward the commit
    return false;
  }
  r.log.restore(snapshot);
  const restored = restoreConfig(confState, r.log.lastIndex(), r.cfg.maxInflightMsgs);
  r.tracker.setConfig(restored.config, restored.progress);
  r.isLearner = r.tracker.progress.get(r.id)?.isLearner ?? false;
  return true;
}
