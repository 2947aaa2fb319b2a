// The store's client of the Placement Driver. PD runs as several members of which one
// leads; every call goes to the leader, found by asking any known member (GetMembers works
// on followers too). A call that fails because the member is not (or no longer) the leader,
// or because it cannot be reached, rediscovers the leader and is retried, with backoff,
// until the call's deadline. Every PD call the store makes is safe to retry: reads and
// heartbeats are idempotent, PutStore and ReportBatchSplit overwrite, and a retried AllocId
// or AskBatchSplit at worst leaves ids unused (ids are never handed out twice).
// Bootstrap is the one call whose retry can answer ALREADY_BOOTSTRAPPED for our own earlier
// attempt; store-bootstrap.ts resolves that by comparing PD's first region with ours.
import * as grpc from '@grpc/grpc-js';
import { pdpb } from '@flotilla/proto';

export type PdClientErrorCode = 'PD_UNAVAILABLE' | 'PD_REFUSED' | 'PD_CLOSED';

/** A PD call that failed for good: no leader within the deadline, or PD refused the request. */
export class PdClientError extends Error {
  constructor(
    readonly code: PdClientErrorCode,
    message: string,
    /** PD's reason when it refused the request (code PD_REFUSED). */
    readonly pdErrorType?: pdpb.ErrorType,
  ) {
    super(message);
    this.name = 'PdClientError';
  }

  get retryable(): boolean {
    return this.code === 'PD_UNAVAILABLE';
  }
}

export interface PdClientOptions {
  /** host:port of one or more PD members; the others are learned from GetMembers. */
  readonly endpoints: readonly string[];
  /** Time one attempt against one member may take. */
  readonly attemptTimeoutMs?: number;
  /** Time a call may take, retries included. */
  readonly callTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

const ATTEMPT_TIMEOUT_MS_DEFAULT = 2_000;
const CALL_TIMEOUT_MS_DEFAULT = 15_000;
const BACKOFF_MS_MIN = 20;
const BACKOFF_MS_MAX = 500;
/** Members remembered from GetMembers answers; more than any sane PD cluster has. */
const KNOWN_ENDPOINTS_MAX = 64;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Reconnect fast after a PD member restarts: failover is measured in hundreds of ms.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

type Answer = { header?: pdpb.ResponseHeader | undefined };

/** Request and response type of each unary PD call the store makes. */
interface PdCalls {
  getMembers: [pdpb.GetMembersRequest, pdpb.GetMembersResponse];
  isBootstrapped: [pdpb.IsBootstrappedRequest, pdpb.IsBootstrappedResponse];
  bootstrap: [pdpb.BootstrapRequest, pdpb.BootstrapResponse];
  allocId: [pdpb.AllocIdRequest, pdpb.AllocIdResponse];
  putStore: [pdpb.PutStoreRequest, pdpb.PutStoreResponse];
  getStore: [pdpb.GetStoreRequest, pdpb.GetStoreResponse];
  getAllStores: [pdpb.GetAllStoresRequest, pdpb.GetAllStoresResponse];
  setStoreState: [pdpb.SetStoreStateRequest, pdpb.SetStoreStateResponse];
  storeHeartbeat: [pdpb.StoreHeartbeatRequest, pdpb.StoreHeartbeatResponse];
  askBatchSplit: [pdpb.AskBatchSplitRequest, pdpb.AskBatchSplitResponse];
  reportBatchSplit: [pdpb.ReportBatchSplitRequest, pdpb.ReportBatchSplitResponse];
  getRegion: [pdpb.GetRegionRequest, pdpb.GetRegionResponse];
  getRegionById: [pdpb.GetRegionByIdRequest, pdpb.GetRegionByIdResponse];
  scanRegions: [pdpb.ScanRegionsRequest, pdpb.ScanRegionsResponse];
  getOperators: [pdpb.GetOperatorsRequest, pdpb.GetOperatorsResponse];
}

const RETRYABLE_GRPC_CODES = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
  grpc.status.UNKNOWN,
  grpc.status.INTERNAL,
]);

export class PdClient {
  private readonly clients = new Map<string, pdpb.PDClient>();
  private readonly endpoints: string[];
  private leader: { readonly address: string; readonly client: pdpb.PDClient } | undefined;
  private discovery: Promise<void> | undefined;
  private clusterIdValue = 0n;
  private closed = false;
  private readonly attemptTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly log: (line: string) => void;
  /** Calls made, attempts retried, leader changes seen: for status and tests. */
  readonly counters = { calls: 0, retries: 0, leaderChanges: 0 };

