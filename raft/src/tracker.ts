// The leader's (and candidate's) bookkeeping of the group: the current membership
// configuration, one Progress per member, and the votes of an election.
import type { ConfState, NodeId } from './types.js';
import type { JointConfig, VoteResult } from './quorum.js';
import { jointCommittedIndex, jointVoteResult } from './quorum.js';
import { Progress } from './progress.js';
import { assert } from './invariants.js';

/** A membership configuration in the form the changer and the quorum code use. */
export interface TrackerConfig {
  readonly voters: JointConfig;
  readonly learners: ReadonlySet<NodeId>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

export function configFromConfState(cs: ConfState): TrackerConfig {
  return {
    voters: [new Set(cs.voters), new Set(cs.votersOutgoing)],
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

export function confStateFromConfig(config: TrackerConfig): ConfState {
  return {
    voters: sorted(config.voters[0]),
    learners: sorted(config.learners),
    votersOutgoing: sorted(config.voters[1]),
    learnersNext: sorted(config.learnersNext),
    autoLeave: config.autoLeave,
  };
}

export function isJoint(config: TrackerConfig): boolean {
  return config.voters[1].size > 0;
}

/** Every node named by the configuration, sorted. */
export function configMembers(config: TrackerConfig): NodeId[] {
  return sorted(
    new Set([...config.voters[0], ...config.voters[1], ...config.learners, ...config.learnersNext]),
  );
}

/** Checks the structural invariants of a configuration against its progress map. */
export function checkConfig(config: TrackerConfig, progress: ReadonlyMap<NodeId, Progress>): void {
  for (const id of configMembers(config))
    assert(progress.has(id), () => `config member ${id} has no progress`);
  for (const id of progress.keys()) {
    const inConfig = config.voters[0].has(id) || config.voters[1].has(id) || config.learners.has(id);
    assert(inConfig || config.learnersNext.has(id), () => `progress for ${id}, which is not in the config`);
  }
  for (const id of config.learners) {
    assert(
      !config.voters[0].has(id) && !config.voters[1].has(id),
      () => `${id} is both a learner and a voter`,
    );
    assert((progress.get(id) as Progress).isLearner, () => `learner ${id} has a voter progress`);
  }
  for (const id of config.learnersNext) {
    assert(config.voters[1].has(id), () => `learnersNext ${id} is not an outgoing voter`);
    assert(!config.learners.has(id), () => `learnersNext ${id} is already a learner`);
  }
  if (!isJoint(config)) {
    assert(config.learnersNext.size === 0, 'learnersNext must be empty outside a joint config');
    assert(!config.autoLeave, 'autoLeave must be false outside a joint config');
  }
}

export class ProgressTracker {
  config: TrackerConfig;
  progress: Map<NodeId, Progress>;
  private readonly votes = new Map<NodeId, boolean>();
  /** Cached sorted ids of `progress` and of the voters; recomputed by setConfig. */
  private sortedIds: readonly NodeId[] = [];
  private sortedVoterIds: readonly NodeId[] = [];
  readonly maxInflightMsgs: number;

  constructor(maxInflightMsgs: number) {
    this.maxInflightMsgs = maxInflightMsgs;
    this.config = {
      voters: [new Set(), new Set()],
      learners: new Set(),
      learnersNext: new Set(),
      autoLeave: false,
    };
    this.progress = new Map();
  }

  /** Installs a configuration and its progress map (from the changer or a ConfState). */
  setConfig(config: TrackerConfig, progress: Map<NodeId, Progress>): void {
    checkConfig(config, progress);
    this.config = config;
    this.progress = progress;
    this.sortedIds = sorted(progress.keys());
    this.sortedVoterIds = sorted(new Set([...config.voters[0], ...config.voters[1]]));
  }

  confState(): ConfState {
    return confStateFromConfig(this.config);
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters[0].has(id) || this.config.voters[1].has(id);
  }

  isMember(id: NodeId): boolean {
    return this.progress.has(id);
  }

  /** One voter and no joint config: the node decides alone. */
  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  /** Voter ids (both halves of a joint config), sorted. */
  voterIds(): readonly NodeId[] {
    return this.sortedVoterIds;
  }

  /** Every tracked id, sorted, so messages go out in a deterministic order. */
  ids(): readonly NodeId[] {
    return this.sortedIds;
  }

  /** Largest index replicated on a quorum (joint: on both quorums). */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** Applies a per-voter number through the joint quorum (used for the lease start). */
  quorumMin(value: (id: NodeId) => number | undefined): number {
    return jointCommittedIndex(this.config.voters, value);
  }

  /** Whether a quorum was recently active (check-quorum). */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) if (!pr.isLearner) active.set(id, pr.recentActive);
    return jointVoteResult(this.config.voters, active) === 'won';
  }

  /** Whether the given set of acks forms a quorum. */
  isQuorum(acks: ReadonlySet<NodeId>): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const id of acks) votes.set(id, true);
    return jointVoteResult(this.config.voters, votes) === 'won';
  }

  /** New leadership or election: forget what was known about every follower (§5.3 nextIndex reset). */
  resetProgress(lastIndex: number, selfId: NodeId): void {
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(lastIndex + 1, this.maxInflightMsgs, pr.isLearner, false);
      if (id === selfId) fresh.match = lastIndex;
      this.progress.set(id, fresh);
    }
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first answer of each voter; later answers are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}
