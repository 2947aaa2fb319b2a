// A small leader-following client for the command line (`flotilla put/get/...`) and the
// integration tests, for a static cluster with one region: it sends to the store it believes leads, follows
// NotLeader hints, moves on when a store is unreachable, and gives up at a deadline.
// The SDK (sdk/) is the real client; this one exists so a person can use a cluster
// started with `npm start` and so tests can drive real processes.
import * as grpc from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';
import type { errorpb } from '@flotilla/proto';

export class KvClientError extends Error {
  constructor(
    readonly code: 'deadlineExceeded' | 'invalidArgument' | 'regionError' | 'internal',
    message: string,
  ) {
    super(message);
    this.name = 'KvClientError';
  }
}

export interface KvClientOptions {
  readonly stores: ReadonlyMap<number, string>;
  /** Total time one operation may take, retries included. */
  readonly operationTimeoutMs?: number;
  /** Time one attempt may take. */
  readonly attemptTimeoutMs?: number;
}

export interface ScanOptions {
  readonly limit: number;
  readonly reverse?: boolean;
  readonly keyOnly?: boolean;
  readonly readConsistency?: kvpb.ReadConsistency;
}

export type BatchMutation =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly ttlMs?: number }
  | { readonly kind: 'delete'; readonly key: Uint8Array };

export interface CompareAndSwapResult {
  readonly succeeded: boolean;
  /** The value before the operation; undefined when the key was absent. */
  readonly previousValue: Uint8Array | undefined;
}

interface Attempt<Res> {
  readonly response?: Res;
  readonly retryAt?: number;
}

type Unary<Req, Res> = (client: kvpb.KvClient, req: Req, deadline: Date) => Promise<Res>;

