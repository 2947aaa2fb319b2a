// Hibernation (quiescence) of idle regions, after CockroachDB's quiesced ranges and TiKV's
// hibernate regions. A store holding thousands of regions would otherwise spend a core on
// ticks and heartbeats alone; a quiesced region costs nothing until something happens to it.
//
// Protocol (the Raft core is untouched; the store decides when a node gets ticks):
//   - A leader whose region saw no traffic but heartbeats for hibernateAfterIdleTicks, whose
//     log is replicated and applied everywhere (every peer's match == lastIndex == commit ==
//     applied, all replicating), with no proposal, read, conf change (nor joint config),
//     leader transfer or snapshot in flight, sends every peer a quiesce notice and stops
//     ticking. The notice is a heartbeat carrying {term, commit = lastIndex}, an empty context
//     and the quiesce flag (RaftEnvelope.quiesce, CoalescedHeartbeat.quiesce on the wire).
//   - Nor does a leader quiesce while its region's membership is unsettled (membershipSettled):
//     a learner in it, or a voter count other than the one PD keeps per region (max-replicas,
//     told in PD's store heartbeat answers). Either is the middle of a PD operator, whose next
//     step waits on the leader's reports of the new peer's progress; a sleeping leader stops
//     tracking progress (its core no longer ticks, so every peer's recent-activity flag
//     freezes), and a learner whose flag froze at "inactive" was reported down for ever, so PD
//     never promoted it (found on an idle fresh cluster: 20 minutes without a promotion). A
//     store cannot see the steps PD still plans, but every multi-step operator PD builds
//     passes through such a shape between its steps; a single step arriving at a sleeping
//     leader (a transfer, a merge) wakes it like any proposal.
//   - A follower takes the notice only from its leader, at its term, with its last index equal
//     to the notice's commit: it steps the heartbeat (commit catches up), applies, then stops
//     ticking and swallows its heartbeat response. Otherwise it steps the notice as a plain
//     heartbeat: its response (empty context) wakes the leader, which heartbeats it into line
//     and quiesces again later.
//   - A quiesced region wakes on a proposal, read, conf change or transfer (mailbox), on any
//     Raft message except a notice (and except a late response to an earlier regular
//     heartbeat, which a sleeping leader steps without waking), on a snapshot, and when the
//     store of its leader becomes suspected (store-liveness.ts) or a store holding one of its
//     peers is reported unreachable. A follower woken by anything but its leader nudges the
//     leader (leaderNudge): a live leader wakes and heartbeats before the follower times out,
//     so a false suspicion costs no election. If the leader is gone, the woken follower ticks,
//     times out and campaigns, so failover of a quiesced region works as for an awake one,
//     one liveness timeout later.
//
// Lease reads after a wake-up. The core serves a lease read while tickCount minus the send
// tick of the newest heartbeat a quorum acknowledged is below electionTimeout - margin. A
// sleeping leader does not tick: its tickCount stands still while real time runs, so right
// after waking it would believe a lease taken before it slept, possibly long ago, still
// valid, although its followers may have been woken meanwhile (store suspected) and elected
// another leader that accepted writes. So a leader that wakes serves lease reads as ReadIndex
// reads (a heartbeat round a quorum must answer) for its next electionTimeoutTicks ticks.
// After that many ticks awake, any acknowledgement of a heartbeat sent before the wake-up is
// at least electionTimeoutTicks old by the leader's tick clock, so a lease the core still
// finds valid rests only on heartbeats sent after the wake-up; those give the usual lease
// guarantee (a follower that acknowledged one does not vote for anyone else for an election
// timeout of its own ticks, and a follower that sleeps does not tick at all).
import type { Message, RaftBasicStatus, RaftStatus } from '@flotilla/raft';
import type { PeerMeta } from './region-meta.js';

/** Hibernation state of one region's peer (owned by its RegionPeer, driven by the store). */
export class PeerHibernation {
  /** The peer gets no ticks (it is not in the store's awake set). */
  asleep = false;
  /** Ticks the peer has seen with no traffic but heartbeats (leaders quiesce past a threshold). */
  idleTicks = 0;
  /** Ticks left during which lease reads are served as ReadIndex reads (after a wake-up). */
  leaseGuardTicks = 0;
  /** The quiesce notice this round steps (0: none): its sender and term. */
  noticeFromPeerId = 0;
  noticeTerm = 0;
  quiescedCount = 0;
  wokenCount = 0;