  constructor(options: PdClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('PdClient needs at least one PD endpoint');
    this.endpoints = [...new Set(options.endpoints)];
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS_DEFAULT;
    this.callTimeoutMs = options.callTimeoutMs ?? CALL_TIMEOUT_MS_DEFAULT;
    this.log = options.log ?? (() => undefined);
  }

  /** The PD cluster's id (0 until a member answered). */
  get clusterId(): bigint {
    return this.clusterIdValue;
  }

  /** The leader's address as last discovered. */
  get leaderAddress(): string | undefined {
    return this.leader?.address;
  }

  getMembers(): Promise<pdpb.GetMembersResponse> {
    return this.call('getMembers', {});
  }

  isBootstrapped(): Promise<pdpb.IsBootstrappedResponse> {
    return this.call('isBootstrapped', {});
  }

  bootstrap(request: Omit<pdpb.BootstrapRequest, 'header'>): Promise<pdpb.BootstrapResponse> {
    return this.call('bootstrap', request, { accept: [pdpb.ErrorType.ALREADY_BOOTSTRAPPED] });
  }

  async allocId(): Promise<number> {
    const res = await this.call('allocId', {});
    return safeId(res.id, 'allocId');
  }

  putStore(store: pdpb.PutStoreRequest['store']): Promise<pdpb.PutStoreResponse> {
    return this.call('putStore', { store });
  }

  getStore(storeId: number): Promise<pdpb.GetStoreResponse> {
    return this.call('getStore', { storeId: BigInt(storeId) });
  }

  getAllStores(excludeTombstoneStores = true): Promise<pdpb.GetAllStoresResponse> {
    return this.call('getAllStores', { excludeTombstoneStores });
  }

  /** Decommissions (Offline) or retires (Tombstone) a store. */
  setStoreState(
    storeId: number,
    state: pdpb.SetStoreStateRequest['state'],
  ): Promise<pdpb.SetStoreStateResponse> {
    return this.call('setStoreState', { storeId: BigInt(storeId), state });
  }

  /** The scheduler's operators: in flight, recently finished, and running counts against limits. */
  getOperators(): Promise<pdpb.GetOperatorsResponse> {
    return this.call('getOperators', {});
  }

  storeHeartbeat(stats: pdpb.StoreStats): Promise<pdpb.StoreHeartbeatResponse> {
    return this.call('storeHeartbeat', { stats }, { accept: [pdpb.ErrorType.STORE_TOMBSTONE] });
  }

  askBatchSplit(
    region: pdpb.AskBatchSplitRequest['region'],
    splitCount: number,
  ): Promise<pdpb.AskBatchSplitResponse> {
    return this.call('askBatchSplit', { region, splitCount });
  }

  reportBatchSplit(regions: pdpb.ReportBatchSplitRequest['regions']): Promise<pdpb.ReportBatchSplitResponse> {
    return this.call('reportBatchSplit', { regions });
  }

  getRegion(key: Uint8Array): Promise<pdpb.GetRegionResponse> {
    return this.call('getRegion', { regionKey: Buffer.from(key) });
  }

  getRegionById(regionId: number): Promise<pdpb.GetRegionByIdResponse> {
    return this.call('getRegionById', { regionId: BigInt(regionId) });
  }

  scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): Promise<pdpb.ScanRegionsResponse> {
    return this.call('scanRegions', {
      startKey: Buffer.from(startKey),
      endKey: Buffer.from(endKey),
      limit,
    });
  }

  /**
   * Opens a RegionHeartbeat stream to the current leader (discovering it first). The
   * caller (RegionHeartbeatStream) reopens it when it breaks.
   */
  async openRegionHeartbeat(): Promise<
    grpc.ClientDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse>
  > {
    const deadline = Date.now() + this.callTimeoutMs;
    const leader = await this.currentLeader(deadline);
    return leader.client.regionHeartbeat();
  }

  /** The request header every call carries. */
  header(): pdpb.RequestHeader {
    return { clusterId: this.clusterIdValue };
  }

  /** Forgets the leader (a stream to it broke): the next call rediscovers. */
  invalidateLeader(address?: string): void {
    if (address === undefined || this.leader?.address === address) this.leader = undefined;
  }

  close(): void {
    this.closed = true;
    this.leader = undefined;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async call<M extends keyof PdCalls>(
    method: M,
    body: Omit<PdCalls[M][0], 'header'>,
    options: { accept?: readonly pdpb.ErrorType[] } = {},
  ): Promise<PdCalls[M][1]> {
    this.counters.calls++;
    const deadline = Date.now() + this.callTimeoutMs;
    let backoffMs = BACKOFF_MS_MIN;
    let lastProblem = 'no attempt made';
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new PdClientError('PD_CLOSED', `PD ${method}: the client is closed`);
      if (attempt > 0) {
        this.counters.retries++;
        if (Date.now() + backoffMs >= deadline) break;
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MS_MAX);
      }
      let leader: { address: string; client: pdpb.PDClient };
      try {
        leader = await this.currentLeader(deadline);
      } catch (err) {
        lastProblem = err instanceof Error ? err.message : String(err);
        continue;
      }
      const request = { ...body, header: this.header() };
      let res: Answer;
      try {
        res = await this.invoke(
          leader.client,
          method,
          request,
          Math.min(deadline, Date.now() + this.attemptTimeoutMs),
        );
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (!RETRYABLE_GRPC_CODES.has(e.code)) {
          throw new PdClientError(
            'PD_REFUSED',
            `PD ${method} at ${leader.address}: ${e.details || e.message}`,
          );
        }
        lastProblem = `${leader.address}: ${e.details || e.message}`;
        this.invalidateLeader(leader.address);
        continue;
      }
      const error = res.header?.error;
      if (error === undefined || options.accept?.includes(error.type)) {
        return res as PdCalls[M][1];
      }
      if (error.type === pdpb.ErrorType.NOT_LEADER) {
        lastProblem = `${leader.address} is not the leader: ${error.message}`;
        this.invalidateLeader(leader.address);
        continue;
      }
      throw new PdClientError('PD_REFUSED', `PD ${method}: ${error.message}`, error.type);
    }
    throw new PdClientError(
      'PD_UNAVAILABLE',
      `PD ${method}: no answer from a PD leader within ${this.callTimeoutMs} ms (last: ${lastProblem})`,
    );
  }

  private invoke(
    client: pdpb.PDClient,
    method: string,
    request: unknown,
    deadlineMs: number,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method];
      if (fn === undefined) return reject(new Error(`PD has no method ${method}`));
      fn.call(
        client,
        request,
        new grpc.Metadata(),
        { deadline: new Date(deadlineMs) },
        (err: grpc.ServiceError | null, res: Answer) => (err ? reject(err) : resolve(res)),
      );
    });
  }

  private async currentLeader(deadline: number): Promise<{ address: string; client: pdpb.PDClient }> {
    for (;;) {
      if (this.leader !== undefined) return this.leader;
      if (this.closed) throw new PdClientError('PD_CLOSED', 'the PD client is closed');
      this.discovery ??= this.discover(deadline).finally(() => (this.discovery = undefined));
      await this.discovery;
      if (this.leader === undefined) throw new PdClientError('PD_UNAVAILABLE', 'no PD member names a leader');
    }
  }

  /** Asks every known member for the leader until one names it. */
  private async discover(deadline: number): Promise<void> {
    const problems: string[] = [];
    for (const address of [...this.endpoints]) {
      if (Date.now() >= deadline) break;
      try {
        const res = (await this.invoke(
          this.clientFor(address),
          'getMembers',
          { header: { clusterId: 0n } },
          Math.min(deadline, Date.now() + this.attemptTimeoutMs),
        )) as pdpb.GetMembersResponse;
        this.learnMembers(res);
        const leaderAddress = res.leader?.clientAddresses[0];
        if (leaderAddress !== undefined) {
          if (this.leader?.address !== leaderAddress) this.counters.leaderChanges++;
          this.leader = { address: leaderAddress, client: this.clientFor(leaderAddress) };
          return;
        }
        problems.push(`${address}: no leader yet`);
      } catch (err) {
        problems.push(`${address}: ${(err as grpc.ServiceError).details || String(err)}`);
      }
    }
    this.log(`PD leader not found (${problems.join('; ')})`);
  }

  private learnMembers(res: pdpb.GetMembersResponse): void {
    if (res.header !== undefined && res.header.clusterId !== 0n) this.clusterIdValue = res.header.clusterId;
    for (const member of res.members) {
      for (const address of member.clientAddresses) {
        if (!this.endpoints.includes(address) && this.endpoints.length < KNOWN_ENDPOINTS_MAX)
          this.endpoints.push(address);
      }
    }
  }

  private clientFor(address: string): pdpb.PDClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new pdpb.PDClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }
}

function safeId(id: bigint, what: string): number {
  if (id <= 0n || id > BigInt(Number.MAX_SAFE_INTEGER))
    throw new PdClientError('PD_REFUSED', `PD ${what} returned an id out of range: ${id}`);
  return Number(id);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
