// The Raft state machine of one node (Raft paper §5, Ongaro thesis §3-§9): pure and
// synchronous. Inputs are ticks, messages and local requests; outputs accumulate in `msgs`
// and `readStates` and in the log, and RawNode hands them out as a Ready. Behaviour per
// role is switched in one place: becomeFollower/becomeCandidate/becomeLeader install the
// role's `behaviour` (tick, step, propose, readIndex), as etcd's become* set step and tick.
// Replication, reads and membership live in raft-replication.ts, raft-reads.ts and
// raft-membership.ts as functions of this state machine.
import type { Entry, EntryType, HardState, Message, NodeId, ReadState, Role } from './types.js';
import { NONE } from './types.js';
import type { ResolvedRaftConfig } from './config.js';
import { StorageError } from './storage.js';
import { RaftLog } from './raft-log.js';
import { ProgressTracker } from './tracker.js';
import type { Progress } from './progress.js';
import { restoreConfig } from './conf-change.js';
import { ReadOnly } from './read-only.js';
import type { MessageFields } from './message.js';
import {
  CAMPAIGN_TRANSFER_CONTEXT,
  EMPTY_BYTES,
  READ_MODE_LEASE,
  isTransferCampaign,
  newMessage,
} from './message.js';
import type { ProposeResult } from './proposal.js';
import { PROPOSE_OK, proposalError } from './proposal.js';
import { payloadSizeBytes } from './entry-size.js';
import { assert } from './invariants.js';
import {
  bcastAppend,
  bcastHeartbeat,
  handleAppend,
  handleAppendResponse,
  handleHeartbeat,
  handleHeartbeatResponse,
  handleSnapshot,
  sendAppend,
} from './raft-replication.js';
import { leaderReadIndex, releaseQueuedReads } from './raft-reads.js';
import { checkConfChangeProposal, maybeAutoLeave } from './raft-membership.js';

type CampaignKind = 'preElection' | 'election' | 'transfer';

/** A proposed entry before the leader gives it a term and an index. */
export interface ProposedEntry {
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What a role does with ticks, messages and local requests. */
interface RoleBehaviour {
  tick(): void;
  step(m: Message): void;
  propose(entries: readonly ProposedEntry[]): ProposeResult;
  readIndex(requestCtx: Uint8Array, lease: boolean): ProposeResult;
}

/** Bound on pages read when scanning committed entries for conf changes. */
const CONF_SCAN_PAGES_MAX = 1024;

export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  // Invariant: term never decreases; vote changes only from NONE within a term.
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  isLearner = false;
  /** Outbox, drained by RawNode.ready(). */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since the node started: the clock of lease reads. */
  tickCount = 0;
  leadTransferee: NodeId = NONE;
  /** Index of the latest conf change entry the leader proposed (one pending at a time). */
  pendingConfIndex = 0;
  uncommittedSizeBytes = 0;
  readonly readOnly: ReadOnly;
  /** Reads received before an entry of this leader's term committed (§6.4 step 1). */
  queuedReads: { from: NodeId; requestCtx: Uint8Array; lease: boolean }[] = [];
  /** Lease rounds sent before this tick do not count (new leadership, aborted transfer). */
  leaseFloorTick = 0;
  /**
   * A node restarted with state (check-quorum on) acts for one election timeout as if it had
   * just heard from a leader: it may have acknowledged a heartbeat right before crashing, and
   * granting a vote at once would break the lease that acknowledgement extended.
   */
  private quietUntilTick = 0;
  private behaviour: RoleBehaviour;

  constructor(cfg: ResolvedRaftConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.log = new RaftLog(cfg.storage, cfg.maxCommittedSizePerReadyBytes);
    this.tracker = new ProgressTracker(cfg.maxInflightMsgs);
    this.readOnly = new ReadOnly(cfg.maxPendingReadRequests);
    const { hardState, confState } = cfg.storage.initialState();
    const restored = restoreConfig(confState, this.log.lastIndex(), cfg.maxInflightMsgs);
    this.tracker.setConfig(restored.config, restored.progress);
    this.isLearner = this.tracker.progress.get(this.id)?.isLearner ?? false;
    this.loadHardState(hardState);
    if (cfg.appliedIndex > 0) this.restoreApplied(cfg.appliedIndex);
    this.behaviour = this.followerBehaviour();
    this.becomeFollower(this.term, NONE);
  }

