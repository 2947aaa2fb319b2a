// Configuration of one Raft node, validated up front (validateConfig) so that a nonsense
// setting fails at construction with a message naming the field, never at runtime.
import type { NodeId } from './types.js';
import { NONE } from './types.js';
import type { Storage } from './storage.js';
import { RaftConfigError } from './errors.js';

/** A seeded source of randomness, injected so runs are reproducible. */
export interface RandomSource {
  /** An integer uniformly drawn from [0, bound). bound >= 1. */
  nextInt(bound: number): number;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Randomized election timeout is drawn from [electionTimeoutTicks, 2 * electionTimeoutTicks). */
  readonly electionTimeoutTicks: number;
  /** Leader sends heartbeats every heartbeatIntervalTicks; must be < electionTimeoutTicks. */
  readonly heartbeatIntervalTicks: number;
  readonly storage: Storage;
  readonly random: RandomSource;
  /** Index already applied by the state machine when the node (re)starts. Default: the snapshot index. */
  readonly appliedIndex?: number;
  /** Byte cap of the entries in one append message. Default 1 MiB. */
  readonly maxMsgSizeBytes?: number;
  /** Bound on append messages in flight to one follower in replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Bound on the bytes of proposed-but-uncommitted entries on the leader (0 = no limit). Default 32 MiB. */
  readonly maxUncommittedEntriesSizeBytes?: number;
  /** Byte cap of committed entries handed out in one Ready. Default 16 MiB. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Byte cap of one proposed entry (proposal error entryTooLarge beyond it). Default 8 MiB. */
  readonly maxEntrySizeBytes?: number;
  /** Thesis §9.6 pre-vote: a node only bumps its term after a pre-vote quorum. Default true. */
  readonly preVote?: boolean;
  /** A leader steps down without a quorum within an election timeout (needed for lease reads). Default true. */
  readonly checkQuorum?: boolean;
  /**
   * Whether a node starting with persisted state stays quiet (grants no vote) for one election
   * timeout. Default true: before the restart it may have acknowledged a heartbeat whose lease
   * a vote would break. The host may pass false when the persisted state is one no leader ever
   * touched (a region peer just created by a split, still at its initial term): nothing it
   * acknowledged can be leased, and staying quiet only delays the new group's first election.
   */
  readonly quietOnRestart?: boolean;
  /**
   * Ticks subtracted from the election timeout to form the lease, covering clock drift
   * between nodes. The lease read is only correct if clocks tick at rates that differ by
   * less than this margin over one election timeout. Default: electionTimeoutTicks / 5, rounded up.
   */
  readonly leaseClockDriftMarginTicks?: number;
  /**
   * When false (default) advance() counts the committed entries of that Ready as applied.
   * When true the caller applies in the background and calls reportApplied(index). Default false.
   */
  readonly asyncApply?: boolean;
  /** Drop proposals on followers instead of forwarding (Flotilla's store always does). Default false. */
  readonly disableProposalForwarding?: boolean;
  /** Bound on read requests waiting on the leader (queued or waiting for their heartbeat round). Default 4096. */
  readonly maxPendingReadRequests?: number;
}

const MIB = 1024 * 1024;

/**
 * Defaults of the optional fields. leaseClockDriftMarginTicks has no fixed default: it is
 * one fifth of electionTimeoutTicks, rounded up (see validateConfig).
 */
export const CONFIG_DEFAULTS = {
  appliedIndex: 0,
  maxMsgSizeBytes: 1 * MIB,
  maxInflightMsgs: 256,
  maxUncommittedEntriesSizeBytes: 32 * MIB,
  maxCommittedSizePerReadyBytes: 16 * MIB,
  maxEntrySizeBytes: 8 * MIB,
  preVote: true,
  checkQuorum: true,
  quietOnRestart: true,
  asyncApply: false,
  disableProposalForwarding: false,
  maxPendingReadRequests: 4096,
} as const;

/** A RaftConfig with every default filled in, as the core uses it. */
export type ResolvedRaftConfig = { readonly [K in keyof RaftConfig]-?: NonNullable<RaftConfig[K]> };

function positiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RaftConfigError(field, `must be a positive integer, got ${value}`);
  }
  return value;
}

function nonNegativeInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RaftConfigError(field, `must be a non-negative integer, got ${value}`);
  }
  return value;
}

function boolean(field: string, value: boolean): boolean {
  if (typeof value !== 'boolean') throw new RaftConfigError(field, `must be a boolean, got ${String(value)}`);
  return value;
}

