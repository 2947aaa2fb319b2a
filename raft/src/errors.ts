// Error classes of the Raft core, one per concept, each with a stable `code` so callers
// switch on data instead of parsing messages. StorageError lives with the Storage contract.

/** A RaftConfig field is missing or out of range. Thrown by validateConfig at construction. */
export class RaftConfigError extends Error {
  readonly code = 'RAFT_CONFIG_INVALID';
  readonly retryable = false;
  /** The offending RaftConfig field, e.g. 'heartbeatIntervalTicks'. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid raft config: ${field}: ${message}`);
    this.name = 'RaftConfigError';
    this.field = field;
  }
}

/**
 * A broken invariant: the core found itself in a state that must never happen (or was
 * driven against its contract). The node must stop; continuing could lose data.
 */
export class RaftInvariantError extends Error {
  readonly code = 'RAFT_INVARIANT';
  readonly retryable = false;
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftInvariantError';
  }
}

/** decodeConfChange was given bytes that are not a valid encoded ConfChange. */
export class ConfChangeDecodeError extends Error {
  readonly code = 'RAFT_CONF_CHANGE_DECODE';
  readonly retryable = false;
  constructor(message: string) {
    super(`cannot decode conf change: ${message}`);
    this.name = 'ConfChangeDecodeError';
  }
}