  private loadHardState(hs: HardState): void {
    if (hs.term === 0 && hs.vote === NONE && hs.commit === 0) return;
    assert(
      hs.commit <= this.log.lastIndex(),
      () => `hard state commit ${hs.commit} is past the last index ${this.log.lastIndex()}`,
    );
    // A commit below the snapshot index is stale: the snapshot itself is committed.
    this.log.committed = Math.max(hs.commit, this.log.committed);
    this.term = hs.term;
    this.vote = hs.vote;
    if (this.cfg.checkQuorum && this.cfg.quietOnRestart) this.quietUntilTick = this.cfg.electionTimeoutTicks;
  }

  /**
   * The state machine is at `applied`. Whatever was applied was committed, so a hard state
   * whose commit lags (a commit-only change need not be synced) is raised to it.
   */
  private restoreApplied(applied: number): void {
    assert(
      applied <= this.log.lastIndex(),
      () => `applied index ${applied} is past the last log index ${this.log.lastIndex()}`,
    );
    this.log.commitTo(applied);
    if (applied > this.log.applied) this.log.appliedTo(applied);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- sending -------------------------------------------------------------------------

  send(fields: MessageFields): void {
    const m = newMessage({ from: this.id, ...fields });
    if (m.type === 'vote' || m.type === 'preVote' || m.type === 'voteResp' || m.type === 'preVoteResp') {
      assert(m.term !== 0, () => `${m.type} must carry a term`);
    } else if (m.type !== 'prop' && m.type !== 'readIndex' && m.type !== 'transferLeader') {
      assert(fields.term === undefined, () => `${m.type} takes the node's term`);
      (m as { term: number }).term = this.term;
    }
    assert(m.to !== this.id, () => `message ${m.type} addressed to self`);
    this.msgs.push(m);
  }

  // ---- role changes --------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, () => `term goes back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTimeoutTicks + this.cfg.random.nextInt(this.cfg.electionTimeoutTicks);
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex(), this.id);
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly.reset();
    this.queuedReads = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.behaviour = this.followerBehaviour();
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> preCandidate');
    // Pre-vote changes neither term nor vote (thesis §9.6).
    this.tracker.resetVotes();
    this.behaviour = this.candidateBehaviour();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.behaviour = this.candidateBehaviour();
    this.setVote(this.id);
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', () => `invalid transition ${this.role} -> leader`);
    this.reset(this.term);
    this.behaviour = this.leaderBehaviour();
    this.lead = this.id;
    this.role = 'leader';
    this.leaseFloorTick = this.tickCount;
    const self = this.tracker.progress.get(this.id) as Progress;
    self.becomeReplicate();
    self.recentActive = true;
    // Conf changes in the uncommitted tail count as pending until applied.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: a no-op entry of the new term lets earlier entries commit.
    const ok = this.appendEntries([{ type: 'normal', data: EMPTY_BYTES }]);
    assert(ok, 'the leader no-op entry must be accepted');
    bcastAppend(this);
  }

  private setVote(id: NodeId): void {
    assert(
      this.vote === NONE || this.vote === id,
      () => `already voted for ${this.vote} in term ${this.term}, not ${id}`,
    );
    this.vote = id;
  }

  promotable(): boolean {
    const pr = this.tracker.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstable.snapshot === null;
  }

  // ---- elections -----------------------------------------------------------------------

  /** Starts an election (or pre-election) unless this node may not or should not. */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable() || this.hasUnappliedConfChanges()) return;
    this.campaign(transfer ? 'transfer' : this.cfg.preVote ? 'preElection' : 'election');
  }

  private campaign(kind: CampaignKind): void {
    let type: 'vote' | 'preVote';
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.term + 1; // the term we would campaign in; ours is not bumped yet
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const context = kind === 'transfer' ? CAMPAIGN_TRANSFER_CONTEXT : EMPTY_BYTES;
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.tracker.voterIds()) {
      if (id !== this.id) this.send({ type, to: id, term, index, logTerm, context });
    }
  }

  private poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  /** Entries in (applied, committed] include a conf change: campaigning must wait for it to apply. */
  private hasUnappliedConfChanges(): boolean {
    let lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    for (let page = 0; lo < hi && page < CONF_SCAN_PAGES_MAX; page++) {
      let entries: Entry[];
      try {
        entries = this.log.slice(lo, hi, this.cfg.maxCommittedSizePerReadyBytes);
      } catch (err) {
        if (err instanceof StorageError) return false;
        throw err;
      }
      if (entries.some((e) => e.type === 'confChange')) return true;
      lo += entries.length;
    }
    return false;
  }

  // ---- message dispatch ----------------------------------------------------------------

  step(m: Message): void {
    if (!this.checkTerm(m)) return;
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    this.behaviour.step(m);
  }

  /** Term rules common to all roles (§5.1); returns false when the message is dropped. */
  private checkTerm(m: Message): boolean {
    if (m.term === 0 || m.term === this.term) return true;
    if (m.term < this.term) {
      this.onLowerTerm(m);
      return false;
    }
    if (
      (m.type === 'vote' || m.type === 'preVote') &&
      !isTransferCampaign(m.context) &&
      this.inLease(m.type)
    ) {
      // §6 / thesis §4.2.3: a node that hears from a live leader ignores disruptive elections.
      return false;
    }
    if (m.type === 'preVote') return true; // a pre-vote never bumps our term
    if (m.type === 'preVoteResp' && !m.reject) return true; // our term is bumped when we win
    const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  /** Heard from a leader within the election timeout (pre-vote always checks; votes with check-quorum). */
  private inLease(type: 'vote' | 'preVote'): boolean {
    if (type === 'vote' && !this.cfg.checkQuorum) return false;
    if (this.tickCount < this.quietUntilTick) return true;
    return this.lead !== NONE && this.electionElapsed < this.cfg.electionTimeoutTicks;
  }

  private onLowerTerm(m: Message): void {
    // §5.1: a request with a stale term is rejected with our term, so the stale leader steps
    // down. etcd answers only with check-quorum or pre-vote and otherwise counts on the node
    // at the higher term to raise everyone's term through its own elections; but a learner
    // never campaigns, and a voter with a stale configuration campaigns only to peers that
    // may be gone, so both could be stranded forever (simulator seeds 101659, 2971).
    if (m.type === 'heartbeat' || m.type === 'app') {
      this.send({ type: 'appResp', to: m.from });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true });
    }
  }

  /** §5.2, §5.4.1: one vote per term, only for a candidate whose log is at least as up to date. */
  private handleVoteRequest(m: Message): void {
    const pre = m.type === 'preVote';
    const type = pre ? 'preVoteResp' : 'voteResp';
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type, to: m.from, term: m.term });
      if (!pre) {
        this.electionElapsed = 0;
        this.setVote(m.from);
      }
    } else {
      this.send({ type, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- ticks ---------------------------------------------------------------------------

  tick(): void {
    this.tickCount++;
    this.behaviour.tick();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorum()) return;
      this.abortLeaderTransfer(); // §3.10: a transfer that did not finish in an election timeout is aborted
    }
    maybeAutoLeave(this);
    if (this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this);
    }
  }

  /** §6.2 check-quorum: step down without a recently active quorum. Returns whether still leader. */
  private checkQuorum(): boolean {
    if (!this.tracker.quorumActive()) {
      this.becomeFollower(this.term, NONE);
      return false;
    }
    for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
    return true;
  }

  // ---- local requests ------------------------------------------------------------------

  propose(entries: readonly ProposedEntry[]): ProposeResult {
    assert(entries.length > 0, 'a proposal needs at least one entry');
    return this.behaviour.propose(entries);
  }

  readIndex(requestCtx: Uint8Array, lease: boolean): ProposeResult {
    return this.behaviour.readIndex(requestCtx, lease);
  }

  transferLeader(transferee: NodeId): void {
    if (this.role === 'leader') {
      this.handleTransferLeader(transferee);
    } else if (this.lead !== NONE && this.role === 'follower') {
      this.send({ type: 'transferLeader', to: this.lead, index: transferee });
    }
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.tracker.progress.get(id);
    // The pipeline to it is broken: probe again instead of streaming into the void.
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.tracker.progress.get(id);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for a heartbeat response before probing, so a failing snapshot is not resent in a loop.
    pr.msgAppFlowPaused = true;
  }

  // ---- follower ------------------------------------------------------------------------

  private followerBehaviour(): RoleBehaviour {
    return {
      tick: () => this.tickElection(),
      step: (m) => this.stepFollower(m),
      propose: (entries) => this.forwardProposal(entries),
      readIndex: (requestCtx, lease) => {
        if (this.lead === NONE) return proposalError({ kind: 'notLeader', leaderId: NONE });
        this.send({
          type: 'readIndex',
          to: this.lead,
          context: requestCtx,
          index: lease ? READ_MODE_LEASE : 0,
        });
        return PROPOSE_OK;
      },
    };
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        this.forwardProposal(m.entries);
        return;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        handleAppend(this, m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        handleHeartbeat(this, m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        handleSnapshot(this, m);
        return;
      case 'transferLeader':
        if (this.lead !== NONE) this.send({ type: 'transferLeader', to: this.lead, index: m.index });
        return;
      case 'timeoutNow':
        // §3.10: the transferee starts an election at once, skipping pre-vote, unless the
        // request is stale (see sendTimeoutNow) or not from its leader.
        if (m.from !== this.lead || this.log.committed > m.index || !this.log.matchTerm(m.index, m.logTerm))
          return;
        this.hup(true);
        return;
      case 'readIndex':
        if (this.lead !== NONE)
          this.send({ type: 'readIndex', to: this.lead, context: m.context, index: m.index });
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        return; // responses meant for another role
    }
  }

  private forwardProposal(entries: readonly ProposedEntry[]): ProposeResult {
    if (this.lead === NONE) return proposalError({ kind: 'notLeader', leaderId: NONE });
    if (this.cfg.disableProposalForwarding) return proposalError({ kind: 'notLeader', leaderId: this.lead });
    const tooLarge = this.checkEntrySizes(entries);
    if (tooLarge !== null) return tooLarge;
    const forwarded = entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data }));
    this.send({ type: 'prop', to: this.lead, entries: forwarded });
    return PROPOSE_OK;
  }

  // ---- candidate -----------------------------------------------------------------------

  private candidateBehaviour(): RoleBehaviour {
    return {
      tick: () => this.tickElection(),
      step: (m) => this.stepCandidate(m),
      propose: () => proposalError({ kind: 'notLeader', leaderId: NONE }),
      readIndex: () => proposalError({ kind: 'notLeader', leaderId: NONE }),
    };
  }

  private stepCandidate(m: Message): void {
    const voteRespType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
      this.becomeFollower(m.term, m.from); // a leader of our term exists
      this.stepFollower(m);
    } else if (m.type === voteRespType) {
      const result = this.poll(m.from, !m.reject);
      if (result === 'won') {
        if (this.role === 'preCandidate') this.campaign('election');
        else this.becomeLeader();
      } else if (result === 'lost') {
        this.becomeFollower(this.term, NONE);
      }
    }
  }

  // ---- leader --------------------------------------------------------------------------

  private leaderBehaviour(): RoleBehaviour {
    return {
      tick: () => this.tickHeartbeat(),
      step: (m) => this.stepLeader(m),
      propose: (entries) => this.leaderPropose(entries),
      readIndex: (requestCtx, lease) => leaderReadIndex(this, this.id, requestCtx, lease),
    };
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop':
        this.leaderPropose(m.entries); // a forwarded proposal: its outcome is not reported back
        return;
      case 'readIndex':
        leaderReadIndex(this, m.from, m.context, m.index === READ_MODE_LEASE);
        return;
      case 'transferLeader':
        this.handleTransferLeader(m.index);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    if (m.type === 'appResp') handleAppendResponse(this, m, pr);
    else if (m.type === 'heartbeatResp') handleHeartbeatResponse(this, m, pr);
  }

  private checkEntrySizes(entries: readonly ProposedEntry[]): ProposeResult | null {
    for (const e of entries) {
      if (e.data.byteLength > this.cfg.maxEntrySizeBytes) {
        return proposalError({
          kind: 'entryTooLarge',
          sizeBytes: e.data.byteLength,
          maxSizeBytes: this.cfg.maxEntrySizeBytes,
        });
      }
    }
    return null;
  }

  leaderPropose(entries: readonly ProposedEntry[]): ProposeResult {
    if (!this.tracker.progress.has(this.id)) return proposalError({ kind: 'notLeader', leaderId: NONE });
    if (this.leadTransferee !== NONE) {
      return proposalError({ kind: 'leaderTransferring', transfereeId: this.leadTransferee });
    }
    const tooLarge = this.checkEntrySizes(entries);
    if (tooLarge !== null) return tooLarge;
    const confIndexes: number[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as ProposedEntry;
      if (entry.type !== 'confChange') continue;
      const refused = checkConfChangeProposal(this, entry.data, confIndexes.length > 0);
      if (refused !== null) return refused;
      confIndexes.push(this.log.lastIndex() + 1 + i);
    }
    if (!this.appendEntries(entries)) {
      return proposalError({
        kind: 'uncommittedSizeLimit',
        maxSizeBytes: this.cfg.maxUncommittedEntriesSizeBytes,
      });
    }
    for (const index of confIndexes) this.pendingConfIndex = index;
    bcastAppend(this);
    return PROPOSE_OK;
  }

  /** Appends entries at the leader's term; false if they would exceed the uncommitted-size bound. */
  private appendEntries(entries: readonly ProposedEntry[]): boolean {
    const lastIndex = this.log.lastIndex();
    const full: Entry[] = entries.map((e, i) => ({
      term: this.term,
      index: lastIndex + 1 + i,
      type: e.type,
      data: e.data,
    }));
    const size = payloadSizeBytes(full);
    const limit = this.cfg.maxUncommittedEntriesSizeBytes;
    // A single proposal is always let through when nothing is uncommitted, so big entries cannot get stuck.
    if (limit > 0 && this.uncommittedSizeBytes > 0 && size > 0 && this.uncommittedSizeBytes + size > limit)
      return false;
    this.uncommittedSizeBytes += size;
    const newLastIndex = this.log.append(full);
    this.tracker.progress.get(this.id)?.maybeUpdate(newLastIndex);
    this.maybeCommit();
    return true;
  }

  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - payloadSizeBytes(entries));
  }

  /** §5.3, §5.4.2: commit the quorum-replicated index if it is of the current term. */
  maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.tracker.committed(), this.term)) return false;
    if (this.queuedReads.length > 0) releaseQueuedReads(this);
    return true;
  }

  // ---- reads (thesis §6.4) -------------------------------------------------------------

  // ---- leader transfer (thesis §3.10) --------------------------------------------------

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.tracker.progress.get(transferee);
    if (pr === undefined || pr.isLearner || transferee === this.id) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    this.electionElapsed = 0; // the transfer must finish within an election timeout
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else sendAppend(this, transferee);
  }

  /**
   * Tells the caught-up transferee to campaign. The message carries the leader's last index
   * and term: the log does not grow during a transfer (proposals are refused), so a
   * transferee whose commit index has passed it knows the message is stale (its transfer
   * was aborted and the leader went on) and ignores it instead of deposing a healthy leader.
   */
  sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', to, index: this.log.lastIndex(), logTerm: this.log.lastTerm() });
  }

  abortLeaderTransfer(): void {
    if (this.leadTransferee === NONE) return;
    this.leadTransferee = NONE;
    this.leaseFloorTick = this.tickCount;
  }

  // ---- membership ----------------------------------------------------------------------

  appliedTo(index: number): void {
    this.log.appliedTo(index);
    maybeAutoLeave(this);
  }
}
