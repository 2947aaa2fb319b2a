// The public client: createClient() connects to PD, and each method validates its
// arguments, opens a span, gives the call its deadline, and runs it through the request
// runner (routing, coalescing and retries live there). Writes that may have been applied
// before the call failed end in ResultUnknownError, never in a retry that could apply them
// twice. close() releases every channel, stream, timer and queue.
import type { kvpb } from './wire.js';
import { Deadline } from './deadline.js';
import { ClientClosedError, InternalError, InvalidArgumentError, ResultUnknownError } from './errors.js';
import type { Bytes } from './keys.js';
import { compareBytes } from './keys.js';
import type {
  CallOptions,
  ClientOptions,
  Consistency,
  PutOptions,
  ReadOptions,
  ResolvedClientOptions,
  WriteOptions,
} from './options.js';
import { checkConsistency, checkCount, checkDurationMs, resolveClientOptions } from './options.js';
import { PdClient } from './pd-client.js';
import { RegionCache } from './region-cache.js';
import type { RegionInfo } from './region-cache.js';
import { RegionLocator } from './region-locator.js';
import type { CallState } from './request-runner.js';
import { RequestRunner } from './request-runner.js';
import type { RequestKind } from './retry-policy.js';
import type { Mutation } from './arguments.js';
import {
  checkBytes,
  checkKey,
  checkKeys,
  checkMutations,
  checkTtl,
  checkValue,
  writeKind,
} from './arguments.js';
import type { KvPair } from './scan-iterator.js';
import { scanPages } from './scan-iterator.js';
import type { ClientStats } from './stats.js';
import { StatsRecorder } from './stats.js';
import { StorePool } from './store-pool.js';
import { traced } from './tracing.js';

export interface ScanOptions extends ReadOptions {
  /** First key, inclusive. Default: the start of the key space. */
  readonly start?: Bytes;
  /** End key, exclusive. Default: the end of the key space. */
  readonly end?: Bytes;
  /** Pairs to return at most. Default: all. */
  readonly limit?: number;
  /** Descending key order. Default false. */
  readonly reverse?: boolean;
  /** Return empty values. Default false. */
  readonly keysOnly?: boolean;
}

export interface CompareAndSwapOptions extends CallOptions {
  /** Time to live of the new value, in milliseconds. */
  readonly ttlMs?: number;
}

export interface CompareAndSwapResult {
  /** Whether the key held `expected` and was updated. */
  readonly succeeded: boolean;
  /** The value before the call; undefined when the key did not exist. */
  readonly previousValue: Buffer | undefined;
}

/** Regions one deleteRange call may span (each part is one request in flight). */
const DELETE_RANGE_PARTS_MAX = 10_000;

/** Keys of one BatchGet request; larger batches are split (the store accepts 10 000). */
const BATCH_GET_KEYS_MAX = 4_096;

