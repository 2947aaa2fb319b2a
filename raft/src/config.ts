// Configuration of one Raft node, validated up front (validateConfig) so that a nonsense
// setting fails at construction with a message naming the field, never at runtime.
import type { NodeId } from './types.js';
import type { Storage } from './storage.js';

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
  /** Index already applied by the state machine when the node (re)starts. */
  readonly appliedIndex?: number;
  /** Byte cap of the entries in one append message. */
  readonly maxMsgSizeBytes?: number;
  /** Bound on append messages in flight to one follower in replicate state. */
  readonly maxInflightMsgs?: number;
  /** Bound on the bytes of proposed-but-uncommitted entries on the leader (0 = no limit). */
  readonly maxUncommittedEntriesSizeBytes?: number;
  /** Byte cap of committed entries handed out in one Ready. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Byte cap of one proposed entry (RaftEntryTooLarge beyond it). */
  readonly maxEntrySizeBytes?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /**
   * Ticks subtracted from the election timeout to form the lease, covering clock drift
   * between nodes. The lease read is only correct if clocks tick at rates that differ by
   * less than this margin over one election timeout.
   */
  readonly leaseClockDriftMarginTicks?: number;
  /**
   * When false (default) advance() counts the committed entries of that Ready as applied.
   * When true the caller applies in the background and calls reportApplied(index).
   */
  readonly asyncApply?: boolean;
  /** Drop proposals on followers instead of forwarding (Flotilla's store always does). */
  readonly disableProposalForwarding?: boolean;
}