  /** The store put the peer back in its awake set. */
  wake(electionTimeoutTicks: number): void {
    if (!this.asleep) throw new Error('wake: the peer is not asleep');
    this.asleep = false;
    this.idleTicks = 0;
    this.leaseGuardTicks = electionTimeoutTicks;
    this.wokenCount++;
  }

  sleep(): void {
    if (this.asleep) throw new Error('sleep: the peer is asleep already');
    this.asleep = true;
    this.quiescedCount++;
  }

  /** `count` ticks were stepped; `active` tells whether anything but heartbeats happened. */
  noteTicks(count: number, active: boolean): void {
    this.idleTicks = active ? 0 : this.idleTicks + count;
    this.leaseGuardTicks = Math.max(0, this.leaseGuardTicks - count);
  }

  noteActivity(): void {
    this.idleTicks = 0;
  }

  /**
   * Lease reads wait for a heartbeat round for at least the next `ticks` ticks: the store's
   * tick clock ran slow against wall time (tick-clock.ts), so the core's lease count is not
   * to be trusted. The same guard as after a wake-up.
   */
  suspendLease(ticks: number): void {
    if (!Number.isSafeInteger(ticks) || ticks < 1)
      throw new RangeError(`suspendLease: bad tick count ${ticks}`);
    this.leaseGuardTicks = Math.max(this.leaseGuardTicks, ticks);
  }

  /** Lease reads must be confirmed by a heartbeat round (see the header). */
  get leaseSuspended(): boolean {
    return this.leaseGuardTicks > 0;
  }
}

/** Raft messages that do not count as traffic for idleness (they go on while a region is idle). */
export function isHeartbeatTraffic(m: Message): boolean {
  return m.type === 'heartbeat' || m.type === 'heartbeatResp';
}

/**
 * The leader's view allows quiescing: leader, no transfer, no joint config, and every peer
 * (learners too) replicating with match == lastIndex == commit == applied.
 */
export function leaderLogQuiescent(status: RaftStatus): boolean {
  if (status.role !== 'leader' || status.leadTransferee !== 0) return false;
  if (status.confState.votersOutgoing.length > 0 || status.confState.learnersNext.length > 0) return false;
  if (status.commit !== status.lastIndex || status.applied !== status.commit) return false;
  for (const pr of status.progress) {
    if (pr.match !== status.lastIndex || pr.state !== 'replicate' || pr.pendingSnapshot !== 0) return false;
  }
  return true;
}

/**
 * The membership lets the region quiesce (see the header): voters only, as many as PD keeps
 * per region (`votersWanted`; 0 while PD has not said, or without PD: any count).
 */
export function membershipSettled(peers: readonly PeerMeta[], votersWanted: number): boolean {
  if (!Number.isSafeInteger(votersWanted) || votersWanted < 0)
    throw new RangeError(`membershipSettled: bad voter count ${votersWanted}`);
  if (peers.some((p) => p.role !== 'voter')) return false;
  return votersWanted === 0 || peers.length === votersWanted;
}

/** A follower may take a quiesce notice: from its leader, at its term, with a log ending at the leader's commit. */
export function followerAcceptsNotice(status: RaftBasicStatus, notice: Message): boolean {
  return (
    status.role === 'follower' &&
    status.term === notice.term &&
    status.leaderId === notice.from &&
    status.lastIndex === notice.commit
  );
}

/** After stepping the notice: still following that leader at that term, everything committed and applied. */
export function followerSettled(
  status: RaftBasicStatus,
  noticeFromPeerId: number,
  noticeTerm: number,
  appliedIndex: number,
): boolean {
  return (
    status.role === 'follower' &&
    status.term === noticeTerm &&
    status.leaderId === noticeFromPeerId &&
    status.commit === status.lastIndex &&
    appliedIndex === status.commit
  );
}

/** The quiesce notice a leader sends a peer: a heartbeat with the leader's commit and an empty context. */
export function quiesceNotice(from: number, to: number, term: number, commit: number): Message {
  return {
    type: 'heartbeat',
    to,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
}

/**
 * What a follower woken by anything but its leader sends the leader: a heartbeat response
 * with an empty context, like a follower refusing a notice. It wakes a sleeping leader, whose
 * core takes it as a plain response (no lease or read acknowledgement in it).
 */
export function leaderNudge(from: number, to: number, term: number): Message {
  return { ...quiesceNotice(from, to, term, 0), type: 'heartbeatResp' };
}

/** A heartbeat response to a quiesce notice (its context is the notice's: empty). */
export function isNoticeResponse(m: Message): boolean {
  return m.type === 'heartbeatResp' && m.context.length === 0;
}
