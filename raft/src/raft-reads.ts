// Linearizable reads on the leader (Ongaro thesis §6.4 ReadIndex, §6.4.1 leases): queue
// until the leader's term has a committed entry, confirm with one heartbeat round, or serve
// at once under a valid lease. Functions of the Raft state machine, kept apart for size.
import type { NodeId } from './types.js';
import { NONE } from './types.js';
import type { ReadRequest } from './read-only.js';
import type { ProposeResult } from './proposal.js';
import { PROPOSE_OK, proposalError } from './proposal.js';
import { bcastHeartbeat } from './raft-replication.js';
import { assert } from './invariants.js';
import type { Raft } from './raft.js';

export function leaderReadIndex(
  r: Raft,
  from: NodeId,
  requestCtx: Uint8Array,
  lease: boolean,
): ProposeResult {
  const maxPending = r.cfg.maxPendingReadRequests;
  if (r.readOnly.pendingCount + r.queuedReads.length >= maxPending) {
    return proposalError({ kind: 'readQueueFull', maxPending });
  }
  // §6.4 step 1: until an entry of its term commits, the leader does not know the commit index.
  if (r.log.termOrZero(r.log.committed) !== r.term) {
    r.queuedReads.push({ from, requestCtx, lease });
    return PROPOSE_OK;
  }
  const request: ReadRequest = { index: r.log.committed, from, requestCtx };
  if (r.tracker.isSingleton() || (lease && leaseValid(r))) {
    respondToRead(r, request);
    return PROPOSE_OK;
  }
  if (r.readOnly.add(request) !== 0) startReadRound(r);
  return PROPOSE_OK;
}

/** Sends the heartbeat round that confirms the reads waiting in readOnly. */
export function startReadRound(r: Raft): void {
  const round = r.readOnly.currentRound();
  assert(round !== 0, 'a read round must be in flight');
  bcastHeartbeat(r);
  // The leader's own ack completes the round at once only when it alone is a quorum
  // (e.g. a joint config whose halves are both just the leader); then nothing waits for a
  // next round, so this recursion is at most one level deep.
  recordReadAck(r, r.id, round);
}

/** `from` acknowledged heartbeat round `round`: release the reads it confirms, start the next round. */
export function recordReadAck(r: Raft, from: NodeId, round: number): void {
  const done = r.readOnly.recvAck(from, round, (acks) => r.tracker.isQuorum(acks));
  if (done === null) return;
  for (const request of done.released) respondToRead(r, request);
  if (done.nextRound !== 0) startReadRound(r);
}

export function releaseQueuedReads(r: Raft): void {
  if (r.log.termOrZero(r.log.committed) !== r.term) return;
  const queued = r.queuedReads;
  r.queuedReads = [];
  for (const read of queued) leaderReadIndex(r, read.from, read.requestCtx, read.lease);
}

/**
 * Lease read (thesis §6.4.1). Clock assumption: every node's tick runs at a rate that
 * differs from the leader's by less than leaseClockDriftMarginTicks per election timeout.
 * A follower that acknowledged a heartbeat sent at tick s will not vote for another
 * candidate (check-quorum) before s + electionTimeoutTicks by its clock, so the leader may
 * serve reads until s + electionTimeoutTicks - margin by its own clock, s being the send
 * tick of the newest heartbeat round a quorum acknowledged. A leader transfer bypasses
 * that promise, so no lease is used during a transfer, and only rounds sent after it ended
 * count (residual risk: a transfer vote request delayed in the network by more than an
 * election timeout). A restarted node grants no vote for one election timeout (raft.ts).
 */
export function leaseValid(r: Raft): boolean {
  if (!r.cfg.checkQuorum || r.leadTransferee !== NONE) return false;
  const leaseStart = r.tracker.quorumMin((id) =>
    id === r.id ? r.tickCount : r.tracker.progress.get(id)?.leaseAckSentTick,
  );
  if (leaseStart < 0 || leaseStart < r.leaseFloorTick) return false;
  return r.tickCount - leaseStart < r.cfg.electionTimeoutTicks - r.cfg.leaseClockDriftMarginTicks;
}

export function respondToRead(r: Raft, request: ReadRequest): void {
  if (request.from === r.id || request.from === NONE) {
    r.readStates.push({ index: request.index, requestCtx: request.requestCtx });
  } else {
    r.send({
      type: 'readIndexResp',
      to: request.from,
      index: request.index,
      context: request.requestCtx,
    });
  }
}
