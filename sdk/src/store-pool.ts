// Everything the client keeps per store: its address (from PD, cached), one gRPC channel
// with keepalive, one BatchCommands stream, and a p-queue that bounds the requests in
// flight to it — with a bounded wait list, so an overloaded client fails fast with
// QueueFullError instead of buffering without limit. It is the StoreTransport the request
// runner uses: through the coalescing stream, or one unary RPC per request when
// coalescing is off.
import * as grpc from '@grpc/grpc-js';
import { kvpb } from './wire.js';
import PQueue from 'p-queue';
import { BatchStream } from './batch-stream.js';
import type { Deadline } from './deadline.js';
import {
  AbortedError,
  ClientClosedError,
  InternalError,
  QueueFullError,
  TimeoutError,
  UnavailableError,
} from './errors.js';
import { channelOptions, unaryCall, whenReady } from './grpc-call.js';
import type { ResolvedClientOptions } from './options.js';
import type { PdClient } from './pd-client.js';
import type { StatsRecorder } from './stats.js';
import type { RequestBody, ResponseBody, StoreTransport } from './store-transport.js';
import { SendFailure } from './store-transport.js';

interface StoreConnection {
  readonly client: kvpb.KvClient;
  readonly stream: BatchStream;
  readonly queue: PQueue;
}

/** Stores the client keeps connections to at once (a cluster larger than this is not expected). */
const STORES_MAX = 4_096;
/** How long a store address from PD is trusted. */
const STORE_ADDRESS_TTL_MS = 60_000;