/** Connects to PD (finding its leader) and returns a ready client. */
export async function createClient(options: ClientOptions): Promise<FlotillaClient> {
  const client = new FlotillaClient(resolveClientOptions(options));
  try {
    await client.ping();
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

export class FlotillaClient {
  private readonly statsRecorder = new StatsRecorder();
  private readonly pd: PdClient;
  private readonly pool: StorePool;
  private readonly runner: RequestRunner;
  private closed = false;

  /** Use createClient(). */
  constructor(private readonly options: ResolvedClientOptions) {
    this.pd = new PdClient(options, this.statsRecorder);
    this.pool = new StorePool(options, this.pd, this.statsRecorder);
    const cache = new RegionCache(options.regionCacheSizeMax, options.regionCacheTtlMs);
    const locator = new RegionLocator(cache, this.pd, this.statsRecorder, options.regionPrefetchCount);
    this.runner = new RequestRunner(locator, this.pool, options, this.statsRecorder);
  }

  /** Locates the first region (PD reachable, cluster bootstrapped); used by createClient. */
  async ping(options: CallOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    await this.runner.locator.locate(Buffer.alloc(0), deadline);
  }

  /** The value of `key`, or undefined when it does not exist. */
  async get(key: Bytes, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const k = checkKey(key, 'key');
    const res = await this.read('get', options, async (call) => {
      const { response } = await this.runner.onKey(
        k,
        { $case: 'get', get: { context: undefined, key: k } },
        call,
      );
      return response.$case === 'get' ? response.get : undefined;
    });
    return res?.found ? res.value : undefined;
  }

  /** Writes `value` under `key` (with an optional TTL). */
  async put(key: Bytes, value: Bytes, options: PutOptions = {}): Promise<void> {
    const k = checkKey(key, 'key');
    const v = checkValue(value, 'value');
    const ttlMs = checkTtl(options.ttlMs);
    await this.write('put', options, writeKind(options), async (call) => {
      await this.runner.onKey(
        k,
        { $case: 'put', put: { context: undefined, key: k, value: v, ttlMs } },
        call,
      );
    });
  }

  /** Deletes `key`; deleting a missing key succeeds. */
  async delete(key: Bytes, options: WriteOptions = {}): Promise<void> {
    const k = checkKey(key, 'key');
    await this.write('delete', options, writeKind(options), async (call) => {
      await this.runner.onKey(k, { $case: 'delete', delete: { context: undefined, key: k } }, call);
    });
  }

  /**
   * Sets `key` to `newValue` (null: deletes it) only if it currently holds `expected`
   * (null: does not exist). Atomic. Never resent after an ambiguous failure: a resent
   * compare-and-swap that had succeeded would report failure.
   */
  async compareAndSwap(
    key: Bytes,
    expected: Bytes | null,
    newValue: Bytes | null,
    options: CompareAndSwapOptions = {},
  ): Promise<CompareAndSwapResult> {
    const k = checkKey(key, 'key');
    const body: kvpb.CompareAndSwapRequest = {
      context: undefined,
      key: k,
      expected:
        expected === null
          ? { $case: 'expectedAbsent', expectedAbsent: {} }
          : { $case: 'expectedValue', expectedValue: checkValue(expected, 'expected') },
      update:
        newValue === null
          ? { $case: 'delete', delete: {} }
          : { $case: 'newValue', newValue: checkValue(newValue, 'newValue') },
      ttlMs: checkTtl(options.ttlMs),
    };
    const res = await this.write(
      'compareAndSwap',
      options,
      { write: true, idempotent: false },
      async (call) => {
        const { response } = await this.runner.onKey(
          k,
          { $case: 'compareAndSwap', compareAndSwap: body },
          call,
        );
        return response.$case === 'compareAndSwap' ? response.compareAndSwap : undefined;
      },
    );
    if (res === undefined) throw new ClientClosedError('no compare-and-swap response');
    return { succeeded: res.succeeded, previousValue: res.previousFound ? res.previousValue : undefined };
  }

  /** The values of `keys`, in the same order (undefined where missing); regions are read in parallel. */
  async batchGet(keys: readonly Bytes[], options: ReadOptions = {}): Promise<Array<Buffer | undefined>> {
    const ks = checkKeys(keys);
    const found = new Map<string, Buffer>();
    await this.read('batchGet', options, (call) =>
      this.runner.byRegion(
        ks,
        (k) => k,
        async (region, group) => {
          for (let i = 0; i < group.length; i += BATCH_GET_KEYS_MAX) {
            const chunk = group.slice(i, i + BATCH_GET_KEYS_MAX);
            const outcome = await this.runner.onRegion(
              region,
              { $case: 'batchGet', batchGet: { context: undefined, keys: chunk } },
              call,
            );
            if (outcome.kind === 'resplit') return 'resplit';
            if (outcome.response.$case === 'batchGet')
              for (const p of outcome.response.batchGet.pairs) found.set(p.key.toString('latin1'), p.value);
          }
          return undefined;
        },
        call,
      ),
    );
    return ks.map((k) => found.get(k.toString('latin1')));
  }

  /** Writes many pairs: see batchWrite for atomicity. */
  async batchPut(entries: ReadonlyArray<readonly [Bytes, Bytes]>, options: PutOptions = {}): Promise<void> {
    if (!Array.isArray(entries))
      throw new InvalidArgumentError('entries', 'expected an array of [key, value]');
    await this.batchWrite(
      entries.map(([key, value]) => ({ type: 'put' as const, key, value, ttlMs: options.ttlMs })),
      options,
    );
  }

  /**
   * Applies `mutations`, split by region and sent in parallel. Atomic only within a region:
   * the mutations of one region apply all or none, in order; different regions apply
   * independently. If the call fails after some region applied its part, it throws
   * ResultUnknownError (the batch as a whole may be partly applied).
   */
  async batchWrite(mutations: readonly Mutation[], options: WriteOptions = {}): Promise<void> {
    const ms = checkMutations(mutations);
    let appliedParts = 0;
    await this.write('batchWrite', options, writeKind(options), async (call) => {
      try {
        await this.runner.byRegion(
          ms,
          (m) => m.key,
          async (region, group) => {
            const body = {
              $case: 'batchWrite' as const,
              batchWrite: { context: undefined, mutations: group.map((m) => m.proto) },
            };
            const outcome = await this.runner.onRegion(region, body, call);
            if (outcome.kind === 'resplit') return 'resplit';
            appliedParts++;
            return undefined;
          },
          call,
        );
      } catch (err) {
        if (appliedParts > 0 && !(err instanceof ResultUnknownError))
          throw new ResultUnknownError(
            `${appliedParts} region part(s) of the batch were applied before it failed: ${(err as Error).message}`,
            { cause: err },
          );
        throw err;
      }
    });
  }

  /** Deletes every key in [startKey, endKey) (endKey empty: to the end of the key space), region by region in parallel. */
  async deleteRange(startKey: Bytes, endKey: Bytes, options: WriteOptions = {}): Promise<void> {
    const start = checkBytes(startKey, 'startKey');
    const end = checkBytes(endKey, 'endKey');
    if (end.length > 0 && compareBytes(start, end) >= 0)
      throw new InvalidArgumentError('startKey', 'must be below endKey');
    // Keys are never empty, so [0x00, end) deletes the same keys as ['', end).
    const from = start.length === 0 ? Buffer.from([0]) : start;
    let appliedParts = 0;
    await this.write('deleteRange', options, writeKind(options), async (call) => {
      try {
        await this.deleteRangeParts(from, end, call, () => appliedParts++);
      } catch (err) {
        if (appliedParts > 0 && !(err instanceof ResultUnknownError))
          throw new ResultUnknownError(
            `${appliedParts} region part(s) of the range were deleted before it failed: ${(err as Error).message}`,
            { cause: err },
          );
        throw err;
      }
    });
  }

  /**
   * Iterates over the pairs of a key range in key order (or reverse), across regions.
   * `timeoutMs` bounds each page (one store request with its retries); `signal` ends the
   * whole iteration. Not a snapshot: each page reads the latest data.
   */
  scan(options: ScanOptions = {}): AsyncGenerator<KvPair, void, undefined> {
    const startKey = options.start === undefined ? Buffer.alloc(0) : checkBytes(options.start, 'start');
    const endKey = options.end === undefined ? Buffer.alloc(0) : checkBytes(options.end, 'end');
    if (endKey.length > 0 && compareBytes(startKey, endKey) >= 0)
      throw new InvalidArgumentError('start', 'must be below end');
    if (options.limit !== undefined) checkCount('limit', options.limit, 1);
    if (options.timeoutMs !== undefined) checkDurationMs('timeoutMs', options.timeoutMs, 1);
    const consistency = checkConsistency(options.consistency);
    this.statsRecorder.ops++;
    const plan = {
      startKey,
      endKey,
      limit: options.limit ?? Number.POSITIVE_INFINITY,
      reverse: options.reverse === true,
      keysOnly: options.keysOnly === true,
      pageSize: this.options.scanPageSize,
    };
    return scanPages(this.runner, plan, (run) =>
      traced('scan', { 'flotilla.consistency': consistency }, (trace) => {
        this.checkOpen();
        return run(this.newCall(options, trace, { write: false, idempotent: true }, consistency));
      }),
    );
  }

  /** Counters since the client was created. */
  stats(): ClientStats {
    return this.statsRecorder.snapshot();
  }

  /** Releases every connection; calls in flight fail, later calls throw ClientClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pool.close();
    this.pd.close();
  }

  private async deleteRangeParts(
    start: Buffer,
    end: Buffer,
    call: CallState,
    onApplied: () => void,
  ): Promise<void> {
    const parts: Array<{ region: RegionInfo; start: Buffer; end: Buffer }> = [];
    let cursor = start;
    for (;;) {
      const region = await this.runner.locator.locate(cursor, call.deadline);
      if (region.endKey.length > 0 && compareBytes(region.endKey, cursor) <= 0)
        throw new InternalError(`region ${region.id} ends before the key it was found for`);
      if (parts.length >= DELETE_RANGE_PARTS_MAX)
        throw new InvalidArgumentError(
          'endKey',
          `the range spans more than ${DELETE_RANGE_PARTS_MAX} regions; delete it in pieces`,
        );
      const partEnd =
        region.endKey.length === 0
          ? end
          : end.length === 0 || compareBytes(region.endKey, end) < 0
            ? region.endKey
            : end;
      parts.push({ region, start: cursor, end: partEnd });
      if (partEnd === end) break;
      cursor = region.endKey;
    }
    await Promise.all(
      parts.map(async (p) => {
        const body = {
          $case: 'deleteRange' as const,
          deleteRange: { context: undefined, startKey: p.start, endKey: p.end },
        };
        const outcome = await this.runner.onRegion(p.region, body, call);
        if (outcome.kind === 'resplit') return this.deleteRangeParts(p.start, p.end, call, onApplied);
        onApplied();
      }),
    );
  }

  private read<T>(operation: string, options: ReadOptions, run: (call: CallState) => Promise<T>): Promise<T> {
    const consistency = checkConsistency(options.consistency);
    this.statsRecorder.ops++;
    return traced(operation, { 'flotilla.consistency': consistency }, (trace) => {
      this.checkOpen();
      return run(this.newCall(options, trace, { write: false, idempotent: true }, consistency));
    });
  }

  private write<T>(
    operation: string,
    options: CallOptions,
    kind: RequestKind,
    run: (call: CallState) => Promise<T>,
  ): Promise<T> {
    this.statsRecorder.ops++;
    return traced(operation, { 'flotilla.idempotent': kind.idempotent }, async (trace) => {
      this.checkOpen();
      const call = this.newCall(options, trace, kind, 'linearizable');
      try {
        return await run(call);
      } catch (err) {
        // An idempotent write resent after an ambiguous failure: if the resend failed too,
        // the first send may still have been applied.
        if (call.maybeApplied && !(err instanceof ResultUnknownError))
          throw new ResultUnknownError(
            `the write may have been applied before it failed: ${(err as Error).message}`,
            { cause: err },
          );
        throw err;
      }
    });
  }

  private newCall(
    options: CallOptions,
    trace: CallState['trace'],
    kind: RequestKind,
    consistency: Consistency,
  ): CallState {
    return {
      deadline: this.deadline(options),
      trace,
      kind,
      consistency,
      retries: 0,
      maybeApplied: false,
      lastRetry: undefined,
      pauses: 0,
    };
  }

  private deadline(options: CallOptions): Deadline {
    if (options.timeoutMs !== undefined) checkDurationMs('timeoutMs', options.timeoutMs, 1);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
      throw new InvalidArgumentError('signal', 'expected an AbortSignal');
    return Deadline.after(options.timeoutMs ?? this.options.timeoutMs, options.signal);
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('the client is closed');
  }
}
