// The Raft state machine of one node (Raft paper §5, Ongaro thesis §3-§9): pure and
// synchronous. Inputs are ticks, messages and local requests; outputs accumulate in `msgs`
// and `readStates` and in the log, and RawNode hands them out as a Ready. Behaviour per
// role is switched in one place: becomeFollower/becomeCandidate/becomeLeader install the
// role's `behaviour` (tick, step, propose, readIndex), as etcd's become* set step and tick.
import type {
  ConfChange,
  Entry,
  EntryType,
  HardState,
  Message,
  NodeId,
  ReadState,
  Role,
  Snapshot,
} from './types.js';
import { NONE } from './types.js';
import type { ResolvedRaftConfig } from './config.js';
import { StorageError } from './storage.js';
import { RaftLog } from './raft-log.js';
import { ProgressTracker, isJoint } from './tracker.js';
import type { Progress } from './progress.js';
import { Changer, ConfChangeError, restoreConfig } from './conf-change.js';
import { decodeConfChange, encodeConfChange } from './conf-change-codec.js';
import type { ReadRequest } from './read-only.js';
import { ReadOnly, decodeHeartbeatContext, encodeHeartbeatContext } from './read-only.js';
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
import { RaftInvariantError } from './errors.js';

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
  private queuedReads: { from: NodeId; requestCtx: Uint8Array; lease: boolean }[] = [];
  /** Lease rounds sent before this tick do not count (new leadership, aborted transfer). */
  private leaseFloorTick = 0;
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
      `hard state commit ${hs.commit} is past the last index ${this.log.lastIndex()}`,
    );
    // A commit below the snapshot index is stale: the snapshot itself is committed.
    this.log.committed = Math.max(hs.commit, this.log.committed);
    this.term = hs.term;
    this.vote = hs.vote;
    if (this.cfg.checkQuorum) this.quietUntilTick = this.cfg.electionTimeoutTicks;
  }

  /**
   * The state machine is at `applied`. Whatever was applied was committed, so a hard state
   * whose commit lags (a commit-only change need not be synced) is raised to it.
   */
  private restoreApplied(applied: number): void {
    assert(
      applied <= this.log.lastIndex(),
      `applied index ${applied} is past the last log index ${this.log.lastIndex()}`,
    );
    this.log.commitTo(applied);
    if (applied > this.log.applied) this.log.appliedTo(applied);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- sending -------------------------------------------------------------------------

  private send(fields: MessageFields): void {
    const m = newMessage({ from: this.id, ...fields });
    if (m.type === 'vote' || m.type === 'preVote' || m.type === 'voteResp' || m.type === 'preVoteResp') {
      assert(m.term !== 0, `${m.type} must carry a term`);
    } else if (m.type !== 'prop' && m.type !== 'readIndex' && m.type !== 'transferLeader') {
      assert(fields.term === undefined, `${m.type} takes the node's term`);
      (m as { term: number }).term = this.term;
    }
    assert(m.to !== this.id, `message ${m.type} addressed to self`);
    this.msgs.push(m);
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows; returns whether anything was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      entries = this.log.entriesFrom(pr.next, this.cfg.maxMsgSizeBytes);
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'compacted') return this.maybeSendSnapshot(to, pr);
      throw err;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    pr.sentEntries(entries.length, prevIndex + entries.length);
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** The follower needs compacted entries: send the snapshot (retried later if it is being made). */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'snapshotTemporarilyUnavailable') return false;
      throw err;
    }
    assert(snapshot.metadata.index > 0, `need a non-empty snapshot to catch up ${to}`);
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'snap', to, snapshot });
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.tracker.ids()) if (id !== this.id) this.sendAppend(id);
  }

  /** Heartbeats carry the read round being confirmed and their send tick (for the lease). */
  private bcastHeartbeat(): void {
    const context = encodeHeartbeatContext(this.readOnly.currentRound(), this.tickCount);
    for (const id of this.tracker.ids()) {
      if (id === this.id) continue;
      const pr = this.tracker.progress.get(id) as Progress;
      // Never tell a follower to commit past what it is known to hold.
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  // ---- role changes --------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `term goes back from ${this.term} to ${term}`);
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
    assert(this.role === 'candidate', `invalid transition ${this.role} -> leader`);
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
    this.bcastAppend();
  }

  private setVote(id: NodeId): void {
    assert(
      this.vote === NONE || this.vote === id,
      `already voted for ${this.vote} in term ${this.term}, not ${id}`,
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
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
      // A stale leader learns our term from the response and steps down.
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
    this.maybeAutoLeave();
    if (this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
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
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transferLeader':
        if (this.lead !== NONE) this.send({ type: 'transferLeader', to: this.lead, index: m.index });
        return;
      case 'timeoutNow':
        // §3.10: the transferee starts an election at once, skipping pre-vote.
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

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    const lastNewIndex = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNewIndex !== null) {
      this.send({ type: 'appResp', to: m.from, index: lastNewIndex });
      return;
    }
    // Reject with a hint: the last index whose term is <= the leader's prevLogTerm, so the
    // leader can skip every entry of a conflicting term in one round trip.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp',
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    if (m.snapshot !== null && this.restore(m.snapshot)) {
      this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
    }
  }

  /** §7: install a leader's snapshot unless our log already covers it. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === 'follower', `only a follower installs a snapshot, not a ${this.role}`);
    const members = [...confState.voters, ...confState.learners, ...confState.votersOutgoing];
    if (!members.includes(this.id)) return false; // not for us: we would not be in its config
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index); // our log already has it: just fast-forward the commit
      return false;
    }
    this.log.restore(snapshot);
    const restored = restoreConfig(confState, this.log.lastIndex(), this.cfg.maxInflightMsgs);
    this.tracker.setConfig(restored.config, restored.progress);
    this.isLearner = this.tracker.progress.get(this.id)?.isLearner ?? false;
    return true;
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
      readIndex: (requestCtx, lease) => this.leaderReadIndex(this.id, requestCtx, lease),
    };
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop':
        this.leaderPropose(m.entries); // a forwarded proposal: its outcome is not reported back
        return;
      case 'readIndex':
        this.leaderReadIndex(m.from, m.context, m.index === READ_MODE_LEASE);
        return;
      case 'transferLeader':
        this.handleTransferLeader(m.index);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    if (m.type === 'appResp') this.handleAppendResponse(m, pr);
    else if (m.type === 'heartbeatResp') this.handleHeartbeatResponse(m, pr);
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

  private leaderPropose(entries: readonly ProposedEntry[]): ProposeResult {
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
      const refused = this.checkConfChangeProposal(entry.data, confIndexes.length > 0);
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
    this.bcastAppend();
    return PROPOSE_OK;
  }

  /** One conf change at a time, and only changes the changer accepts from the current config. */
  private checkConfChangeProposal(data: Uint8Array, anotherInBatch: boolean): ProposeResult | null {
    if (this.pendingConfIndex > this.log.applied || anotherInBatch) {
      return proposalError({ kind: 'confChangePending', pendingIndex: this.pendingConfIndex });
    }
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch (err) {
      return proposalError({ kind: 'invalidConfChange', reason: (err as Error).message });
    }
    const joint = isJoint(this.tracker.config);
    const leave = cc.changes.length === 0;
    if (joint && !leave)
      return proposalError({ kind: 'invalidConfChange', reason: 'must leave the joint config first' });
    if (!joint && leave)
      return proposalError({ kind: 'invalidConfChange', reason: 'not in a joint config: nothing to leave' });
    try {
      this.changer().change(cc);
    } catch (err) {
      if (err instanceof ConfChangeError)
        return proposalError({ kind: 'invalidConfChange', reason: err.reason });
      throw err;
    }
    return null;
  }

  private changer(): Changer {
    return new Changer(
      this.tracker.config,
      this.tracker.progress,
      this.log.lastIndex(),
      this.cfg.maxInflightMsgs,
    );
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
  private maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.tracker.committed(), this.term)) return false;
    if (this.queuedReads.length > 0) this.releaseQueuedReads();
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) this.bcastAppend();
    else if (oldPaused) this.sendAppend(m.from);
    // Fill the window: bounded by the inflights capacity plus the final empty check.
    for (let i = 0; i <= this.cfg.maxInflightMsgs && this.maybeSendAppend(m.from, false); i++);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from }); // §3.10: the transferee is caught up
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // A full window may be made of lost messages: free one slot so replication resumes and
    // a rejection (if they were lost) sends the follower back to probing.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
    const hb = decodeHeartbeatContext(m.context);
    if (hb === null) return;
    pr.leaseAckSentTick = Math.max(pr.leaseAckSentTick, hb.sentTick);
    const done = this.readOnly.recvAck(m.from, hb.round, (acks) => this.tracker.isQuorum(acks));
    if (done === null) return;
    for (const request of done.released) this.respondToRead(request);
    if (done.nextRound !== 0) this.startReadRound();
  }

  // ---- reads (thesis §6.4) -------------------------------------------------------------

  private leaderReadIndex(from: NodeId, requestCtx: Uint8Array, lease: boolean): ProposeResult {
    const maxPending = this.cfg.maxPendingReadRequests;
    if (this.readOnly.pendingCount + this.queuedReads.length >= maxPending) {
      return proposalError({ kind: 'readQueueFull', maxPending });
    }
    // §6.4 step 1: until an entry of its term commits, the leader does not know the commit index.
    if (this.log.termOrZero(this.log.committed) !== this.term) {
      this.queuedReads.push({ from, requestCtx, lease });
      return PROPOSE_OK;
    }
    const request: ReadRequest = { index: this.log.committed, from, requestCtx };
    if (this.tracker.isSingleton() || (lease && this.leaseValid())) {
      this.respondToRead(request);
      return PROPOSE_OK;
    }
    if (this.readOnly.add(request) !== 0) this.startReadRound();
    return PROPOSE_OK;
  }

  /** Sends the heartbeat round that confirms the reads waiting in readOnly. */
  private startReadRound(): void {
    const round = this.readOnly.currentRound();
    assert(round !== 0, 'a read round must be in flight');
    const done = this.readOnly.recvAck(this.id, round, (acks) => this.tracker.isQuorum(acks));
    assert(done === null, 'a multi-voter read round cannot complete on the leader alone');
    this.bcastHeartbeat();
  }

  private releaseQueuedReads(): void {
    if (this.log.termOrZero(this.log.committed) !== this.term) return;
    const queued = this.queuedReads;
    this.queuedReads = [];
    for (const read of queued) this.leaderReadIndex(read.from, read.requestCtx, read.lease);
  }

  /**
   * Lease read (thesis §6.4.1). Clock assumption: every node's tick runs at a rate that
   * differs from the leader's by less than leaseClockDriftMarginTicks per election timeout.
   * A follower that acknowledged a heartbeat sent at tick s will not vote for another
   * candidate (check-quorum) before s + electionTimeoutTicks by its clock, so the leader may
   * serve reads until s + electionTimeoutTicks - margin by its own clock, s being the send
   * tick of the newest heartbeat round a quorum acknowledged. A leader transfer bypasses
   * that promise, so no lease is used during or right after one.
   */
  private leaseValid(): boolean {
    if (!this.cfg.checkQuorum || this.leadTransferee !== NONE) return false;
    const leaseStart = this.tracker.quorumMin((id) =>
      id === this.id ? this.tickCount : this.tracker.progress.get(id)?.leaseAckSentTick,
    );
    if (leaseStart < 0 || leaseStart < this.leaseFloorTick) return false;
    return this.tickCount - leaseStart < this.cfg.electionTimeoutTicks - this.cfg.leaseClockDriftMarginTicks;
  }

  private respondToRead(request: ReadRequest): void {
    if (request.from === this.id || request.from === NONE) {
      this.readStates.push({ index: request.index, requestCtx: request.requestCtx });
    } else {
      this.send({
        type: 'readIndexResp',
        to: request.from,
        index: request.index,
        context: request.requestCtx,
      });
    }
  }

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
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: transferee });
    else this.sendAppend(transferee);
  }

  private abortLeaderTransfer(): void {
    if (this.leadTransferee === NONE) return;
    this.leadTransferee = NONE;
    this.leaseFloorTick = this.tickCount;
  }

  // ---- membership ----------------------------------------------------------------------

  /** Applies a committed conf change (the applier calls this). */
  applyConfChange(cc: ConfChange): void {
    let result;
    try {
      result = this.changer().change(cc);
    } catch (err) {
      // Proposals are validated against the config they will be applied to (one pending at a
      // time), so a committed change that does not apply means this replica's membership
      // diverged, e.g. it was started with a config other than the group's.
      if (err instanceof ConfChangeError) {
        throw new RaftInvariantError(`committed conf change cannot be applied: ${err.reason}`);
      }
      throw err;
    }
    this.tracker.setConfig(result.config, result.progress);
    const self = this.tracker.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if (this.role !== 'leader') return;
    if (self === undefined || self.isLearner) {
      // Removed (or demoted) and the change is committed: step down (thesis §4.2.2).
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee))
      this.abortLeaderTransfer();
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.tracker.ids()) this.maybeSendAppend(id, false);
  }

  appliedTo(index: number): void {
    this.log.appliedTo(index);
    this.maybeAutoLeave();
  }

  /** The leader proposes leaving an auto-leave joint config once entering it is applied. */
  private maybeAutoLeave(): void {
    if (this.role !== 'leader' || !this.tracker.config.autoLeave) return;
    if (this.pendingConfIndex > this.log.applied) return;
    const leave = encodeConfChange({ transition: 'auto', changes: [], context: EMPTY_BYTES });
    this.leaderPropose([{ type: 'confChange', data: leave }]); // retried on the next tick if refused
  }
}