export class StorePool implements StoreTransport {
  private readonly connections = new Map<string, StoreConnection>();
  private readonly addresses = new Map<bigint, { address: string; expiresAtMs: number }>();
  private readonly lookups = new Map<bigint, Promise<string>>();
  private closed = false;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly pd: PdClient,
    private readonly stats: StatsRecorder,
  ) {}

  /** The address of store `storeId`, from PD unless cached; concurrent lookups share one call. */
  async address(storeId: bigint, deadline: Deadline): Promise<string> {
    const cached = this.addresses.get(storeId);
    if (cached !== undefined && cached.expiresAtMs > Date.now()) return cached.address;
    let lookup = this.lookups.get(storeId);
    if (lookup === undefined) {
      lookup = this.pd
        .getStore(storeId, deadline)
        .then((store) => {
          if (this.addresses.size >= STORES_MAX) this.addresses.clear();
          this.addresses.set(storeId, {
            address: store.address,
            expiresAtMs: Date.now() + STORE_ADDRESS_TTL_MS,
          });
          return store.address;
        })
        // Shared by concurrent callers: report the first caller's timeout or abort as
        // "unavailable" so the others go on within their own deadlines.
        .catch((err: unknown) => {
          if (err instanceof TimeoutError || err instanceof AbortedError)
            throw new UnavailableError(`store ${storeId} lookup: ${err.message}`);
          throw err;
        })
        .finally(() => this.lookups.delete(storeId));
      this.lookups.set(storeId, lookup);
    }
    return deadline.race(lookup);
  }

  /** Forgets a store's address (it answered as another store, or its identity changed). */
  invalidateStore(storeId: bigint): void {
    this.addresses.delete(storeId);
  }

  async send(
    _storeId: bigint,
    address: string,
    body: RequestBody,
    deadline: Deadline,
    traceparent: string | undefined,
  ): Promise<ResponseBody> {
    if (this.closed) throw new ClientClosedError('the client is closed');
    const connection = this.connection(address);
    if (connection.queue.size >= this.options.queuedPerStoreMax) {
      throw new QueueFullError(
        `${connection.queue.size} requests already wait for store ${address} (queuedPerStoreMax ${this.options.queuedPerStoreMax})`,
      );
    }
    const run = (): Promise<ResponseBody> =>
      this.options.coalesce
        ? connection.stream.send(body, deadline)
        : this.sendUnary(connection.client, address, body, deadline, traceparent);
    // Deadline and abort bound the wait for a slot only: once the request runs, the
    // transport settles it (and knows whether it was sent).
    const waiting = new AbortController();
    let started = false;
    const endWait = (): void => {
      if (!started) waiting.abort();
    };
    const timer = setTimeout(endWait, deadline.remainingMs());
    deadline.signal?.addEventListener('abort', endWait, { once: true });
    const stopWatching = (): void => {
      clearTimeout(timer);
      deadline.signal?.removeEventListener('abort', endWait);
    };
    try {
      return await connection.queue.add(
        () => {
          started = true;
          stopWatching();
          return run();
        },
        { signal: waiting.signal },
      );
    } catch (err) {
      if (err instanceof SendFailure || started) throw err;
      const cause = deadline.aborted ? 'abort' : 'deadline';
      throw new SendFailure(cause, false, `waited in the queue for store ${address} until the ${cause}`);
    } finally {
      stopWatching();
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) {
      c.queue.clear();
      c.stream.close();
      c.client.close();
    }
    this.connections.clear();
  }

  private connection(address: string): StoreConnection {
    let c = this.connections.get(address);
    if (c === undefined) {
      if (this.connections.size >= STORES_MAX)
        throw new InternalError(`more than ${STORES_MAX} store addresses`);
      const client = new kvpb.KvClient(
        address,
        grpc.credentials.createInsecure(),
        channelOptions(this.options.keepaliveTimeMs),
      );
      const stream = new BatchStream(
        client,
        address,
        this.stats,
        this.options.coalesceWindowMs,
        this.options.connectTimeoutMs,
      );
      c = { client, stream, queue: new PQueue({ concurrency: this.options.inFlightPerStoreMax }) };
      this.connections.set(address, c);
    }
    return c;
  }

  private async sendUnary(
    client: kvpb.KvClient,
    address: string,
    body: RequestBody,
    deadline: Deadline,
    traceparent: string | undefined,
  ): Promise<ResponseBody> {
    try {
      await whenReady(client, deadline.grpcDeadline(this.options.connectTimeoutMs));
    } catch (err) {
      throw new SendFailure('connect', false, `store ${address}: ${(err as Error).message}`);
    }
    if (deadline.aborted) throw new SendFailure('abort', false, 'aborted');
    const metadata = new grpc.Metadata();
    if (traceparent !== undefined) metadata.set('traceparent', traceparent);
    this.stats.rpcs++;
    this.stats.requests++;
    try {
      return await deadline.race(dispatchUnary(client, body, deadline.grpcDeadline(), metadata));
    } catch (err) {
      if (deadline.aborted) throw new SendFailure('abort', true, 'aborted');
      const e = err as grpc.ServiceError;
      if (e.code === grpc.status.DEADLINE_EXCEEDED && deadline.expired())
        throw new SendFailure('deadline', true, e.details || e.message, e.code);
      throw new SendFailure('status', true, `store ${address}: ${e.details || e.message}`, e.code);
    }
  }
}

/** Sends `body` as the unary call of its kind. */
async function dispatchUnary(
  c: kvpb.KvClient,
  body: RequestBody,
  deadline: Date,
  md: grpc.Metadata,
): Promise<ResponseBody> {
  switch (body.$case) {
    case 'get':
      return { $case: 'get', get: await unaryCall(c, c.get, body.get, deadline, md) };
    case 'batchGet':
      return { $case: 'batchGet', batchGet: await unaryCall(c, c.batchGet, body.batchGet, deadline, md) };
    case 'scan':
      return { $case: 'scan', scan: await unaryCall(c, c.scan, body.scan, deadline, md) };
    case 'put':
      return { $case: 'put', put: await unaryCall(c, c.put, body.put, deadline, md) };
    case 'delete':
      return { $case: 'delete', delete: await unaryCall(c, c.delete, body.delete, deadline, md) };
    case 'deleteRange':
      return {
        $case: 'deleteRange',
        deleteRange: await unaryCall(c, c.deleteRange, body.deleteRange, deadline, md),
      };
    case 'batchWrite':
      return {
        $case: 'batchWrite',
        batchWrite: await unaryCall(c, c.batchWrite, body.batchWrite, deadline, md),
      };
    case 'compareAndSwap':
      return {
        $case: 'compareAndSwap',
        compareAndSwap: await unaryCall(c, c.compareAndSwap, body.compareAndSwap, deadline, md),
      };
  }
}
