// The Admin gRPC service: store and region status for operators and tests, leader
// transfer, membership changes and region splits proposed through Raft (returned once applied).
import type { handleUnaryCall } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ConfChange, ConfChangeSingle, ConfChangeTransition } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import type { Store } from '../store/store.js';
import type { DiskReport } from '../storage/disk-space.js';
import { diskUsageToProto } from '../store/disk/disk-usage-proto.js';
import { regionErrorToProto } from '../store/region-error.js';
import type { RegionEpoch } from '../store/region-meta.js';
import {
  epochFromProto,
  epochMatches,
  peerById,
  peerFromProto,
  regionToProto,
} from '../store/region-meta.js';
import { checkSplitKeys } from '../store/region-split.js';
import type { RegionPeer } from '../store/region-peer.js';
import { toSafeNumber } from '../store/wire-numbers.js';

export interface AdminServiceOptions {
  readonly store: Store;
  readonly address: string;
  readonly version: string;
  readonly clusterId: number;
  readonly startedAtMs: number;
  readonly nowMs: () => number;
  /** The data directory's disk; absent: not reported. */
  readonly disk?: { report(): DiskReport };
}

const ROLES: Record<string, raftpb.RaftRole> = {
  follower: raftpb.RaftRole.FOLLOWER,
  preCandidate: raftpb.RaftRole.PRE_CANDIDATE,
  candidate: raftpb.RaftRole.CANDIDATE,
  leader: raftpb.RaftRole.LEADER,
};

const TRANSITIONS: Record<number, ConfChangeTransition> = {
  [raftpb.ConfChangeTransition.AUTO]: 'auto',
  [raftpb.ConfChangeTransition.JOINT_IMPLICIT]: 'jointImplicit',
  [raftpb.ConfChangeTransition.JOINT_EXPLICIT]: 'jointExplicit',
};

const CHANGE_TYPES: Record<number, ConfChangeSingle['type']> = {
  [raftpb.ConfChangeType.ADD_VOTER]: 'addVoter',
  [raftpb.ConfChangeType.ADD_LEARNER]: 'addLearner',
  [raftpb.ConfChangeType.REMOVE_NODE]: 'removeNode',
};

class InvalidArgument extends Error {}

function regionStatus(peer: RegionPeer): raftpb.RegionStatus {
  const s = peer.node.status();
  return {
    region: regionToProto(peer.region),
    peerId: BigInt(peer.peerId),
    role: ROLES[s.role] ?? raftpb.RaftRole.FOLLOWER,
    leaderPeerId: BigInt(s.leaderId),
    term: BigInt(s.term),
    commitIndex: BigInt(s.commit),
    appliedIndex: BigInt(s.applied),
    firstIndex: BigInt(peer.storage.firstIndex()),
    lastIndex: BigInt(s.lastIndex),
    logSizeBytes: BigInt(peer.storage.retainedLogSizeBytes),
  };
}

function toConfChange(req: raftpb.ChangePeerRequest): ConfChange {
  const transition = TRANSITIONS[req.transition];
  if (transition === undefined) throw new InvalidArgument(`unknown transition ${req.transition}`);
  const changes = req.changes.map((c, i): ConfChangeSingle => {
    const type = CHANGE_TYPES[c.changeType];
    if (type === undefined)
      throw new InvalidArgument(`changes[${i}].changeType ${c.changeType} is not a change`);
    if (c.peer === undefined) throw new InvalidArgument(`changes[${i}].peer is missing`);
    return { type, nodeId: toSafeNumber(c.peer.id, `changes[${i}].peer.id`) };
  });
  const context = raftpb.RaftCommand.encode({
    command: { $case: 'changePeer', changePeer: { changes: req.changes } },
  }).finish();
  return { transition, changes, context };
}

function diskStatus(report: DiskReport, store: Store): raftpb.StoreDiskStatus {
  const writer = store.durableWriter;
  return {
    capacityBytes: BigInt(report.capacityBytes),
    availableBytes: BigInt(report.availableBytes),
    reservedBytes: BigInt(report.reservedBytes),
    usage: diskUsageToProto(report.usage),
    placeholderBytes: BigInt(report.placeholderBytes),
    noSpaceWritesCount: BigInt(writer.noSpaceWritesCount),
    waitingForSpace: writer.waitingForSpace,
  };
}

