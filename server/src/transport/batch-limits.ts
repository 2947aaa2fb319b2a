// Bounds of the Batch stream, one named constant each. Every queue and buffer of the
// transport is capped by one of these; the defaults suit a store with thousands of regions.

const MIB = 1024 * 1024;

export interface BatchLimits {
  /** Messages waiting for one destination store; send() drops beyond this. */
  readonly queueMessagesMax: number;
  /** Estimated bytes waiting for one destination store; send() drops beyond this. */
  readonly queueSizeBytesMax: number;
  /** Estimated bytes of one RaftMessageBatch frame; a single larger message travels alone. */
  readonly frameSizeBytesMax: number;
  /** Frames written but not yet acknowledged on one stream; writing pauses beyond this. */
  readonly framesInFlightMax: number;
  /** How long opening a stream may take before the attempt counts as failed. */
  readonly connectTimeoutMs: number;
  /** How long frames may stay unacknowledged before the stream is considered dead. */
  readonly ackTimeoutMs: number;
  /** Pause before writing again after the receiver said it is busy. */
  readonly busyBackoffMs: number;
}

export const BATCH_LIMITS_DEFAULT: BatchLimits = {
  queueMessagesMax: 8_192,
  queueSizeBytesMax: 64 * MIB,
  frameSizeBytesMax: 4 * MIB,
  framesInFlightMax: 8,
  connectTimeoutMs: 5_000,
  ackTimeoutMs: 15_000,
  busyBackoffMs: 20,
};

/**
 * Largest frame a Raft server accepts, in bytes. Frames are cut at frameSizeBytesMax, but
 * one message may be larger (an entry may be up to raft's maxEntrySizeBytes, 8 MiB).
 */
export const FRAME_RECEIVE_SIZE_BYTES_MAX = 64 * MIB;

/** Options a grpc.Server hosting the Raft service must be created with. */
export const RAFT_SERVER_OPTIONS = {
  'grpc.max_receive_message_length': FRAME_RECEIVE_SIZE_BYTES_MAX,
} as const;
