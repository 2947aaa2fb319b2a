// Typed errors of the store-to-store transport. Each has a stable `code` and a
// `retryable` flag so callers decide what to do without reading message strings.

/** A wire message that cannot be turned into core data: the message names the field. */
export class TransportDecodeError extends Error {
  readonly code = 'decode' as const;
  readonly retryable = false;
  constructor(
    /** Dotted path of the offending field, e.g. `message.entries[3].term`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`cannot decode ${field}: ${reason}`);
    this.name = 'TransportDecodeError';
  }
}

/** Core data that cannot be put on the wire (a negative or unsafe integer): a bug in the caller. */
export class TransportEncodeError extends Error {
  readonly code = 'encode' as const;
  readonly retryable = false;
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`cannot encode ${field}: ${reason}`);
    this.name = 'TransportEncodeError';
  }
}

/**
 * Why a snapshot transfer failed. Every failure leaves no partial file behind; the sender
 * reports the snapshot as failed to Raft, which retries with a fresh transfer.
 */
export type SnapshotErrorCode =
  /** Too many snapshots to that store are already running or waiting on this side. */
  | 'sendQueueFull'
  /** The receiver is already receiving as many snapshots as it allows. */
  | 'receiverBusy'
  /** A chunk's CRC-32C did not match its data. */
  | 'corrupt'
  /** Frames out of order, offsets with gaps, a missing or repeated header, or a size mismatch. */
  | 'protocol'
  /** The header does not describe a snapshot this store accepts (wrong store, bad fields, too large). */
  | 'rejected'
  /** No progress within the stall timeout. */
  | 'timeout'
  /** The stream broke (peer gone, cancelled, transport closed) before the transfer finished. */
  | 'interrupted'
  /** Reading the source data or writing the temp file failed. */
  | 'io'
  /** The store's onSnapshot handler refused or failed to take the verified snapshot. */
  | 'applyFailed';

const RETRYABLE_SNAPSHOT_CODES: ReadonlySet<SnapshotErrorCode> = new Set<SnapshotErrorCode>([
  'sendQueueFull',
  'receiverBusy',
  'corrupt',
  'timeout',
  'interrupted',
  'io',
  'applyFailed',
]);

export const SNAPSHOT_ERROR_CODES: readonly SnapshotErrorCode[] = [
  'sendQueueFull',
  'receiverBusy',
  'corrupt',
  'protocol',
  'rejected',
  'timeout',
  'interrupted',
  'io',
  'applyFailed',
];

export function isSnapshotErrorCode(value: string): value is SnapshotErrorCode {
  return (SNAPSHOT_ERROR_CODES as readonly string[]).includes(value);
}

export class SnapshotTransferError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(`snapshot transfer failed (${code}): ${message}`);
    this.name = 'SnapshotTransferError';
    this.retryable = RETRYABLE_SNAPSHOT_CODES.has(code);
  }
}
