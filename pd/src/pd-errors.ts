// PD's request failures as data: each carries the pdpb.ErrorType it is reported as in the
// response header (with its message), except malformed requests, which the gRPC layer
// turns into status INVALID_ARGUMENT. Messages are for people; callers decide on `type`.
import { pdpb } from '@flotilla/proto';

export class PdRequestError extends Error {
  constructor(
    readonly type: pdpb.ErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'PdRequestError';
  }

  get retryable(): boolean {
    return this.type === pdpb.ErrorType.NOT_LEADER || this.type === pdpb.ErrorType.NOT_BOOTSTRAPPED;
  }
}

/** The request cannot be understood (missing field, id out of range, inverted range). */
export class PdInvalidArgumentError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'PdInvalidArgumentError';
  }
}

export function notLeader(message: string): PdRequestError {
  return new PdRequestError(pdpb.ErrorType.NOT_LEADER, message);
}

export function invalidArgument(message: string): PdInvalidArgumentError {
  return new PdInvalidArgumentError(message);
}