function call<Req, Res>(method: string): Unary<Req, Res> {
  return (client, req, deadline) =>
    new Promise((resolve, reject) => {
      const fn = (
        client as unknown as Record<
          string,
          (
            r: Req,
            m: grpc.Metadata,
            o: grpc.CallOptions,
            cb: (e: grpc.ServiceError | null, r: Res) => void,
          ) => void
        >
      )[method];
      if (fn === undefined) throw new Error(`no method ${method}`);
      fn.call(client, req, new grpc.Metadata(), { deadline }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
}

/** Pause after every store was tried without finding a leader (an election is likely under way). */
const BACKOFF_MS = 50;

export class KvClient {
  private readonly clients = new Map<number, kvpb.KvClient>();
  private leaderStoreId: number;
  /** Stores tried in a row without an answer from a leader; after all of them, back off. */
  private hopsWithoutLeader = 0;
  private readonly operationTimeoutMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly options: KvClientOptions) {
    const first = [...options.stores.keys()][0];
    if (first === undefined) throw new Error('KvClient needs at least one store');
    this.leaderStoreId = first;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 10_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
  }

  async put(key: Uint8Array, value: Uint8Array, ttlMs?: number): Promise<void> {
    await this.run(call<kvpb.PutRequest, kvpb.PutResponse>('put'), (context) => ({
      context,
      key: Buffer.from(key),
      value: Buffer.from(value),
      ttlMs: ttlMs === undefined ? undefined : BigInt(ttlMs),
    }));
  }

  async get(
    key: Uint8Array,
    readConsistency = kvpb.ReadConsistency.LINEARIZABLE,
  ): Promise<Uint8Array | undefined> {
    const res = await this.run(call<kvpb.GetRequest, kvpb.GetResponse>('get'), (context) => ({
      context: { ...context, readConsistency },
      key: Buffer.from(key),
    }));
    return res.found ? new Uint8Array(res.value) : undefined;
  }

  async delete(key: Uint8Array): Promise<void> {
    await this.run(call<kvpb.DeleteRequest, kvpb.DeleteResponse>('delete'), (context) => ({
      context,
      key: Buffer.from(key),
    }));
  }

  async scan(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
  ): Promise<Array<[Uint8Array, Uint8Array]>> {
    const res = await this.run(call<kvpb.ScanRequest, kvpb.ScanResponse>('scan'), (context) => ({
      context,
      startKey: Buffer.from(startKey),
      endKey: Buffer.from(endKey),
      limit,
      reverse: false,
      keyOnly: false,
    }));
    return res.pairs.map((p) => [new Uint8Array(p.key), new Uint8Array(p.value)]);
  }

  async batchGet(
    keys: readonly Uint8Array[],
    readConsistency = kvpb.ReadConsistency.LINEARIZABLE,
  ): Promise<Array<[Uint8Array, Uint8Array]>> {
    const res = await this.run(call<kvpb.BatchGetRequest, kvpb.BatchGetResponse>('batchGet'), (context) => ({
      context: { ...context, readConsistency },
      keys: keys.map((k) => Buffer.from(k)),
    }));
    return res.pairs.map((p) => [new Uint8Array(p.key), new Uint8Array(p.value)]);
  }

  /** A scan with every option; `hasMore` says the limit cut it short. */
  async scanRange(
    startKey: Uint8Array,
    endKey: Uint8Array,
    options: ScanOptions,
  ): Promise<{ pairs: Array<[Uint8Array, Uint8Array]>; hasMore: boolean }> {
    const res = await this.run(call<kvpb.ScanRequest, kvpb.ScanResponse>('scan'), (context) => ({
      context: { ...context, readConsistency: options.readConsistency ?? kvpb.ReadConsistency.LINEARIZABLE },
      startKey: Buffer.from(startKey),
      endKey: Buffer.from(endKey),
      limit: options.limit,
      reverse: options.reverse ?? false,
      keyOnly: options.keyOnly ?? false,
    }));
    return {
      pairs: res.pairs.map((p) => [new Uint8Array(p.key), new Uint8Array(p.value)]),
      hasMore: res.hasMore,
    };
  }

  /** Deletes [startKey, endKey); an empty endKey means to the end of the keyspace. */
  async deleteRange(startKey: Uint8Array, endKey: Uint8Array): Promise<void> {
    await this.run(call<kvpb.DeleteRangeRequest, kvpb.DeleteRangeResponse>('deleteRange'), (context) => ({
      context,
      startKey: Buffer.from(startKey),
      endKey: Buffer.from(endKey),
    }));
  }

  /** Applies every mutation atomically (one Raft entry). */
  async batchWrite(mutations: readonly BatchMutation[]): Promise<void> {
    await this.run(call<kvpb.BatchWriteRequest, kvpb.BatchWriteResponse>('batchWrite'), (context) => ({
      context,
      mutations: mutations.map((m): kvpb.Mutation =>
        m.kind === 'put'
          ? {
              op: {
                $case: 'put',
                put: {
                  key: Buffer.from(m.key),
                  value: Buffer.from(m.value),
                  ttlMs: m.ttlMs === undefined ? undefined : BigInt(m.ttlMs),
                },
              },
            }
          : { op: { $case: 'delete', delete: { key: Buffer.from(m.key) } } },
      ),
    }));
  }

  /**
   * Sets (or deletes) `key` only if its current value is `expected` (undefined: absent).
   * A retry after a lost answer may see its own earlier success as a mismatch.
   */
  async compareAndSwap(
    key: Uint8Array,
    expected: Uint8Array | undefined,
    update: Uint8Array | undefined,
    ttlMs?: number,
  ): Promise<CompareAndSwapResult> {
    const res = await this.run(
      call<kvpb.CompareAndSwapRequest, kvpb.CompareAndSwapResponse>('compareAndSwap'),
      (context) => ({
        context,
        key: Buffer.from(key),
        expected:
          expected === undefined
            ? { $case: 'expectedAbsent' as const, expectedAbsent: {} }
            : { $case: 'expectedValue' as const, expectedValue: Buffer.from(expected) },
        update:
          update === undefined
            ? { $case: 'delete' as const, delete: {} }
            : { $case: 'newValue' as const, newValue: Buffer.from(update) },
        ttlMs: ttlMs === undefined ? undefined : BigInt(ttlMs),
      }),
    );
    return {
      succeeded: res.succeeded,
      previousValue: res.previousFound ? new Uint8Array(res.previousValue) : undefined,
    };
  }

  /** Which store the client currently sends to. */
  get currentLeaderStoreId(): number {
    return this.leaderStoreId;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(storeId: number): kvpb.KvClient {
    let client = this.clients.get(storeId);
    if (client === undefined) {
      const address = this.options.stores.get(storeId);
      if (address === undefined) throw new KvClientError('internal', `no address for store ${storeId}`);
      client = new kvpb.KvClient(address, grpc.credentials.createInsecure());
      this.clients.set(storeId, client);
    }
    return client;
  }

  private async run<Req, Res extends { regionError?: errorpb.RegionError | undefined }>(
    method: Unary<Req, Res>,
    build: (context: kvpb.Context) => Req,
  ): Promise<Res> {
    const deadlineMs = Date.now() + this.operationTimeoutMs;
    let lastProblem = 'no attempt made';
    while (Date.now() < deadlineMs) {
      const attempt = await this.attempt(method, build, deadlineMs, (problem) => (lastProblem = problem));
      if (attempt.response !== undefined) return attempt.response;
      if (attempt.retryAt !== undefined) await delay(Math.max(0, attempt.retryAt - Date.now()));
    }
    throw new KvClientError(
      'deadlineExceeded',
      `no answer within ${this.operationTimeoutMs} ms: ${lastProblem}`,
    );
  }

  private async attempt<Req, Res extends { regionError?: errorpb.RegionError | undefined }>(
    method: Unary<Req, Res>,
    build: (context: kvpb.Context) => Req,
    deadlineMs: number,
    note: (problem: string) => void,
  ): Promise<Attempt<Res>> {
    const storeId = this.leaderStoreId;
    const context: kvpb.Context = {
      regionId: 1n,
      regionEpoch: { confVer: 1n, version: 1n },
      peer: undefined,
      readConsistency: 0,
      deadlineMs: this.attemptTimeoutMs,
      traceContext: undefined,
    };
    let res: Res;
    try {
      res = await method(
        this.client(storeId),
        build(context),
        new Date(Math.min(deadlineMs, Date.now() + this.attemptTimeoutMs)),
      );
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (e.code === grpc.status.INVALID_ARGUMENT) throw new KvClientError('invalidArgument', e.details);
      note(`store ${storeId}: ${e.details || e.message}`);
      return { retryAt: this.moveToNextStore() };
    }
    const regionError = res.regionError?.error;
    if (regionError === undefined) {
      this.hopsWithoutLeader = 0;
      return { response: res };
    }
    note(`store ${storeId}: ${res.regionError?.message ?? regionError.$case}`);
    switch (regionError.$case) {
      case 'notLeader': {
        const leader = regionError.notLeader.leader;
        if (leader !== undefined && this.options.stores.has(Number(leader.storeId))) {
          return { retryAt: this.hopTo(Number(leader.storeId)) };
        }
        return { retryAt: this.moveToNextStore() };
      }
      case 'serverIsBusy':
        return { retryAt: Date.now() + Math.max(regionError.serverIsBusy.backoffMs, 1) };
      case 'staleCommand':
        return { retryAt: Date.now() };
      default:
        throw new KvClientError('regionError', res.regionError?.message ?? regionError.$case);
    }
  }

  /** Aims at the next store; returns when to try it. */
  private moveToNextStore(): number {
    const ids = [...this.options.stores.keys()];
    return this.hopTo(ids[(ids.indexOf(this.leaderStoreId) + 1) % ids.length] as number);
  }

  /**
   * Aims at `storeId`; returns when to try it: at once, unless as many hops as there are
   * stores found no leader (an election is under way, or hints are stale): then back off.
   */
  private hopTo(storeId: number): number {
    this.leaderStoreId = storeId;
    this.hopsWithoutLeader++;
    if (this.hopsWithoutLeader < this.options.stores.size) return Date.now();
    this.hopsWithoutLeader = 0;
    return Date.now() + BACKOFF_MS;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
