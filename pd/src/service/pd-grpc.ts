// The PD gRPC service. GetMembers works on every member; every other call is served by the
// leader only (followers answer NOT_LEADER naming the leader's address). The cluster id in
// the request header must match, except that 0 is accepted by the calls a store makes
// before it learned the id (GetMembers, IsBootstrapped, Bootstrap, AllocId, PutStore).
// Malformed requests end with gRPC status INVALID_ARGUMENT; PD-level failures travel in
// the response header. RegionHeartbeat streams are read one message at a time (HTTP/2 flow
// control holds a fast sender back) and registered per store for operators.
import type { ServerDuplexStream, ServiceError, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { pdpb } from '@flotilla/proto';
import type { PdCluster } from '../cluster/pd-cluster.js';
import { positiveId } from '../cluster/pd-cluster.js';
import { SerialQueueFullError } from '../cluster/serial-queue.js';
import type { Leadership } from '../leadership.js';
import { MetaStoreError } from '../meta/meta-kv.js';
import { PdInvalidArgumentError, PdRequestError, invalidArgument } from '../pd-errors.js';
import { regionInfoToProto, regionOfRequest, regionReportOf } from './pd-wire.js';
import type { OperatorController } from '../schedule/operator-controller.js';
import { operatorStatusReport, operatorStatusToProto } from '../schedule/operator-status.js';

/** How long a request waits for a freshly elected leader to load the cluster state. */
const LEADER_READY_WAIT_MS = 3000;
/** Regions one ScanRegions may return. */
export const SCAN_REGIONS_LIMIT_MAX = 10_000;

export interface PdServiceOptions {
  readonly cluster: PdCluster;
  readonly leadership: Leadership;
  readonly memberId: number;
  /** Every member's id and address (client and peer traffic share the port). */
  readonly members: ReadonlyMap<number, string>;
  /** The cluster id as this member's applied state has it (0 before the first leader set it). */
  readonly localClusterId: () => number;
  /** Unexpected handler failures (bugs): they reach callers as INTERNAL. */
  readonly onInternalError: (error: unknown) => void;
  /** The scheduler's operators (GetOperators); undefined before the scheduler started. */
  readonly operators?: () => OperatorController | undefined;
  /** The voters the scheduler keeps per region, told to stores in heartbeat answers (0: unknown). */
  readonly maxReplicas?: () => number;
  readonly nowUnixMs?: () => number;
}

type Header = pdpb.RequestHeader | undefined;
interface WithHeader {
  header?: pdpb.ResponseHeader | undefined;
}
interface MessageFns<T> {
  fromPartial(object: Record<string, unknown>): T;
}

export function pdServiceImplementation(options: PdServiceOptions): pdpb.PDServer {
  const { cluster } = options;
  const call = leaderCall(options);
  return {
    getMembers: (c, cb) => respond(cb, Promise.resolve(getMembers(options)), options),
    bootstrap: call(pdpb.BootstrapResponse, true, async (r: pdpb.BootstrapRequest) => {
      if (r.store === undefined) throw invalidArgument('store is missing');
      await cluster.bootstrap(r.store, regionOfRequest(r.region, 'region'));
      return {};
    }),
    isBootstrapped: call(pdpb.IsBootstrappedResponse, true, () =>
      Promise.resolve({ bootstrapped: cluster.isBootstrapped() }),
    ),
    allocId: call(pdpb.AllocIdResponse, true, async () => ({
      id: BigInt(await cluster.allocIds(1).then((ids) => ids[0] as number)),
    })),
    putStore: call(pdpb.PutStoreResponse, true, async (r: pdpb.PutStoreRequest) => {
      if (r.store === undefined) throw invalidArgument('store is missing');
      await cluster.putStore(r.store);
      return {};
    }),
    getStore: call(pdpb.GetStoreResponse, false, (r: pdpb.GetStoreRequest) => {
      const info = cluster.getStore(positiveId(r.storeId, 'storeId'));
      return Promise.resolve({ store: info.store, stats: info.stats });
    }),
    getAllStores: call(pdpb.GetAllStoresResponse, false, (r: pdpb.GetAllStoresRequest) =>
      Promise.resolve({ stores: cluster.getAllStores(r.excludeTombstoneStores).map((s) => s.store) }),
    ),
    setStoreState: call(pdpb.SetStoreStateResponse, false, async (r: pdpb.SetStoreStateRequest) => ({
      store: await cluster.setStoreState(positiveId(r.storeId, 'storeId'), r.state),
    })),
    storeHeartbeat: call(pdpb.StoreHeartbeatResponse, false, (r: pdpb.StoreHeartbeatRequest) => {
      if (r.stats === undefined) throw invalidArgument('stats is missing');
      cluster.storeHeartbeat(r.stats);
      return Promise.resolve({ maxReplicas: options.maxReplicas?.() ?? 0 });
    }),
    regionHeartbeat: (stream) => {
      serveRegionHeartbeats(stream, options).catch((err: unknown) => {
        // A cancelled call (the store went away, or the server ended it on an undecodable
        // frame) ends the iteration with a premature close: no bug to report.
        if (!stream.cancelled) options.onInternalError(err);
        stream.destroy();
      });
    },
    askBatchSplit: call(pdpb.AskBatchSplitResponse, false, async (r: pdpb.AskBatchSplitRequest) => ({
      ids: await cluster.askBatchSplit(regionOfRequest(r.region, 'region'), r.splitCount),
    })),
    reportBatchSplit: call(pdpb.ReportBatchSplitResponse, false, async (r: pdpb.ReportBatchSplitRequest) => {
      await cluster.reportBatchSplit(r.regions.map((region, i) => regionOfRequest(region, `regions[${i}]`)));
      return {};
    }),
    getRegion: call(pdpb.GetRegionResponse, false, (r: pdpb.GetRegionRequest) => {
      const info = cluster.getRegionByKey(r.regionKey);
      if (info === undefined)
        throw new PdRequestError(pdpb.ErrorType.REGION_NOT_FOUND, 'no region contains the key');
      return Promise.resolve({ region: regionInfoToProto(info) });
    }),
    getPrevRegion: call(pdpb.GetPrevRegionResponse, false, (r: pdpb.GetPrevRegionRequest) => {
      const info = cluster.getPrevRegion(r.regionKey);
      return Promise.resolve({ region: info === undefined ? undefined : regionInfoToProto(info) });
    }),
    getRegionById: call(pdpb.GetRegionByIdResponse, false, (r: pdpb.GetRegionByIdRequest) => {
      const info = cluster.getRegionById(positiveId(r.regionId, 'regionId'));
      return Promise.resolve({ region: info === undefined ? undefined : regionInfoToProto(info) });
    }),
    getOperators: call(pdpb.GetOperatorsResponse, false, () => {
      const controller = options.operators?.();
      if (controller === undefined) return Promise.resolve({ running: [], finished: [], limits: [] });
      const now = options.nowUnixMs?.() ?? Date.now();
      return Promise.resolve(operatorStatusToProto(operatorStatusReport(controller, now)));
    }),
    scanRegions: call(pdpb.ScanRegionsResponse, false, (r: pdpb.ScanRegionsRequest) => {
      if (r.limit < 1 || r.limit > SCAN_REGIONS_LIMIT_MAX) {
        throw invalidArgument(`limit must be in [1, ${SCAN_REGIONS_LIMIT_MAX}], got ${r.limit}`);
      }
      if (r.endKey.length > 0 && Buffer.compare(r.startKey, r.endKey) >= 0) {
        throw invalidArgument('startKey must be below endKey');
      }
      return Promise.resolve({
        regions: cluster.scanRegions(r.startKey, r.endKey, r.limit).map(regionInfoToProto),
      });
    }),
  };
}

/** Builds a unary handler served by the leader only, with the header checks and error mapping. */
function leaderCall(options: PdServiceOptions) {
  return <Req extends { header?: Header }, Res extends WithHeader>(
      fns: MessageFns<Res>,
      zeroClusterIdAllowed: boolean,
      run: (req: Req) => Promise<Partial<Res>>,
    ): handleUnaryCall<Req, Res> =>
    (c, cb: sendUnaryData<Res>) => {
      const result = admit(options, c.request.header, zeroClusterIdAllowed)
        .then(() => run(c.request))
        .then(
          (fields) => fns.fromPartial({ ...fields, header: okHeader(options) }),
          (err: unknown) => {
            // Leadership lost while the request was in the meta store: the caller goes elsewhere.
            if (err instanceof MetaStoreError && err.code === 'NOT_LEADER') err = notLeaderError(options);
            if (!(err instanceof PdRequestError)) throw err;
            return fns.fromPartial({ header: errorHeader(options, err) });
          },
        );
      respond(cb, result, options);
    };
}

/** Resolves when this member may serve the request as leader; rejects with the PD error otherwise. */
async function admit(
  options: PdServiceOptions,
  header: Header,
  zeroClusterIdAllowed: boolean,
): Promise<void> {
  if (!(await options.leadership.ready(LEADER_READY_WAIT_MS))) throw notLeaderError(options);
  const clusterId = options.cluster.clusterId;
  if (clusterId === undefined) throw notLeaderError(options);
  const requested = header?.clusterId ?? 0n;
  if (requested === 0n && zeroClusterIdAllowed) return;
  if (requested !== BigInt(clusterId)) {
    throw new PdRequestError(
      pdpb.ErrorType.CLUSTER_ID_MISMATCH,
      `request for cluster ${requested} reached cluster ${clusterId}`,
    );
  }
}

function respond<Res>(cb: sendUnaryData<Res>, result: Promise<Res>, options: PdServiceOptions): void {
  result.then(
    (response) => cb(null, response),
    (err: unknown) => cb(grpcError(err, options)),
  );
}

function grpcError(err: unknown, options: PdServiceOptions): Partial<ServiceError> {
  if (err instanceof PdInvalidArgumentError)
    return { code: GrpcStatus.INVALID_ARGUMENT, details: err.message };
  if (err instanceof SerialQueueFullError)
    return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: err.message };
  if (err instanceof MetaStoreError) return { code: GrpcStatus.UNAVAILABLE, details: err.message };
  options.onInternalError(err);
  return {
    code: GrpcStatus.INTERNAL,
    details: `internal error: ${err instanceof Error ? err.message : String(err)}`,
  };
}

