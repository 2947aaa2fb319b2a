// The public face of the core (etcd's RawNode): feed it ticks, messages and requests,
// take a Ready, do what it says (persist, then send, then apply), call advance().
// Nothing here does I/O; every call runs to completion synchronously.
import type { ConfChange, ConfState, HardState, Message, NodeId, Ready, Role, SoftState } from './types.js';
import { NONE } from './types.js';
import type { RaftConfig } from './config.js';
import { validateConfig } from './config.js';
import { Raft } from './raft.js';
import { applyConfChange } from './raft-membership.js';
import type { ProgressState } from './progress.js';
import type { ProposeResult } from './proposal.js';
import { proposalError } from './proposal.js';
import { encodeConfChange } from './conf-change-codec.js';
import { isFromLeader, isLocalOnly } from './message.js';
import { RaftInvariantError } from './errors.js';
import { assert, assertIndex } from './invariants.js';

export interface PeerProgressStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly pendingSnapshot: number;
  readonly inflightCount: number;
}

/** The scalar part of the status: cheap enough to read after every proposal. */
export interface RaftBasicStatus {
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  /** Index of the last log entry (after a successful proposal on the leader: the proposal's). */
  readonly lastIndex: number;
  readonly role: Role;
  readonly leaderId: NodeId;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** Per-peer replication progress (the leader itself included); empty unless leader. */
  readonly progress: readonly PeerProgressStatus[];
}

/** What the last ready() handed out, made durable/applied by advance(). */
interface ReadyMarks {
  stableIndex: number;
  stableTerm: number;
  snapshotIndex: number;
  appliedIndex: number;
}

