// The errors the SDK throws: one class per concept, each with a stable `code` to switch on
// and a `retryable` flag saying whether the caller may simply try again. Nothing here is
// decided by parsing messages. ResultUnknownError is the honest answer when a write may or
// may not have been applied (it was sent, then the answer was lost or the deadline passed).

export type FlotillaErrorCode =
  | 'INVALID_ARGUMENT'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'UNAVAILABLE'
  | 'RESULT_UNKNOWN'
  | 'SERVER_BUSY'
  | 'QUEUE_FULL'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'TOO_MANY_KEYS'
  | 'ENTRY_TOO_LARGE'
  | 'DISK_FULL'
  | 'CLIENT_CLOSED'
  | 'INTERNAL';

export abstract class FlotillaError extends Error {
  abstract readonly code: FlotillaErrorCode;
  /** Whether calling again is safe and may succeed (never true when a write may have been applied). */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed; `field` names what is wrong. Not retryable. */
export class InvalidArgumentError extends FlotillaError {
  readonly code = 'INVALID_ARGUMENT';
  readonly retryable = false;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid ${field}: ${message}`);
  }
}

/** The deadline passed before the call finished, and no write of it may have been applied. */
export class TimeoutError extends FlotillaError {
  readonly code = 'TIMEOUT';
  readonly retryable = true;
}

/** The caller's AbortSignal fired before anything of the call could have been applied. */
export class AbortedError extends FlotillaError {
  readonly code = 'ABORTED';
  readonly retryable = true;
}

/** No store or PD member could be reached (or no leader elected) before the deadline. */
export class UnavailableError extends FlotillaError {
  readonly code = 'UNAVAILABLE';
  readonly retryable = true;
}

/**
 * A write was sent and then its answer was lost (connection dropped, deadline passed, abort):
 * it may or may not have been applied. Read the data to find out; blindly retrying could
 * apply it twice.
 */
export class ResultUnknownError extends FlotillaError {
  readonly code = 'RESULT_UNKNOWN';
  readonly retryable = false;
}

/** The store kept shedding load (ServerIsBusy) until the deadline. */
export class ServerBusyError extends FlotillaError {
  readonly code = 'SERVER_BUSY';
  readonly retryable = true;
}

/** The client's own queue for a store is full (too many requests waiting); shed load or raise the limit. */
export class QueueFullError extends FlotillaError {
  readonly code = 'QUEUE_FULL';
  readonly retryable = true;
}

/** A key exceeds the store's key size limit. */
export class KeyTooLargeError extends FlotillaError {
  readonly code = 'KEY_TOO_LARGE';
  readonly retryable = false;
}

/** A value exceeds the store's value size limit. */
export class ValueTooLargeError extends FlotillaError {
  readonly code = 'VALUE_TOO_LARGE';
  readonly retryable = false;
}

/** A request holds more keys or mutations than the store accepts at once. */
export class TooManyKeysError extends FlotillaError {
  readonly code = 'TOO_MANY_KEYS';
  readonly retryable = false;
}

/** A write encodes to a Raft entry larger than the store accepts; write less per call. */
export class EntryTooLargeError extends FlotillaError {
  readonly code = 'ENTRY_TOO_LARGE';
  readonly retryable = false;
}

/**
 * The region's leader refused the write because its store's disk is (almost) full. Deletes
 * are still accepted there, and reads served. Not retryable by default: it lasts until
 * space is freed or PD moves the leader to a store with room (then a later call succeeds).
 */
export class DiskFullError extends FlotillaError {
  readonly code = 'DISK_FULL';
  readonly retryable = false;
  constructor(
    /** The stores whose disks are full. */
    readonly storeIds: readonly number[],
    message: string,
  ) {
    super(message);
  }
}

/** The client was closed. */
export class ClientClosedError extends FlotillaError {
  readonly code = 'CLIENT_CLOSED';
  readonly retryable = false;
}

/** The server or the client broke its contract (a bug); the message says how. */
export class InternalError extends FlotillaError {
  readonly code = 'INTERNAL';
  readonly retryable = false;
}