function okHeader(options: PdServiceOptions): pdpb.ResponseHeader {
  return { clusterId: BigInt(options.cluster.clusterId ?? options.localClusterId()), error: undefined };
}

function errorHeader(options: PdServiceOptions, err: PdRequestError): pdpb.ResponseHeader {
  return {
    clusterId: BigInt(options.cluster.clusterId ?? options.localClusterId()),
    error: { type: err.type, message: err.message },
  };
}

function notLeaderError(options: PdServiceOptions): PdRequestError {
  return new PdRequestError(pdpb.ErrorType.NOT_LEADER, leaderHint(options));
}

function leaderHint(options: PdServiceOptions): string {
  return describeLeader(options.memberId, options.members, options.leadership.raftStatus().leaderId);
}

/** "PD member 2 is not serving as leader; the leader is member 1 at 127.0.0.1:2379" (or unknown). */
export function describeLeader(
  memberId: number,
  members: ReadonlyMap<number, string>,
  leaderId: number,
): string {
  const address = members.get(leaderId);
  const leader =
    leaderId === 0 || address === undefined
      ? 'the leader is unknown (election in progress)'
      : `the leader is member ${leaderId} at ${address}`;
  return `PD member ${memberId} is not serving as leader; ${leader}`;
}

function getMembers(options: PdServiceOptions): pdpb.GetMembersResponse {
  const members = [...options.members.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, address]) => memberProto(id, address));
  const { leaderId } = options.leadership.raftStatus();
  return {
    header: okHeader(options),
    members,
    leader: members.find((m) => m.memberId === BigInt(leaderId)),
  };
}

