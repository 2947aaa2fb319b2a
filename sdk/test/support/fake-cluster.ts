// Test doubles over real grpc-js sockets on 127.0.0.1: an in-process PD serving a scripted
// region map, and in-process stores that answer the Kv API (unary and BatchCommands) the way
// a real store does — region, epoch, leader and key-range checks with the same RegionError
// hints — over one shared in-memory map. Tests move leaders, split regions, make a store
// busy or silent, or stop it, and watch what the SDK does. Used by the SDK unit tests and by
// tests/integration (PD for a cluster of real store processes).
import * as grpc from '@grpc/grpc-js';
import type { errorpb, metapb } from '@flotilla/proto';
import { kvpb, pdpb } from '@flotilla/proto';

export interface FakeRegion {
  id: bigint;
  startKey: Buffer;
  endKey: Buffer;
  version: bigint;
  confVer: bigint;
  /** Peer id = store id * 100 + region id (any unique scheme works). */
  storeIds: bigint[];
  /** 0n: no leader known (an election). */
  leaderStoreId: bigint;
  /** Peer ids by position in storeIds; default store id * 100 + region id. A real static cluster uses the store id. */
  peerIds?: bigint[];
  /** The range the region had at earlier versions (splits and merges record it). */
  rangeAtVersion?: Map<bigint, { startKey: Buffer; endKey: Buffer }>;
}

function recordRange(r: FakeRegion): void {
  r.rangeAtVersion ??= new Map();
  r.rangeAtVersion.set(r.version, { startKey: r.startKey, endKey: r.endKey });
}

function overlaps(r: { startKey: Buffer; endKey: Buffer }, start: Buffer, end: Buffer): boolean {
  const startsBeforeEnd = end.length === 0 || Buffer.compare(r.startKey, end) < 0;
  const endsAfterStart = r.endKey.length === 0 || Buffer.compare(r.endKey, start) > 0;
  return startsBeforeEnd && endsAfterStart;
}

export type RequestBody = NonNullable<kvpb.BatchedRequest['request']>;
export type ResponseBody = NonNullable<kvpb.BatchedResponse['response']>;

/** What an intercept may do instead of serving: answer, never answer, or fall through (undefined). */
export type Intercept = (storeId: bigint, body: RequestBody) => ResponseBody | 'hang' | undefined;

export function peerOf(region: FakeRegion, storeId: bigint): metapb.Peer {
  const explicit = region.peerIds?.[region.storeIds.indexOf(storeId)];
  return { id: explicit ?? storeId * 100n + region.id, storeId, role: 0 };
}

export function regionProto(r: FakeRegion): metapb.Region {
  return {
    id: r.id,
    startKey: r.startKey,
    endKey: r.endKey,
    regionEpoch: { confVer: r.confVer, version: r.version },
    peers: r.storeIds.map((s) => peerOf(r, s)),
  };
}

function contains(r: { startKey: Buffer; endKey: Buffer }, key: Buffer): boolean {
  return Buffer.compare(key, r.startKey) >= 0 && (r.endKey.length === 0 || Buffer.compare(key, r.endKey) < 0);
}

const h = (s: string): string => Buffer.from(s).toString('latin1');

/** The in-memory data and region map shared by the fake stores. */
export class FakeKvState {
  readonly data = new Map<string, Buffer>();
  regions: FakeRegion[] = [];
  /** Writes applied, by kind. */
  writesApplied = 0;

  region(id: bigint): FakeRegion | undefined {
    return this.regions.find((r) => r.id === id);
  }

  regionOf(key: Buffer): FakeRegion | undefined {
    return this.regions.find((r) => contains(r, key));
  }

  /** Splits region `id` at `splitKey`: the right half becomes region `newId`; both bump version. */
  split(id: bigint, splitKey: string, newId: bigint): void {
    const r = this.region(id);
    if (r === undefined) throw new Error(`no region ${id}`);
    const at = Buffer.from(splitKey);
    if (!contains(r, at) || at.equals(r.startKey))
      throw new Error(`split key ${splitKey} is not inside region ${id}`);
    const right: FakeRegion = {
      ...r,
      id: newId,
      startKey: Buffer.from(splitKey),
      version: r.version + 1n,
      storeIds: [...r.storeIds],
      rangeAtVersion: undefined,
    };
    recordRange(r);
    r.endKey = Buffer.from(splitKey);
    r.version += 1n;
    this.regions.push(right);
    this.regions.sort((a, b) => Buffer.compare(a.startKey, b.startKey));
  }