function validateCollaborators(config: RaftConfig): void {
  const storage = config.storage as Partial<Storage> | undefined;
  if (typeof storage !== 'object' || storage === null || typeof storage.entries !== 'function') {
    throw new RaftConfigError('storage', 'must implement the Storage interface');
  }
  const random = config.random as Partial<RandomSource> | undefined;
  if (typeof random !== 'object' || random === null || typeof random.nextInt !== 'function') {
    throw new RaftConfigError('random', 'must implement RandomSource (nextInt)');
  }
}

/** Checks every field and fills in defaults; throws RaftConfigError naming the first bad field. */
export function validateConfig(config: RaftConfig): ResolvedRaftConfig {
  if (config.id === NONE) throw new RaftConfigError('id', 'must not be NONE (0)');
  const id = positiveInteger('id', config.id);
  const electionTimeoutTicks = positiveInteger('electionTimeoutTicks', config.electionTimeoutTicks);
  const heartbeatIntervalTicks = positiveInteger('heartbeatIntervalTicks', config.heartbeatIntervalTicks);
  if (heartbeatIntervalTicks >= electionTimeoutTicks) {
    throw new RaftConfigError(
      'heartbeatIntervalTicks',
      `must be less than electionTimeoutTicks (${electionTimeoutTicks}), got ${heartbeatIntervalTicks}`,
    );
  }
  validateCollaborators(config);
  const d = CONFIG_DEFAULTS;
  const maxUncommittedEntriesSizeBytes = nonNegativeInteger(
    'maxUncommittedEntriesSizeBytes',
    config.maxUncommittedEntriesSizeBytes ?? d.maxUncommittedEntriesSizeBytes,
  );
  const maxEntrySizeBytes = positiveInteger(
    'maxEntrySizeBytes',
    config.maxEntrySizeBytes ?? d.maxEntrySizeBytes,
  );
  if (maxUncommittedEntriesSizeBytes > 0 && maxEntrySizeBytes > maxUncommittedEntriesSizeBytes) {
    throw new RaftConfigError(
      'maxEntrySizeBytes',
      `must not exceed maxUncommittedEntriesSizeBytes (${maxUncommittedEntriesSizeBytes}), got ${maxEntrySizeBytes}`,
    );
  }
  const leaseClockDriftMarginTicks = nonNegativeInteger(
    'leaseClockDriftMarginTicks',
    config.leaseClockDriftMarginTicks ?? Math.ceil(electionTimeoutTicks / 5),
  );
  if (leaseClockDriftMarginTicks >= electionTimeoutTicks) {
    throw new RaftConfigError(
      'leaseClockDriftMarginTicks',
      `must be less than electionTimeoutTicks (${electionTimeoutTicks}), got ${leaseClockDriftMarginTicks}`,
    );
  }
  return {
    id,
    electionTimeoutTicks,
    heartbeatIntervalTicks,
    storage: config.storage,
    random: config.random,
    appliedIndex: nonNegativeInteger('appliedIndex', config.appliedIndex ?? d.appliedIndex),
    maxMsgSizeBytes: positiveInteger('maxMsgSizeBytes', config.maxMsgSizeBytes ?? d.maxMsgSizeBytes),
    maxInflightMsgs: positiveInteger('maxInflightMsgs', config.maxInflightMsgs ?? d.maxInflightMsgs),
    maxUncommittedEntriesSizeBytes,
    maxCommittedSizePerReadyBytes: positiveInteger(
      'maxCommittedSizePerReadyBytes',
      config.maxCommittedSizePerReadyBytes ?? d.maxCommittedSizePerReadyBytes,
    ),
    maxEntrySizeBytes,
    preVote: boolean('preVote', config.preVote ?? d.preVote),
    checkQuorum: boolean('checkQuorum', config.checkQuorum ?? d.checkQuorum),
    quietOnRestart: boolean('quietOnRestart', config.quietOnRestart ?? d.quietOnRestart),
    leaseClockDriftMarginTicks,
    asyncApply: boolean('asyncApply', config.asyncApply ?? d.asyncApply),
    disableProposalForwarding: boolean(
      'disableProposalForwarding',
      config.disableProposalForwarding ?? d.disableProposalForwarding,
    ),
    maxPendingReadRequests: positiveInteger(
      'maxPendingReadRequests',
      config.maxPendingReadRequests ?? d.maxPendingReadRequests,
    ),
  };
}
