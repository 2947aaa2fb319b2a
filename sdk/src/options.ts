// Client-wide settings with their defaults, and the options every call takes. Every limit
// the client keeps (queues, cache, retries) is named here, so it can be tuned and so it is
// visible that nothing grows without bound.
import { InvalidArgumentError } from './errors.js';

/**
 * How fresh a read must be, and how it is made linearizable: 'linearizable' (ReadIndex, a
 * heartbeat round), 'log' (a read entry through the Raft log: replicated, persisted and
 * applied like a write; slower, for comparison and for callers that want the read ordered in
 * the log), 'lease' (the leader's lease) or 'stale' (no freshness).
 */
export type Consistency = 'linearizable' | 'log' | 'lease' | 'stale';

export interface ClientOptions {
  /** host:port of one or more PD members; the client follows PD's leader among them. */
  readonly pdEndpoints: readonly string[];
  /** Default time budget of a call, retries included. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Longest wait for a connection to a store or PD member before trying another. Default 1 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Attempts one call may make against stores (redirects and retries included). Default 64. */
  readonly attemptsMax?: number;
  /** First and largest pause between retries that need one (jittered, doubling). Defaults 10 / 500 ms. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * Coalesce concurrent requests to the same store into one BatchCommands frame (and gets of
   * one region into one BatchGet). Default true; false sends one unary RPC per request.
   */
  readonly coalesce?: boolean;
  /** How long a request may wait for others to join its frame; 0 (default) means the current event-loop turn. */
  readonly coalesceWindowMs?: number;
  /** Requests in flight to one store at once. Default 1 024. */
  readonly inFlightPerStoreMax?: number;
  /** Requests waiting for a slot to one store; beyond it calls fail with QueueFullError. Default 10 000. */
  readonly queuedPerStoreMax?: number;
  /** Regions kept in the routing cache (least recently used evicted first). Default 100 000. */
  readonly regionCacheSizeMax?: number;
  /** How long a cached region is trusted without an error to contradict it. Default 600 000 ms. */
  readonly regionCacheTtlMs?: number;
  /** Regions fetched per PD ScanRegions call when the cache misses (neighbours prefetched). Default 32. */
  readonly regionPrefetchCount?: number;
  /** Pairs asked per Scan request to a store. Default 256. */
  readonly scanPageSize?: number;
  /** gRPC keepalive ping interval on every channel. Default 10 000 ms. */
  readonly keepaliveTimeMs?: number;
}

export interface ResolvedClientOptions {
  readonly pdEndpoints: readonly string[];
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly attemptsMax: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly coalesce: boolean;
  readonly coalesceWindowMs: number;
  readonly inFlightPerStoreMax: number;
  readonly queuedPerStoreMax: number;
  readonly regionCacheSizeMax: number;
  readonly regionCacheTtlMs: number;
  readonly regionPrefetchCount: number;
  readonly scanPageSize: number;
  readonly keepaliveTimeMs: number;
}

/** Options of every call. */
export interface CallOptions {
  /** Time budget of this call, retries included; defaults to the client's timeoutMs. */
  readonly timeoutMs?: number;
  /** Aborts the call: before anything was sent it fails with AbortedError, after a write was sent with ResultUnknownError. */
  readonly signal?: AbortSignal;
}

export interface ReadOptions extends CallOptions {
  /** Default 'linearizable'. */
  readonly consistency?: Consistency;
}

export interface WriteOptions extends CallOptions {
  /**
   * Declare that applying this write twice is harmless for your application, so the client
   * may resend it after an ambiguous failure instead of failing with ResultUnknownError.
   * Default false. See the README: a resent put can overwrite a later write of another client.
   */
  readonly idempotent?: boolean;
}

export interface PutOptions extends WriteOptions {
  /** Time to live in milliseconds; the key disappears after it. Default: never expires. */
  readonly ttlMs?: number;
}

const DEFAULTS: Omit<ResolvedClientOptions, 'pdEndpoints'> = {
  timeoutMs: 10_000,
  connectTimeoutMs: 1_000,
  attemptsMax: 64,
  backoffBaseMs: 10,
  backoffMaxMs: 500,
  coalesce: true,
  coalesceWindowMs: 0,
  inFlightPerStoreMax: 1_024,
  queuedPerStoreMax: 10_000,
  regionCacheSizeMax: 100_000,
  regionCacheTtlMs: 600_000,
  regionPrefetchCount: 32,
  scanPageSize: 256,
  keepaliveTimeMs: 10_000,
};

/** Largest count the client sends as one uint32 field (scan limits). */
const UINT32_MAX = 0xffff_ffff;

/**
 * Longest duration the client accepts, in ms: 2^31 - 1 (about 24.8 days), the longest delay
 * a Node.js timer keeps (a longer one fires after 1 ms with a TimeoutOverflowWarning). A
 * longer timeout is refused with InvalidArgumentError rather than cut silently.
 */
export const DURATION_MS_MAX = 2 ** 31 - 1;

export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options', 'expected an object');
  const endpoints = options.pdEndpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    throw new InvalidArgumentError('pdEndpoints', 'give at least one PD address (host:port)');
  for (const e of endpoints) {
    if (typeof e !== 'string' || !/^[^:\s]+:\d+$/.test(e))
      throw new InvalidArgumentError('pdEndpoints', `${JSON.stringify(e)} is not host:port`);
  }
  const resolved: ResolvedClientOptions = { ...DEFAULTS, pdEndpoints: [...endpoints] };
  for (const [name, value] of Object.entries(options)) {
    if (name === 'pdEndpoints' || value === undefined) continue;
    if (!(name in DEFAULTS)) throw new InvalidArgumentError(name, 'unknown option');
    const expected = typeof DEFAULTS[name as keyof typeof DEFAULTS];
    if (typeof value !== expected) throw new InvalidArgumentError(name, `expected a ${expected}`);
    if (expected === 'number') {
      const min = name === 'coalesceWindowMs' ? 0 : 1;
      if (name.endsWith('Ms')) checkDurationMs(name, value as number, min);
      else checkCount(name, value as number, min);
    }
    (resolved as unknown as Record<string, unknown>)[name] = value;
  }
  if (resolved.backoffBaseMs > resolved.backoffMaxMs)
    throw new InvalidArgumentError('backoffBaseMs', 'must not exceed backoffMaxMs');
  return resolved;
}

/** Checks a caller-supplied count or duration: an integer in [min, 2^32). */
export function checkCount(field: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > UINT32_MAX)
    throw new InvalidArgumentError(field, `must be an integer in [${min}, ${UINT32_MAX}], got ${value}`);
}

/** Checks a caller-supplied duration in ms: an integer in [min, DURATION_MS_MAX]. */
export function checkDurationMs(field: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > DURATION_MS_MAX)
    throw new InvalidArgumentError(
      field,
      `must be an integer number of ms in [${min}, ${DURATION_MS_MAX}] (about 24.8 days, the longest Node.js timer), got ${value}`,
    );
}

export function checkConsistency(value: unknown): Consistency {
  if (value === undefined) return 'linearizable';
  if (value === 'linearizable' || value === 'log' || value === 'lease' || value === 'stale') return value;
  throw new InvalidArgumentError(
    'consistency',
    `expected 'linearizable', 'log', 'lease' or 'stale', got ${String(value)}`,
  );
}