  /** Splits the region holding `splitKey` there; returns the id of the region split. */
  splitAt(splitKey: string, newId: bigint): bigint {
    const r = this.regionOf(Buffer.from(splitKey));
    if (r === undefined) throw new Error(`no region holds ${splitKey}`);
    this.split(r.id, splitKey, newId);
    return r.id;
  }

  /** Merges region `rightId` into its left neighbour `leftId`. */
  merge(leftId: bigint, rightId: bigint): void {
    const left = this.region(leftId);
    const right = this.region(rightId);
    if (left === undefined || right === undefined) throw new Error('no such regions');
    if (!left.endKey.equals(right.startKey))
      throw new Error(`regions ${leftId} and ${rightId} are not adjacent`);
    recordRange(left);
    left.endKey = right.endKey;
    left.version = (left.version > right.version ? left.version : right.version) + 1n;
    this.regions = this.regions.filter((r) => r !== right);
  }

  /** Serves one request as store `storeId` would. */
  serve(storeId: bigint, body: RequestBody): ResponseBody {
    const inner = (body as Record<string, unknown>)[body.$case] as { context?: kvpb.Context };
    const refusal = this.route(storeId, inner.context, keysOf(body));
    if (refusal !== undefined) return refused(body, refusal);
    return this.execute(body);
  }

  private route(
    storeId: bigint,
    context: kvpb.Context | undefined,
    keys: Buffer[],
  ): errorpb.RegionError | undefined {
    const r = context === undefined ? undefined : this.region(context.regionId);
    if (r === undefined || !r.storeIds.includes(storeId))
      return {
        message: 'region not found',
        error: { $case: 'regionNotFound', regionNotFound: { regionId: context?.regionId ?? 0n } },
      };
    if (context?.regionEpoch?.version !== r.version) {
      // Like a real store: the region first, then the others now covering the range it had
      // at the version the request named (the other halves of a split).
      const then = r.rangeAtVersion?.get(context?.regionEpoch?.version ?? 0n) ?? r;
      const others = this.regions.filter(
        (o) => o !== r && o.storeIds.includes(storeId) && overlaps(o, then.startKey, then.endKey),
      );
      return {
        message: 'epoch not match',
        error: {
          $case: 'epochNotMatch',
          epochNotMatch: { currentRegions: [r, ...others].map(regionProto) },
        },
      };
    }
    const stale = context.readConsistency === kvpb.ReadConsistency.STALE;
    if (r.leaderStoreId !== storeId && !stale) {
      const leader = r.leaderStoreId === 0n ? undefined : peerOf(r, r.leaderStoreId);
      return { message: 'not leader', error: { $case: 'notLeader', notLeader: { regionId: r.id, leader } } };
    }
    for (const key of keys) {
      if (!contains(r, key))
        return {
          message: 'key not in region',
          error: {
            $case: 'keyNotInRegion',
            keyNotInRegion: { key, regionId: r.id, startKey: r.startKey, endKey: r.endKey },
          },
        };
    }
    return undefined;
  }

