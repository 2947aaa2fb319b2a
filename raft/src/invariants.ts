// Assertions that stay on in production (TigerBeetle style): a broken invariant throws
// RaftInvariantError with a message saying what was expected, instead of going on.
import { RaftInvariantError } from './errors.js';

/** `message` may be a function so that hot paths do not build the text unless it fails. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}

/** Terms and indexes are non-negative safe integers. */
export function assertIndex(value: number, what: string): void {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    () => `${what} must be a non-negative safe integer, got ${value}`,
  );
}

export function assertNever(value: never, what: string): never {
  throw new RaftInvariantError(`unexpected ${what}: ${String(value)}`);
}