export function adminServiceImplementation(options: AdminServiceOptions): raftpb.AdminServer {
  const { store } = options;
  const status: handleUnaryCall<raftpb.StatusRequest, raftpb.StatusResponse> = (call, callback) => {
    const wanted = new Set(call.request.regionIds.map((id) => Number(id)));
    const regions = store
      .allRegions()
      .filter((p) => wanted.size === 0 || wanted.has(p.regionId))
      .sort((a, b) => a.regionId - b.regionId)
      .map(regionStatus);
    callback(null, {
      storeId: BigInt(store.storeId),
      clusterId: BigInt(options.clusterId),
      address: options.address,
      version: options.version,
      uptimeMs: BigInt(options.nowMs() - options.startedAtMs),
      regions,
      disk: options.disk === undefined ? undefined : diskStatus(options.disk.report(), store),
    });
  };
  const transferLeader: handleUnaryCall<raftpb.TransferLeaderRequest, raftpb.TransferLeaderResponse> = (
    call,
    callback,
  ) => {
    const regionId = Number(call.request.regionId);
    const peer = store.region(regionId);
    if (peer === undefined)
      return callback(null, { regionError: regionErrorToProto({ kind: 'regionNotFound', regionId }) });
    if (
      call.request.toPeer === undefined ||
      peerById(peer.region, Number(call.request.toPeer.id)) === undefined
    ) {
      return callback({ code: GrpcStatus.INVALID_ARGUMENT, details: 'toPeer must be a peer of the region' });
    }
    const error = store.transferLeader(regionId, Number(call.request.toPeer.id));
    callback(null, { regionError: error ? regionErrorToProto(error) : undefined });
  };
  const changePeer: handleUnaryCall<raftpb.ChangePeerRequest, raftpb.ChangePeerResponse> = (
    call,
    callback,
  ) => {
    const regionId = Number(call.request.regionId);
    const peer = store.region(regionId);
    if (peer === undefined || !peer.initialized)
      return callback(null, { regionError: regionErrorToProto({ kind: 'regionNotFound', regionId }) });
    let cc: ConfChange;
    try {
      const epoch = epochFromProto(call.request.regionEpoch, 'regionEpoch');
      if (epoch.confVer !== peer.region.epoch.confVer) {
        return callback(null, {
          regionError: regionErrorToProto(store.epochNotMatch(peer, epoch.version)),
        });
      }
      for (const [i, c] of call.request.changes.entries())
        if (c.peer) peerFromProto(c.peer, `changes[${i}].peer`);
      cc = toConfChange(call.request);
    } catch (err) {
      return callback({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: err instanceof Error ? err.message : String(err),
      });
    }
    store.proposeConfChange(regionId, cc).then((result) => {
      if (result.kind === 'regionError')
        return callback(null, { regionError: regionErrorToProto(result.error) });
      if (result.kind === 'outcomeUnknown')
        return callback({ code: GrpcStatus.UNAVAILABLE, details: result.reason });
      const region = store.regionMeta(regionId);
      callback(null, { regionError: undefined, region: region ? regionToProto(region) : undefined });
    }, callback);
  };
  const splitRegion: handleUnaryCall<raftpb.SplitRegionRequest, raftpb.SplitRegionResponse> = (
    call,
    callback,
  ) => {
    const regionId = Number(call.request.regionId);
    const peer = store.region(regionId);
    if (peer === undefined || !peer.initialized)
      return callback(null, {
        regionError: regionErrorToProto({ kind: 'regionNotFound', regionId }),
        regions: [],
      });
    let epoch: RegionEpoch;
    const splitKeys = call.request.splitKeys.map((k) => new Uint8Array(k));
    try {
      epoch = epochFromProto(call.request.regionEpoch, 'regionEpoch');
    } catch (err) {
      return callback({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: err instanceof Error ? err.message : String(err),
      });
    }
    // The range is only checked when the caller's epoch is current (else EpochNotMatch below).
    const problem = epochMatches(peer.region.epoch, epoch)
      ? checkSplitKeys(peer.region, splitKeys)
      : splitKeys.length === 0
        ? 'no split keys'
        : undefined;
    if (problem !== undefined)
      return callback({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: `split of region ${regionId}: ${problem}`,
      });
    store.splitRegion(regionId, epoch, splitKeys).then((outcome) => {
      switch (outcome.kind) {
        case 'split':
          return callback(null, { regionError: undefined, regions: outcome.regions.map(regionToProto) });
        case 'regionError':
          return callback(null, { regionError: regionErrorToProto(outcome.error), regions: [] });
        case 'rejected':
          return callback({ code: GrpcStatus.FAILED_PRECONDITION, details: outcome.reason });
      }
    }, callback);
  };
  const mergeRegion: handleUnaryCall<raftpb.MergeRegionRequest, raftpb.MergeRegionResponse> = (
    call,
    callback,
  ) => {
    let sourceEpoch: RegionEpoch;
    let targetEpoch: RegionEpoch;
    const sourceRegionId = Number(call.request.sourceRegionId);
    const targetRegionId = Number(call.request.targetRegionId);
    try {
      sourceEpoch = epochFromProto(call.request.sourceRegionEpoch, 'sourceRegionEpoch');
      targetEpoch = epochFromProto(call.request.targetRegionEpoch, 'targetRegionEpoch');
    } catch (err) {
      return callback({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: err instanceof Error ? err.message : String(err),
      });
    }
    if (sourceRegionId === targetRegionId)
      return callback({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: `region ${sourceRegionId} cannot merge into itself`,
      });
    store.mergeRegion(sourceRegionId, sourceEpoch, targetRegionId, targetEpoch).then((outcome) => {
      switch (outcome.kind) {
        case 'merged':
          return callback(null, { regionError: undefined, region: regionToProto(outcome.region) });
        case 'regionError':
          return callback(null, { regionError: regionErrorToProto(outcome.error), region: undefined });
        case 'rejected':
          return callback({ code: GrpcStatus.FAILED_PRECONDITION, details: outcome.reason });
      }
    }, callback);
  };
  return { status, transferLeader, changePeer, splitRegion, mergeRegion };
}