  private execute(body: RequestBody): ResponseBody {
    const ok = { regionError: undefined, keyError: undefined };
    switch (body.$case) {
      case 'get': {
        const v = this.data.get(body.get.key.toString('latin1'));
        return { $case: 'get', get: { ...ok, found: v !== undefined, value: v ?? Buffer.alloc(0) } };
      }
      case 'batchGet': {
        const pairs = [...new Set(body.batchGet.keys.map((k) => k.toString('latin1')))]
          .filter((k) => this.data.has(k))
          .sort()
          .map((k) => ({ key: Buffer.from(k, 'latin1'), value: this.data.get(k) as Buffer }));
        return { $case: 'batchGet', batchGet: { ...ok, pairs } };
      }
      case 'scan':
        return { $case: 'scan', scan: { ...ok, ...this.scan(body.scan) } };
      case 'put':
        this.data.set(body.put.key.toString('latin1'), Buffer.from(body.put.value));
        this.writesApplied++;
        return { $case: 'put', put: ok };
      case 'delete':
        this.data.delete(body.delete.key.toString('latin1'));
        this.writesApplied++;
        return { $case: 'delete', delete: ok };
      case 'deleteRange': {
        const r = this.region(body.deleteRange.context?.regionId ?? 0n) as FakeRegion;
        const end = clampEnd(body.deleteRange.endKey, r.endKey);
        for (const k of [...this.data.keys()]) {
          if (contains({ startKey: body.deleteRange.startKey, endKey: end }, Buffer.from(k, 'latin1')))
            this.data.delete(k);
        }
        this.writesApplied++;
        return { $case: 'deleteRange', deleteRange: ok };
      }
      case 'batchWrite':
        for (const m of body.batchWrite.mutations) {
          if (m.op?.$case === 'put')
            this.data.set(m.op.put.key.toString('latin1'), Buffer.from(m.op.put.value));
          if (m.op?.$case === 'delete') this.data.delete(m.op.delete.key.toString('latin1'));
        }
        this.writesApplied++;
        return { $case: 'batchWrite', batchWrite: ok };
      case 'compareAndSwap': {
        const c = body.compareAndSwap;
        const k = c.key.toString('latin1');
        const prev = this.data.get(k);
        const holds =
          c.expected?.$case === 'expectedAbsent'
            ? prev === undefined
            : prev !== undefined && c.expected !== undefined && prev.equals(c.expected.expectedValue);
        if (holds) {
          if (c.update?.$case === 'newValue') this.data.set(k, Buffer.from(c.update.newValue));
          else this.data.delete(k);
          this.writesApplied++;
        }
        return {
          $case: 'compareAndSwap',
          compareAndSwap: {
            ...ok,
            succeeded: holds,
            previousFound: prev !== undefined,
            previousValue: prev ?? Buffer.alloc(0),
          },
        };
      }
    }
  }

  private scan(req: kvpb.ScanRequest): { pairs: kvpb.KvPair[]; hasMore: boolean } {
    const r = this.region(req.context?.regionId ?? 0n) as FakeRegion;
    const end = clampEnd(req.endKey, r.endKey);
    const keys = [...this.data.keys()]
      .map((k) => Buffer.from(k, 'latin1'))
      .filter((k) => contains({ startKey: req.startKey, endKey: end }, k))
      .sort(Buffer.compare);
    if (req.reverse) keys.reverse();
    const page = keys.slice(0, req.limit);
    return {
      pairs: page.map((key) => ({
        key,
        value: req.keyOnly ? Buffer.alloc(0) : (this.data.get(key.toString('latin1')) as Buffer),
      })),
      hasMore: keys.length > req.limit,
    };
  }
}

function clampEnd(requested: Buffer, regionEnd: Buffer): Buffer {
  if (regionEnd.length === 0) return requested;
  if (requested.length === 0 || Buffer.compare(requested, regionEnd) > 0) return regionEnd;
  return requested;
}

function keysOf(body: RequestBody): Buffer[] {
  switch (body.$case) {
    case 'get':
      return [body.get.key];
    case 'batchGet':
      return body.batchGet.keys;
    case 'scan':
      return [body.scan.startKey];
    case 'put':
      return [body.put.key];
    case 'delete':
      return [body.delete.key];
    case 'deleteRange':
      return [body.deleteRange.startKey];
    case 'batchWrite':
      return body.batchWrite.mutations.map((m) =>
        m.op?.$case === 'put' ? m.op.put.key : m.op?.$case === 'delete' ? m.op.delete.key : Buffer.alloc(0),
      );
    case 'compareAndSwap':
      return [body.compareAndSwap.key];
  }
}

/** A response of the request's kind carrying only `regionError`. */
export function refused(body: RequestBody, regionError: errorpb.RegionError): ResponseBody {
  const base = { regionError, keyError: undefined };
  switch (body.$case) {
    case 'get':
      return { $case: 'get', get: { ...base, found: false, value: Buffer.alloc(0) } };
    case 'batchGet':
      return { $case: 'batchGet', batchGet: { ...base, pairs: [] } };
    case 'scan':
      return { $case: 'scan', scan: { ...base, pairs: [], hasMore: false } };
    case 'put':
      return { $case: 'put', put: base };
    case 'delete':
      return { $case: 'delete', delete: base };
    case 'deleteRange':
      return { $case: 'deleteRange', deleteRange: base };
    case 'batchWrite':
      return { $case: 'batchWrite', batchWrite: base };
    case 'compareAndSwap':
      return {
        $case: 'compareAndSwap',
        compareAndSwap: { ...base, succeeded: false, previousFound: false, previousValue: Buffer.alloc(0) },
      };
  }
}

