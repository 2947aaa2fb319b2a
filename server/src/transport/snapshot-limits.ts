// Bounds of the Snapshot stream, one named constant each, and the shared limits check.

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export interface SnapshotSendLimits {
  /** Size of every data chunk except possibly the last. */
  readonly chunkSizeBytes: number;
  /** Snapshots streaming to one store at the same time. */
  readonly sendsPerStoreMax: number;
  /** Snapshots waiting for a slot to one store; more are refused with 'sendQueueFull'. */
  readonly sendQueuePerStoreMax: number;
  /** A transfer with no progress (address, connect, a chunk accepted, the answer) for this long fails with 'timeout'. */
  readonly stallTimeoutMs: number;
}

export interface SnapshotReceiveLimits {
  /** Snapshots received at the same time; more are refused with 'receiverBusy'. */
  readonly receivesMax: number;
  /** Largest snapshot accepted. */
  readonly snapshotSizeBytesMax: number;
  /** Largest chunk size a header may announce. */
  readonly chunkSizeBytesMax: number;
  /** A stream with no frame for this long fails with 'timeout'. */
  readonly stallTimeoutMs: number;
}

export const SNAPSHOT_SEND_LIMITS_DEFAULT: SnapshotSendLimits = {
  chunkSizeBytes: 1 * MIB,
  sendsPerStoreMax: 4,
  sendQueuePerStoreMax: 16,
  stallTimeoutMs: 30_000,
};

export const SNAPSHOT_RECEIVE_LIMITS_DEFAULT: SnapshotReceiveLimits = {
  receivesMax: 4,
  snapshotSizeBytesMax: 64 * GIB,
  chunkSizeBytesMax: 4 * MIB,
  stallTimeoutMs: 30_000,
};

export function validatePositiveIntegers<T extends object>(name: string, limits: T): T {
  for (const [field, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new RangeError(`${name}.${field} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}