/** A message from the network must be well formed: safe integers, entries that follow on from `index`. */
function checkMessageShape(m: Message): void {
  assertIndex(m.term, 'message term');
  assertIndex(m.index, 'message index');
  assertIndex(m.logTerm, 'message logTerm');
  assertIndex(m.commit, 'message commit');
  assertIndex(m.rejectHint, 'message rejectHint');
  if (m.type !== 'app') return;
  let prevTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i] as Message['entries'][number];
    assert(
      e.index === m.index + 1 + i,
      () => `app entry ${i} has index ${e.index}, expected ${m.index + 1 + i}`,
    );
    assert(
      e.term >= prevTerm && e.term <= m.term,
      () => `app entry ${e.index} has term ${e.term} out of order`,
    );
    prevTerm = e.term;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private marks: ReadyMarks | null = null;
  /** Highest term and commit seen, to check they never go back. */
  private termSeen: number;
  private commitSeen: number;

  constructor(config: RaftConfig) {
    this.raft = new Raft(validateConfig(config));
    this.prevSoftState = this.softState();
    this.prevHardState = this.raft.hardState();
    this.termSeen = this.raft.term;
    this.commitSeen = this.raft.log.committed;
  }

  tick(): void {
    this.raft.tick();
    this.checkInvariants();
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.hup(false);
    this.checkInvariants();
  }

  /**
   * Delivers a message from a peer. Local-only types throw. Messages from nodes outside
   * the current configuration are ignored (so a removed node cannot disrupt the group),
   * except those only a leader sends: a lagging node must still accept a leader added by a
   * conf change it has not applied yet, and a new node with an empty config its first leader.
   * A malformed message (fields not safe non-negative integers, app entries that do not
   * follow on from `index`) throws RaftInvariantError; one addressed to another node is ignored.
   */
  step(m: Message): void {
    if (isLocalOnly(m.type))
      throw new RaftInvariantError(`step: '${m.type}' is a local message and cannot come from a peer`);
    checkMessageShape(m);
    if (m.to !== this.raft.id) return;
    if (!this.raft.tracker.isMember(m.from) && !isFromLeader(m.type)) return;
    this.raft.step(m);
    this.checkInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const result = this.raft.propose([{ type: 'normal', data }]);
    this.checkInvariants();
    return result;
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    let data: Uint8Array;
    try {
      data = encodeConfChange(cc);
    } catch (err) {
      return proposalError({ kind: 'invalidConfChange', reason: (err as Error).message });
    }
    const result = this.raft.propose([{ type: 'confChange', data }]);
    this.checkInvariants();
    return result;
  }

  /**
   * Called by the applier when a confChange entry is applied; returns the new membership.
   * Throws RaftInvariantError if the change does not apply to this replica's membership
   * (it diverged from the group's, e.g. the node was started with a different config).
   */
  applyConfChange(cc: ConfChange): ConfState {
    applyConfChange(this.raft, cc);
    this.checkInvariants();
    return this.raft.tracker.confState();
  }

  /** Linearizable read (thesis §6.4); the answer arrives as a ReadState carrying requestCtx. */
  readIndex(requestCtx: Uint8Array, mode: 'safe' | 'lease' = 'safe'): ProposeResult {
    const result = this.raft.readIndex(requestCtx, mode === 'lease');
    this.checkInvariants();
    return result;
  }

  /** Hands leadership to `to` (thesis §3.10); ignored for learners and unknown nodes. */
  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
    this.checkInvariants();
  }

  /** The transport could not deliver to `id`: a replicating follower goes back to probing. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /**
   * Outcome of sending a `snap` message to `id`. Report every snapshot send: the follower
   * stays in snapshot state (no appends) until it acknowledges the snapshot or this is called.
   */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  /** With asyncApply: the state machine has applied entries up to `index`. */
  reportApplied(index: number): void {
    assert(this.raft.cfg.asyncApply, 'reportApplied is only for config.asyncApply');
    const log = this.raft.log;
    assert(
      index <= log.applying,
      () => `reportApplied(${index}) is past the entries handed out (${log.applying})`,
    );
    if (index <= log.applied) return; // stale: a snapshot moved applied further
    this.raft.appliedTo(index);
    this.checkInvariants();
  }

  private softState(): SoftState {
    return { leaderId: this.raft.lead, role: this.raft.role };
  }

  hasReady(): boolean {
    const r = this.raft;
    const soft = this.softState();
    if (soft.leaderId !== this.prevSoftState.leaderId || soft.role !== this.prevSoftState.role) return true;
    if (!sameHardState(r.hardState(), this.prevHardState)) return true;
    const unstable = r.log.unstable;
    if (
      unstable.nextSnapshot() !== null ||
      unstable.offsetInProgress < unstable.offset + unstable.entries.length
    ) {
      return true;
    }
    return r.msgs.length > 0 || r.readStates.length > 0 || r.log.hasNextCommittedEntries();
  }

  /** Collects the work of this round; everything in it is handed out once. */
  ready(): Ready {
    const r = this.raft;
    const soft = this.softState();
    const softChanged =
      soft.leaderId !== this.prevSoftState.leaderId || soft.role !== this.prevSoftState.role;
    const hard = r.hardState();
    const hardChanged = !sameHardState(hard, this.prevHardState);
    const entries = r.log.unstable.nextEntries();
    const snapshot = r.log.unstable.nextSnapshot();
    const committedEntries = r.log.nextCommittedEntries();
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        hard.term !== this.prevHardState.term ||
        hard.vote !== this.prevHardState.vote ||
        entries.length > 0 ||
        snapshot !== null,
    };
    this.checkVotesPersisted(rd, hard);
    this.acceptReady(rd);
    return rd;
  }

  /** Figure 2: a granted vote is on stable storage (this Ready's hard state or an earlier one) before the answer leaves. */
  private checkVotesPersisted(rd: Ready, hard: HardState): void {
    for (const m of rd.messages) {
      if (m.type !== 'voteResp' || m.reject) continue;
      // A later term in the hard state also covers it: the node can never vote in m.term again.
      assert(
        hard.term > m.term || (hard.term === m.term && hard.vote === m.to),
        () =>
          `vote for ${m.to} in term ${m.term} is not in the hard state (term ${hard.term}, vote ${hard.vote})`,
      );
    }
  }

  private acceptReady(rd: Ready): void {
    const r = this.raft;
    if (rd.softState !== null) this.prevSoftState = rd.softState;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    r.msgs = [];
    r.readStates = [];
    r.readOnly.seal();
    r.log.unstable.acceptInProgress();
    const marks = this.marks ?? { stableIndex: 0, stableTerm: 0, snapshotIndex: 0, appliedIndex: 0 };
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) {
      marks.stableIndex = lastEntry.index;
      marks.stableTerm = lastEntry.term;
    }
    if (rd.snapshot !== null) marks.snapshotIndex = rd.snapshot.metadata.index;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      r.log.acceptApplying(lastCommitted.index);
      marks.appliedIndex = lastCommitted.index;
      r.reduceUncommittedSize(rd.committedEntries);
    }
    this.marks = marks;
  }

  /** Closes the round of the last ready(): its entries and snapshot are stable, its committed entries applied. */
  advance(): void {
    const marks = this.marks;
    if (marks === null) return;
    this.marks = null;
    const log = this.raft.log;
    if (marks.snapshotIndex > 0) {
      log.stableSnapTo(marks.snapshotIndex);
      log.appliedSnapshot(marks.snapshotIndex);
    }
    if (marks.stableIndex > 0) log.stableTo(marks.stableIndex, marks.stableTerm);
    if (!this.raft.cfg.asyncApply && marks.appliedIndex > log.applied)
      this.raft.appliedTo(marks.appliedIndex);
    this.checkInvariants();
  }

  /** Term, indexes, role and leader, without the membership and progress copies status() makes. */
  basicStatus(): RaftBasicStatus {
    const r = this.raft;
    return {
      term: r.term,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      role: r.role,
      leaderId: r.lead,
    };
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress: PeerProgressStatus[] = [];
    if (r.role === 'leader') {
      for (const id of r.tracker.ids()) {
        const pr = r.tracker.progress.get(id);
        if (pr === undefined) continue;
        progress.push({
          id,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          pendingSnapshot: pr.pendingSnapshot,
          inflightCount: pr.inflights.count,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      role: r.role,
      leaderId: r.lead,
      leadTransferee: r.leadTransferee,
      confState: r.tracker.confState(),
      progress,
    };
  }

  /** Cheap checks after every call: term and commit never go back; applied <= committed <= lastIndex. */
  private checkInvariants(): void {
    const r = this.raft;
    const log = r.log;
    assert(r.term >= this.termSeen, () => `term decreased from ${this.termSeen} to ${r.term}`);
    assert(
      log.committed >= this.commitSeen,
      () => `commit decreased from ${this.commitSeen} to ${log.committed}`,
    );
    assert(log.applied <= log.committed, () => `applied ${log.applied} > committed ${log.committed}`);
    assert(
      log.committed <= log.lastIndex(),
      () => `committed ${log.committed} > last index ${log.lastIndex()}`,
    );
    assert(r.role !== 'leader' || r.lead === r.id, 'a leader must know itself as leader');
    assert(r.vote === NONE || r.term > 0, 'a vote needs a term');
    this.termSeen = r.term;
    this.commitSeen = log.committed;
  }
}