function memberProto(id: number, address: string): pdpb.Member {
  return { memberId: BigInt(id), name: `pd-${id}`, clientAddresses: [address], peerAddresses: [address] };
}

/** Serves one RegionHeartbeat stream until the store closes it or this member stops leading. */
async function serveRegionHeartbeats(
  stream: ServerDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse>,
  options: PdServiceOptions,
): Promise<void> {
  const { cluster } = options;
  const sink = {
    write: (response: pdpb.RegionHeartbeatResponse, done: () => void) => {
      if (stream.writableEnded || stream.destroyed) return done();
      stream.write(response, () => done());
    },
    end: (last?: pdpb.RegionHeartbeatResponse) => {
      if (stream.writableEnded || stream.destroyed) return;
      if (last !== undefined) stream.write(last);
      stream.end();
    },
  };
  let storeId: number | undefined;
  try {
    for await (const req of stream as AsyncIterable<pdpb.RegionHeartbeatRequest>) {
      try {
        await admit(options, req.header, false);
        const report = regionReportOf(req);
        const leaderStore = report.leader?.storeId as number;
        if (storeId !== leaderStore) {
          if (storeId !== undefined) cluster.streams.detach(storeId, sink);
          storeId = leaderStore;
          if (!cluster.streams.attach(storeId, sink))
            throw new PdRequestError(pdpb.ErrorType.UNKNOWN, 'too many heartbeat streams');
        }
        await cluster.regionHeartbeat(report);
      } catch (err) {
        const reply = heartbeatError(err, req, options);
        if (reply.header?.error?.type === pdpb.ErrorType.NOT_LEADER) {
          sink.end(reply);
          return;
        }
        if (storeId === undefined || !cluster.streams.send(storeId, reply))
          sink.write(reply, () => undefined);
      }
    }
  } finally {
    if (storeId !== undefined) cluster.streams.detach(storeId, sink);
    sink.end();
  }
}

function heartbeatError(
  err: unknown,
  req: pdpb.RegionHeartbeatRequest,
  options: PdServiceOptions,
): pdpb.RegionHeartbeatResponse {
  let pdError: PdRequestError;
  if (err instanceof PdRequestError) pdError = err;
  else if (err instanceof PdInvalidArgumentError)
    pdError = new PdRequestError(pdpb.ErrorType.INVALID_ARGUMENT, err.message);
  else if (err instanceof MetaStoreError && err.code === 'NOT_LEADER') pdError = notLeaderError(options);
  else {
    if (!(err instanceof MetaStoreError || err instanceof SerialQueueFullError)) options.onInternalError(err);
    pdError = new PdRequestError(pdpb.ErrorType.UNKNOWN, err instanceof Error ? err.message : String(err));
  }
  return pdpb.RegionHeartbeatResponse.fromPartial({
    header: errorHeader(options, pdError),
    regionId: req.region?.id ?? 0n,
  });
}