async function listen(server: grpc.Server, port = 0): Promise<string> {
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return `127.0.0.1:${bound}`;
}

/** One fake store process: a gRPC server answering the Kv service from the shared state. */
export class FakeStore {
  private server: grpc.Server | undefined;
  address = '';
  /** Requests received (unary calls and batched requests). */
  requests = 0;
  /** Unary calls plus BatchCommands frames received. */
  rpcs = 0;
  intercept: Intercept | undefined;
  /** Every request body received, when recording is on (tests of what the client sends). */
  recorded: RequestBody[] | undefined;
  /** The `traceparent` metadata of the last unary call. */
  lastTraceparent: string | undefined;
  /** Requests an intercept left hanging (so tests can see they arrived). */
  readonly hanging: RequestBody[] = [];
  private hangWaiters: Array<(body: RequestBody) => void> = [];

  constructor(
    readonly storeId: bigint,
    private readonly state: FakeKvState,
  ) {}

  async start(port = 0): Promise<void> {
    const server = new grpc.Server();
    const unary =
      (kind: RequestBody['$case']) =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>): void => {
        this.rpcs++;
        const traceparent = call.metadata.get('traceparent')[0];
        this.lastTraceparent = typeof traceparent === 'string' ? traceparent : undefined;
        const body = { $case: kind, [kind]: call.request } as unknown as RequestBody;
        const response = this.answer(body);
        if (response === 'hang') return;
        callback(null, (response as Record<string, unknown>)[response.$case]);
      };
    const impl: kvpb.KvServer = {
      get: unary('get'),
      batchGet: unary('batchGet'),
      scan: unary('scan'),
      put: unary('put'),
      delete: unary('delete'),
      deleteRange: unary('deleteRange'),
      batchWrite: unary('batchWrite'),
      compareAndSwap: unary('compareAndSwap'),
      batchCommands: (stream) => {
        stream.on('data', (frame: kvpb.BatchCommandsRequest) => {
          this.rpcs++;
          const responses: kvpb.BatchedResponse[] = [];
          for (const r of frame.requests) {
            if (r.request === undefined) continue;
            const response = this.answer(r.request);
            if (response !== 'hang') responses.push({ requestId: r.requestId, response });
          }
          if (responses.length > 0) setImmediate(() => stream.write({ responses }));
        });
        stream.on('end', () => stream.end());
        stream.on('error', () => {});
      },
    };
    server.addService(kvpb.KvService, impl);
    this.address = await listen(server, port);
    this.server = server;
  }

  /** Resolves when the next request is left hanging by an intercept. */
  nextHang(): Promise<RequestBody> {
    return new Promise((resolve) => this.hangWaiters.push(resolve));
  }

  /** Stops at once, breaking open connections (like a killed process). */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private answer(body: RequestBody): ResponseBody | 'hang' {
    this.requests++;
    this.recorded?.push(body);
    const scripted = this.intercept?.(this.storeId, body);
    if (scripted === 'hang') {
      this.hanging.push(body);
      const waiters = this.hangWaiters;
      this.hangWaiters = [];
      for (const w of waiters) w(body);
      return 'hang';
    }
    return scripted ?? this.state.serve(this.storeId, body);
  }
}

/** A fake PD member serving the region map of `state` and the stores' addresses. */
export class FakePd {
  private server: grpc.Server | undefined;
  address = '';
  /** Calls by method name. */
  readonly calls = new Map<string, number>();
  /** The leader's client address GetMembers names; this member answers data calls only when it is the leader. */
  leaderAddress: () => string | undefined = () => this.address;
  /** Regions as PD sees them (default: the stores' current map); a test may make PD lag. */
  regions: () => FakeRegion[];

