// Limits on client requests, validated before anything reaches Raft, and the typed error a
// violation becomes (a gRPC INVALID_ARGUMENT on unary calls, a KeyError inside a batch).
import { kvpb } from '@flotilla/proto';

export interface KvLimits {
  readonly keySizeBytesMax: number;
  readonly valueSizeBytesMax: number;
  /** Keys of one BatchGet, mutations of one BatchWrite. */
  readonly batchKeysMax: number;
  readonly scanLimitMax: number;
  /** Used when a request carries no deadline. */
  readonly defaultDeadlineMs: number;
  readonly deadlineMsMax: number;
  /** Requests of one BatchCommands frame. */
  readonly batchCommandsRequestsMax: number;
}

export const KV_LIMITS_DEFAULTS: KvLimits = {
  keySizeBytesMax: 8 * 1024,
  valueSizeBytesMax: 8 * 1024 * 1024,
  batchKeysMax: 10_000,
  scanLimitMax: 10_000,
  defaultDeadlineMs: 10_000,
  deadlineMsMax: 300_000,
  batchCommandsRequestsMax: 4096,
};

export class KvRequestError extends Error {
  constructor(
    readonly code: kvpb.KeyErrorCode,
    message: string,
    readonly key: Uint8Array = new Uint8Array(0),
  ) {
    super(message);
    this.name = 'KvRequestError';
  }
}

export function invalid(message: string, key?: Uint8Array): KvRequestError {
  return new KvRequestError(kvpb.KeyErrorCode.INVALID_ARGUMENT, message, key);
}

export function checkKey(limits: KvLimits, key: Uint8Array, field = 'key'): void {
  if (key.length === 0) throw invalid(`${field} must not be empty`);
  if (key.length > limits.keySizeBytesMax) {
    throw new KvRequestError(
      kvpb.KeyErrorCode.KEY_TOO_LARGE,
      `${field} is ${key.length} bytes; the limit is ${limits.keySizeBytesMax} bytes`,
      key.subarray(0, 64),
    );
  }
}

export function checkValue(limits: KvLimits, key: Uint8Array, value: Uint8Array): void {
  if (value.length > limits.valueSizeBytesMax) {
    throw new KvRequestError(
      kvpb.KeyErrorCode.VALUE_TOO_LARGE,
      `value is ${value.length} bytes; the limit is ${limits.valueSizeBytesMax} bytes`,
      key,
    );
  }
}

export function checkCount(limits: KvLimits, count: number, what: string): void {
  if (count === 0) throw invalid(`${what} must not be empty`);
  if (count > limits.batchKeysMax) {
    throw new KvRequestError(
      kvpb.KeyErrorCode.TOO_MANY_KEYS,
      `${count} ${what}; the limit is ${limits.batchKeysMax}`,
    );
  }
}

/**
 * A TTL in milliseconds as a number; absent means the key never expires. A TTL that is
 * present must be at least 1 ms: ttl_ms is an `optional` field, so "no expiry" is said by
 * leaving it out, and a 0 is most likely a remaining time that ran out on the caller's side.
 * Storing such a key for ever would be the opposite of what was meant, so it is refused
 * (as Redis refuses `SET ... PX 0`) rather than read as "none" (TiKV's reading, whose
 * field has no presence).
 */
export function ttlMsOf(
  ttlMs: bigint | undefined,
  limitMs = 10 * 365 * 24 * 3600 * 1000,
): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (ttlMs < 1n || ttlMs > BigInt(limitMs))
    throw invalid(
      `ttlMs ${ttlMs} is out of range (1 .. ${limitMs}); leave it unset for a key that never expires`,
    );
  return Number(ttlMs);
}