  constructor(
    state: FakeKvState,
    private readonly storeAddress: (storeId: bigint) => string | undefined,
  ) {
    this.regions = () => state.regions;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(pdpb.PDService, this.implementation() as grpc.UntypedServiceImplementation);
    this.address = await listen(server);
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  private implementation(): Partial<pdpb.PDServer> {
    const info = (r: FakeRegion): pdpb.RegionInfo => ({
      region: regionProto(r),
      leader: r.leaderStoreId === 0n ? undefined : peerOf(r, r.leaderStoreId),
      downPeers: [],
      pendingPeers: [],
    });
    const guarded =
      <Req, Res>(name: string, answer: (req: Req) => Omit<Res, 'header'>) =>
      (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>): void => {
        this.calls.set(name, this.count(name) + 1);
        if (this.leaderAddress() !== this.address) {
          return callback(null, {
            header: { clusterId: 7n, error: { type: pdpb.ErrorType.NOT_LEADER, message: 'not leader' } },
          } as Res);
        }
        callback(null, { header: { clusterId: 7n, error: undefined }, ...answer(call.request) } as Res);
      };
    const regionAt = (key: Buffer): FakeRegion | undefined => this.regions().find((r) => contains(r, key));
    return {
      getMembers: (_call, callback) => {
        this.calls.set('getMembers', this.count('getMembers') + 1);
        const leader = this.leaderAddress();
        callback(null, {
          header: { clusterId: 7n, error: undefined },
          members: [],
          leader:
            leader === undefined
              ? undefined
              : { memberId: 1n, name: 'pd', clientAddresses: [leader], peerAddresses: [] },
        });
      },
      getRegion: guarded<pdpb.GetRegionRequest, pdpb.GetRegionResponse>('getRegion', (req) => {
        const r = regionAt(req.regionKey);
        return { region: r === undefined ? undefined : info(r) };
      }),
      getPrevRegion: guarded<pdpb.GetPrevRegionRequest, pdpb.GetPrevRegionResponse>(
        'getPrevRegion',
        (req) => {
          const r = regionAt(req.regionKey);
          const prev =
            r === undefined
              ? undefined
              : this.regions().find((p) => p.endKey.equals(r.startKey) && r.startKey.length > 0);
          return { region: prev === undefined ? undefined : info(prev) };
        },
      ),
      getRegionById: guarded<pdpb.GetRegionByIdRequest, pdpb.GetRegionByIdResponse>(
        'getRegionById',
        (req) => {
          const r = this.regions().find((x) => x.id === req.regionId);
          return { region: r === undefined ? undefined : info(r) };
        },
      ),
      scanRegions: guarded<pdpb.ScanRegionsRequest, pdpb.ScanRegionsResponse>('scanRegions', (req) => {
        const overlapping = [...this.regions()]
          .sort((a, b) => Buffer.compare(a.startKey, b.startKey))
          .filter(
            (r) =>
              (r.endKey.length === 0 || Buffer.compare(r.endKey, req.startKey) > 0) &&
              (req.endKey.length === 0 || Buffer.compare(r.startKey, req.endKey) < 0),
          );
        return { regions: overlapping.slice(0, req.limit).map(info) };
      }),
      getStore: guarded<pdpb.GetStoreRequest, pdpb.GetStoreResponse>('getStore', (req) => {
        const address = this.storeAddress(req.storeId);
        return {
          store:
            address === undefined
              ? undefined
              : { id: req.storeId, address, labels: [], state: 0, version: '0.1.0', statusAddress: '' },
          stats: undefined,
        };
      }),
    };
  }
}

/** Stores 1..n, one region over the whole key space led by store 1, and a PD. */
export class FakeCluster {
  readonly state = new FakeKvState();
  readonly stores = new Map<bigint, FakeStore>();
  readonly pd: FakePd;

  private constructor(storeCount: number) {
    for (let i = 1n; i <= BigInt(storeCount); i++) this.stores.set(i, new FakeStore(i, this.state));
    this.state.regions = [
      {
        id: 1n,
        startKey: Buffer.alloc(0),
        endKey: Buffer.alloc(0),
        version: 1n,
        confVer: 1n,
        storeIds: [...this.stores.keys()],
        leaderStoreId: 1n,
      },
    ];
    this.pd = new FakePd(this.state, (id) => this.stores.get(id)?.address);
  }

  static async start(storeCount = 3): Promise<FakeCluster> {
    const cluster = new FakeCluster(storeCount);
    await Promise.all([...cluster.stores.values()].map((s) => s.start()));
    await cluster.pd.start();
    return cluster;
  }

  store(id: bigint): FakeStore {
    const s = this.stores.get(id);
    if (s === undefined) throw new Error(`no store ${id}`);
    return s;
  }

  setIntercept(intercept: Intercept | undefined): void {
    for (const s of this.stores.values()) s.intercept = intercept;
  }

  totalRequests(): number {
    return [...this.stores.values()].reduce((n, s) => n + s.requests, 0);
  }

  stop(): void {
    for (const s of this.stores.values()) s.stop();
    this.pd.stop();
  }
}

export { h as latin1 };
