// The round-trip table: at least one fully populated sample of every message of every
// protobuf package, one sample per oneof case, and one per enum value. Values come from
// counters so that no two fields share a value (a field decoded into the wrong slot shows
// up as a mismatch) and ids sit above 2^53 (a lossy number conversion shows up too).
import { errorpb, kvpb, metapb, pdpb, raftpb } from '../src/index.js';

/** The part of a generated ts-proto codec the tests use. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

export interface Sample {
  /** The message's package and name, e.g. "errorpb.RegionError". */
  readonly name: string;
  /** Shown in test names, e.g. "errorpb.RegionError notLeader". */
  readonly label: string;
  readonly codec: Codec<unknown>;
  readonly value: unknown;
  /** Full samples must set every field to a non-default value; enum variants may hold 0. */
  readonly requireNonDefault: boolean;
}

/** The generated modules by package name, as exported from the public entry. */
export const modules = { metapb, errorpb, kvpb, raftpb, pdpb } as const;

const samples: Sample[] = [];

function codecName(codec: object): string {
  for (const [pkg, mod] of Object.entries(modules)) {
    for (const [name, exported] of Object.entries(mod)) {
      if (exported === codec) return `${pkg}.${name}`;
    }
  }
  throw new Error('sample codec is not exported by any generated module');
}

/** Registers a sample whose every field holds a non-default value. */
function full<T>(codec: Codec<T>, value: T, note = ''): void {
  const name = codecName(codec);
  const label = note === '' ? name : `${name} ${note}`;
  samples.push({ name, label, codec: codec as Codec<unknown>, value, requireNonDefault: true });
}

/** Registers one sample per value of an enum (UNRECOGNIZED excluded), built by `make`. */
function enumVariants<E extends number, T>(
  enumObject: Record<string, string | number>,
  codec: Codec<T>,
  make: (value: E) => T,
): void {
  const messageName = codecName(codec);
  for (const [name, value] of Object.entries(enumObject)) {
    if (typeof value !== 'number' || value < 0) continue;
    samples.push({
      name: messageName,
      label: `${messageName} ${name}`,
      codec: codec as Codec<unknown>,
      value: make(value as E),
      requireNonDefault: false,
    });
  }
}

// ---- Unique values ---------------------------------------------------------------------

let counter = 0;
/** A fresh uint64 above Number.MAX_SAFE_INTEGER. */
const u64 = (): bigint => (1n << 60n) + BigInt(++counter);
/** A fresh non-zero uint32. */
const u32 = (): number => 1_000_000 + ++counter;
/** Fresh non-empty bytes, including bytes that are not valid UTF-8. */
const bytes = (tag: string): Buffer =>
  Buffer.concat([Buffer.from(`${tag}-${++counter}`), Buffer.from([0, 255])]);
/** A fresh non-empty string. */
const str = (tag: string): string => `${tag}-${++counter}`;
const U64_MAX = (1n << 64n) - 1n;

// ---- metapb ----------------------------------------------------------------------------

const storeLabel = (): metapb.StoreLabel => ({ key: str('zone'), value: str('us-east') });
const peer = (role = metapb.PeerRole.LEARNER): metapb.Peer => ({ id: u64(), storeId: u64(), role });
const epoch = (): metapb.RegionEpoch => ({ confVer: u64(), version: u64() });
const region = (): metapb.Region => ({
  id: u64(),
  startKey: bytes('start'),
  endKey: bytes('end'),
  regionEpoch: epoch(),
  peers: [peer(metapb.PeerRole.INCOMING_VOTER), peer(metapb.PeerRole.DEMOTING_VOTER)],
});
const store = (state = metapb.StoreState.OFFLINE): metapb.Store => ({
  id: u64(),
  address: str('10.0.0.1:20160'),
  labels: [storeLabel(), storeLabel()],
  state,
  version: str('1.2.3'),
  statusAddress: str('10.0.0.1:20180'),
});

full(metapb.StoreLabel, storeLabel());
full(metapb.Store, store());
full(metapb.Peer, peer());
full(metapb.RegionEpoch, { confVer: U64_MAX, version: U64_MAX - 1n });
full(metapb.Region, region());
enumVariants(metapb.StoreState, metapb.Store, (state: metapb.StoreState) => store(state));
enumVariants(metapb.PeerRole, metapb.Peer, (role: metapb.PeerRole) => peer(role));

// ---- errorpb ---------------------------------------------------------------------------

const notLeader = (): errorpb.NotLeader => ({ regionId: u64(), leader: peer() });
const epochNotMatch = (): errorpb.EpochNotMatch => ({ currentRegions: [region(), region()] });
const regionNotFound = (): errorpb.RegionNotFound => ({ regionId: u64() });
const keyNotInRegion = (): errorpb.KeyNotInRegion => ({
  key: bytes('key'),
  regionId: u64(),
  startKey: bytes('start'),
  endKey: bytes('end'),
});
const serverIsBusy = (): errorpb.ServerIsBusy => ({ reason: str('mailbox full'), backoffMs: u32() });
const storeNotMatch = (): errorpb.StoreNotMatch => ({ requestStoreId: u64(), actualStoreId: u64() });
const raftEntryTooLarge = (): errorpb.RaftEntryTooLarge => ({
  regionId: u64(),
  entrySizeBytes: u64(),
  entrySizeBytesMax: u64(),
});

const diskFull = (): errorpb.DiskFull => ({ storeIds: [u64(), u64()], reason: str('almost full') });

type RegionErrorCase = NonNullable<errorpb.RegionError['error']>;
const regionErrorCases = (): RegionErrorCase[] => [
  { $case: 'notLeader', notLeader: notLeader() },
  { $case: 'epochNotMatch', epochNotMatch: epochNotMatch() },
  { $case: 'regionNotFound', regionNotFound: regionNotFound() },
  { $case: 'keyNotInRegion', keyNotInRegion: keyNotInRegion() },
  { $case: 'serverIsBusy', serverIsBusy: serverIsBusy() },
  { $case: 'staleCommand', staleCommand: {} },
  { $case: 'storeNotMatch', storeNotMatch: storeNotMatch() },
  { $case: 'raftEntryTooLarge', raftEntryTooLarge: raftEntryTooLarge() },
  { $case: 'diskFull', diskFull: diskFull() },
];
const regionError = (): errorpb.RegionError => ({
  message: str('not leader'),
  error: { $case: 'notLeader', notLeader: notLeader() },
});

full(errorpb.NotLeader, notLeader());
full(errorpb.EpochNotMatch, epochNotMatch());
full(errorpb.RegionNotFound, regionNotFound());
full(errorpb.KeyNotInRegion, keyNotInRegion());
full(errorpb.ServerIsBusy, serverIsBusy());
full(errorpb.StaleCommand, {});
full(errorpb.StoreNotMatch, storeNotMatch());
full(errorpb.RaftEntryTooLarge, raftEntryTooLarge());
full(errorpb.DiskFull, diskFull());
for (const error of regionErrorCases()) {
  full(errorpb.RegionError, { message: str('region error'), error }, error.$case);
}

// ---- kvpb ------------------------------------------------------------------------------

const traceContext = (): kvpb.TraceContext => ({
  traceId: bytes('trace'),
  spanId: bytes('span'),
  traceFlags: u32(),
  traceState: str('vendor=value'),
});
const context = (readConsistency = kvpb.ReadConsistency.STALE): kvpb.Context => ({
  regionId: u64(),
  regionEpoch: epoch(),
  peer: peer(),
  readConsistency,
  deadlineMs: u32(),
  traceContext: traceContext(),
});
const keyError = (code = kvpb.KeyErrorCode.VALUE_TOO_LARGE): kvpb.KeyError => ({
  code,
  message: str('value too large'),
  key: bytes('key'),
});
const kvPair = (): kvpb.KvPair => ({ key: bytes('key'), value: bytes('value') });
const putMutation = (): kvpb.PutMutation => ({ key: bytes('key'), value: bytes('value'), ttlMs: u64() });
const deleteMutation = (): kvpb.DeleteMutation => ({ key: bytes('key') });
/** Fields shared by every Kv response. */
const kvErrors = () => ({ regionError: regionError(), keyError: keyError() });

const casExpected = (): NonNullable<kvpb.CompareAndSwapRequest['expected']>[] => [
  { $case: 'expectedValue', expectedValue: bytes('expected') },
  { $case: 'expectedAbsent', expectedAbsent: {} },
];
const casUpdates = (): NonNullable<kvpb.CompareAndSwapRequest['update']>[] => [
  { $case: 'newValue', newValue: bytes('new') },
  { $case: 'delete', delete: {} },
];
const kvRequests = {
  get: (): kvpb.GetRequest => ({ context: context(), key: bytes('key') }),
  batchGet: (): kvpb.BatchGetRequest => ({ context: context(), keys: [bytes('a'), bytes('b')] }),
  scan: (): kvpb.ScanRequest => ({
    context: context(),
    startKey: bytes('start'),
    endKey: bytes('end'),
    limit: u32(),
    reverse: true,
    keyOnly: true,
  }),
  put: (): kvpb.PutRequest => ({
    context: context(),
    key: bytes('key'),
    value: bytes('value'),
    ttlMs: u64(),
  }),
  delete: (): kvpb.DeleteRequest => ({ context: context(), key: bytes('key') }),
  deleteRange: (): kvpb.DeleteRangeRequest => ({
    context: context(),
    startKey: bytes('start'),
    endKey: bytes('end'),
  }),
  batchWrite: (): kvpb.BatchWriteRequest => ({
    context: context(),
    mutations: [
      { op: { $case: 'put', put: putMutation() } },
      { op: { $case: 'delete', delete: deleteMutation() } },
    ],
  }),
  compareAndSwap: (expected = casExpected()[0], update = casUpdates()[0]): kvpb.CompareAndSwapRequest => ({
    context: context(),
    key: bytes('key'),
    expected,
    update,
    ttlMs: u64(),
  }),
};
const kvResponses = {
  get: (): kvpb.GetResponse => ({ ...kvErrors(), found: true, value: bytes('value') }),
  batchGet: (): kvpb.BatchGetResponse => ({ ...kvErrors(), pairs: [kvPair(), kvPair()] }),
  scan: (): kvpb.ScanResponse => ({ ...kvErrors(), pairs: [kvPair(), kvPair()], hasMore: true }),
  put: (): kvpb.PutResponse => kvErrors(),
  delete: (): kvpb.DeleteResponse => kvErrors(),
  deleteRange: (): kvpb.DeleteRangeResponse => kvErrors(),
  batchWrite: (): kvpb.BatchWriteResponse => kvErrors(),
  compareAndSwap: (): kvpb.CompareAndSwapResponse => ({
    ...kvErrors(),
    succeeded: true,
    previousFound: true,
    previousValue: bytes('previous'),
  }),
};
const batchedRequestCases = (): NonNullable<kvpb.BatchedRequest['request']>[] => [
  { $case: 'get', get: kvRequests.get() },
  { $case: 'batchGet', batchGet: kvRequests.batchGet() },
  { $case: 'scan', scan: kvRequests.scan() },
  { $case: 'put', put: kvRequests.put() },
  { $case: 'delete', delete: kvRequests.delete() },
  { $case: 'deleteRange', deleteRange: kvRequests.deleteRange() },
  { $case: 'batchWrite', batchWrite: kvRequests.batchWrite() },
  { $case: 'compareAndSwap', compareAndSwap: kvRequests.compareAndSwap() },
];
const batchedResponseCases = (): NonNullable<kvpb.BatchedResponse['response']>[] => [
  { $case: 'get', get: kvResponses.get() },
  { $case: 'batchGet', batchGet: kvResponses.batchGet() },
  { $case: 'scan', scan: kvResponses.scan() },
  { $case: 'put', put: kvResponses.put() },
  { $case: 'delete', delete: kvResponses.delete() },
  { $case: 'deleteRange', deleteRange: kvResponses.deleteRange() },
  { $case: 'batchWrite', batchWrite: kvResponses.batchWrite() },
  { $case: 'compareAndSwap', compareAndSwap: kvResponses.compareAndSwap() },
];

full(kvpb.TraceContext, traceContext());
full(kvpb.Context, context());
full(kvpb.KeyError, keyError());
full(kvpb.KvPair, kvPair());
full(kvpb.GetRequest, kvRequests.get());
full(kvpb.GetResponse, kvResponses.get());
full(kvpb.BatchGetRequest, kvRequests.batchGet());
full(kvpb.BatchGetResponse, kvResponses.batchGet());
full(kvpb.ScanRequest, kvRequests.scan());
full(kvpb.ScanResponse, kvResponses.scan());
full(kvpb.PutRequest, kvRequests.put());
full(kvpb.PutResponse, kvResponses.put());
full(kvpb.DeleteRequest, kvRequests.delete());
full(kvpb.DeleteResponse, kvResponses.delete());
full(kvpb.DeleteRangeRequest, kvRequests.deleteRange());
full(kvpb.DeleteRangeResponse, kvResponses.deleteRange());
full(kvpb.PutMutation, putMutation());
full(kvpb.DeleteMutation, deleteMutation());
full(kvpb.Mutation, { op: { $case: 'put', put: putMutation() } }, 'put');
full(kvpb.Mutation, { op: { $case: 'delete', delete: deleteMutation() } }, 'delete');
full(kvpb.BatchWriteRequest, kvRequests.batchWrite());
full(kvpb.BatchWriteResponse, kvResponses.batchWrite());
full(kvpb.Absent, {});
for (const expected of casExpected()) {
  for (const update of casUpdates()) {
    full(
      kvpb.CompareAndSwapRequest,
      kvRequests.compareAndSwap(expected, update),
      `${expected.$case}+${update.$case}`,
    );
  }
}
full(kvpb.CompareAndSwapResponse, kvResponses.compareAndSwap());
for (const request of batchedRequestCases()) {
  full(kvpb.BatchedRequest, { requestId: u64(), request }, request.$case);
}
for (const response of batchedResponseCases()) {
  full(kvpb.BatchedResponse, { requestId: u64(), response }, response.$case);
}
full(kvpb.BatchCommandsRequest, {
  requests: batchedRequestCases().map((request) => ({ requestId: u64(), request })),
});
full(kvpb.BatchCommandsResponse, {
  responses: batchedResponseCases().map((response) => ({ requestId: u64(), response })),
});
enumVariants(kvpb.ReadConsistency, kvpb.Context, (readConsistency: kvpb.ReadConsistency) =>
  context(readConsistency),
);
enumVariants(kvpb.KeyErrorCode, kvpb.KeyError, (code: kvpb.KeyErrorCode) => keyError(code));

// ---- raftpb: consensus core ------------------------------------------------------------

const entry = (type = raftpb.EntryType.CONF_CHANGE): raftpb.Entry => ({
  term: u64(),
  index: u64(),
  type,
  data: bytes('entry'),
});
const hardState = (): raftpb.HardState => ({ term: u64(), vote: u64(), commit: u64() });
const confState = (): raftpb.ConfState => ({
  voters: [u64(), u64(), u64()],
  learners: [u64()],
  votersOutgoing: [u64(), u64()],
  learnersNext: [u64()],
  autoLeave: true,
});
const snapshotMetadata = (): raftpb.SnapshotMetadata => ({
  index: u64(),
  term: u64(),
  confState: confState(),
});
const snapshot = (): raftpb.Snapshot => ({ metadata: snapshotMetadata(), data: bytes('snapshot') });
const confChangeSingle = (type = raftpb.ConfChangeType.ADD_LEARNER): raftpb.ConfChangeSingle => ({
  type,
  nodeId: u64(),
});
const confChange = (transition = raftpb.ConfChangeTransition.JOINT_EXPLICIT): raftpb.ConfChange => ({
  transition,
  changes: [confChangeSingle(raftpb.ConfChangeType.ADD_VOTER), confChangeSingle()],
  context: bytes('context'),
});
const message = (type = raftpb.MessageType.APP): raftpb.Message => ({
  type,
  to: u64(),
  from: u64(),
  term: u64(),
  logTerm: u64(),
  index: u64(),
  entries: [entry(), entry()],
  commit: u64(),
  reject: true,
  rejectHint: u64(),
  snapshot: snapshot(),
  context: bytes('context'),
});

full(raftpb.Entry, entry());
full(raftpb.HardState, hardState());
full(raftpb.ConfState, confState());
full(raftpb.SnapshotMetadata, snapshotMetadata());
full(raftpb.Snapshot, snapshot());
full(raftpb.ConfChangeSingle, confChangeSingle());
full(raftpb.ConfChange, confChange());
full(raftpb.Message, message());
enumVariants(raftpb.EntryType, raftpb.Entry, (type: raftpb.EntryType) => entry(type));
enumVariants(raftpb.ConfChangeType, raftpb.ConfChangeSingle, (type: raftpb.ConfChangeType) =>
  confChangeSingle(type),
);
enumVariants(raftpb.ConfChangeTransition, raftpb.ConfChange, (transition: raftpb.ConfChangeTransition) =>
  confChange(transition),
);
enumVariants(raftpb.MessageType, raftpb.Message, (type: raftpb.MessageType) => message(type));

// ---- raftpb: transport -----------------------------------------------------------------

const raftMessage = (): raftpb.RaftMessage => ({
  regionId: u64(),
  fromPeer: peer(),
  toPeer: peer(),
  regionEpoch: epoch(),
  message: message(raftpb.MessageType.SNAP),
  isTombstone: true,
  startKey: bytes('start'),
  endKey: bytes('end'),
});
const snapshotHeader = (checksumAlgorithm = raftpb.ChecksumAlgorithm.CRC32C): raftpb.SnapshotHeader => ({
  message: raftMessage(),
  totalSizeBytes: u64(),
  chunkSizeBytes: u64(),
  checksumAlgorithm,
});
const snapshotData = (): raftpb.SnapshotData => ({
  offsetBytes: u64(),
  data: bytes('chunk'),
  crc32c: 0xffff_fff0 - ++counter,
});

const coalescedHeartbeat = (): raftpb.CoalescedHeartbeat => ({
  regionId: u64(),
  fromPeerId: u64(),
  toPeerId: u64(),
  term: u64(),
  commit: u64(),
  context: bytes('hb-context'),
  quiesce: true,
});

full(raftpb.RaftMessage, raftMessage());
full(raftpb.CoalescedHeartbeat, coalescedHeartbeat());
full(raftpb.RaftMessageBatch, {
  fromStoreId: u64(),
  toStoreId: u64(),
  batchSeq: u64(),
  messages: [raftMessage(), raftMessage()],
  heartbeats: [coalescedHeartbeat(), coalescedHeartbeat()],
  heartbeatResponses: [coalescedHeartbeat()],
  fromDiskUsage: metapb.DiskUsage.ALMOST_FULL,
});
full(raftpb.BatchAck, { batchSeq: u64(), droppedMessageCount: u32(), isBusy: true });
full(raftpb.SnapshotHeader, snapshotHeader());
full(raftpb.SnapshotData, snapshotData());
full(raftpb.SnapshotChunk, { payload: { $case: 'header', header: snapshotHeader() } }, 'header');
full(raftpb.SnapshotChunk, { payload: { $case: 'data', data: snapshotData() } }, 'data');
full(raftpb.SnapshotDone, { regionId: u64(), receivedSizeBytes: u64(), receivedChunkCount: u32() });
enumVariants(raftpb.ChecksumAlgorithm, raftpb.SnapshotHeader, (algorithm: raftpb.ChecksumAlgorithm) =>
  snapshotHeader(algorithm),
);

// ---- raftpb: log entry payloads --------------------------------------------------------

const commandHeader = (): raftpb.RaftCommandHeader => ({
  regionId: u64(),
  peerId: u64(),
  regionEpoch: epoch(),
  proposedAtUnixMs: u64(),
});
const putOp = (): raftpb.PutOp => ({ key: bytes('key'), value: bytes('value'), expireAtUnixMs: u64() });
const deleteOp = (): raftpb.DeleteOp => ({ key: bytes('key') });
const deleteRangeOp = (): raftpb.DeleteRangeOp => ({ startKey: bytes('start'), endKey: bytes('end') });
const expireOp = (): raftpb.ExpireOp => ({ key: bytes('key') });
const writeOpCases = (): NonNullable<raftpb.WriteOp['op']>[] => [
  { $case: 'put', put: putOp() },
  { $case: 'delete', delete: deleteOp() },
  { $case: 'deleteRange', deleteRange: deleteRangeOp() },
  { $case: 'expire', expire: expireOp() },
];
const writeCommand = (): raftpb.WriteCommand => ({ ops: writeOpCases().map((op) => ({ op })) });
const casCommand = (
  expected: raftpb.CompareAndSwapCommand['expected'] = {
    $case: 'expectedValue',
    expectedValue: bytes('old'),
  },
  update: raftpb.CompareAndSwapCommand['update'] = { $case: 'newValue', newValue: bytes('new') },
): raftpb.CompareAndSwapCommand => ({ key: bytes('key'), expected, update, expireAtUnixMs: u64() });
const splitPoint = (): raftpb.SplitPoint => ({
  splitKey: bytes('split'),
  newRegionId: u64(),
  newPeerIds: [u64(), u64(), u64()],
});
const splitCommand = (): raftpb.SplitCommand => ({ splitPoints: [splitPoint(), splitPoint()] });
const compactLogCommand = (): raftpb.CompactLogCommand => ({ compactIndex: u64(), compactTerm: u64() });
const peerChange = (changeType = raftpb.ConfChangeType.REMOVE_NODE): raftpb.PeerChange => ({
  changeType,
  peer: peer(),
});
const changePeerCommand = (): raftpb.ChangePeerCommand => ({
  changes: [peerChange(raftpb.ConfChangeType.ADD_VOTER), peerChange()],
});
const prepareMergeCommand = (): raftpb.PrepareMergeCommand => ({ target: region() });
const commitMergeCommand = (): raftpb.CommitMergeCommand => ({
  source: region(),
  prepareIndex: u64(),
  sourceEntries: [entry(), entry()],
  entriesPrevIndex: u64(),
  entriesPrevTerm: u64(),
  sourceLeaderTerm: u64(),
  sourceLeaderPeerId: u64(),
});
const rollbackMergeCommand = (): raftpb.RollbackMergeCommand => ({ prepareIndex: u64() });
const raftCommandCases = (): NonNullable<raftpb.RaftCommand['command']>[] => [
  { $case: 'write', write: writeCommand() },
  { $case: 'compareAndSwap', compareAndSwap: casCommand() },
  { $case: 'readBarrier', readBarrier: {} },
  { $case: 'split', split: splitCommand() },
  { $case: 'compactLog', compactLog: compactLogCommand() },
  { $case: 'changePeer', changePeer: changePeerCommand() },
  { $case: 'prepareMerge', prepareMerge: prepareMergeCommand() },
  { $case: 'commitMerge', commitMerge: commitMergeCommand() },
  { $case: 'rollbackMerge', rollbackMerge: rollbackMergeCommand() },
];

full(raftpb.RaftCommandHeader, commandHeader());
full(raftpb.PutOp, putOp());
full(raftpb.DeleteOp, deleteOp());
full(raftpb.DeleteRangeOp, deleteRangeOp());
full(raftpb.ExpireOp, expireOp());
for (const op of writeOpCases()) full(raftpb.WriteOp, { op }, op.$case);
full(raftpb.WriteCommand, writeCommand());
for (const expected of [
  { $case: 'expectedValue', expectedValue: bytes('old') } as const,
  { $case: 'expectedAbsent', expectedAbsent: {} } as const,
]) {
  for (const update of [
    { $case: 'newValue', newValue: bytes('new') } as const,
    { $case: 'delete', delete: {} } as const,
  ]) {
    full(raftpb.CompareAndSwapCommand, casCommand(expected, update), `${expected.$case}+${update.$case}`);
  }
}
full(raftpb.ReadBarrierCommand, {});
full(raftpb.SplitPoint, splitPoint());
full(raftpb.SplitCommand, splitCommand());
full(raftpb.CompactLogCommand, compactLogCommand());
full(raftpb.PeerChange, peerChange());
full(raftpb.ChangePeerCommand, changePeerCommand());
full(raftpb.PrepareMergeCommand, prepareMergeCommand());
full(raftpb.CommitMergeCommand, commitMergeCommand());
full(raftpb.RollbackMergeCommand, rollbackMergeCommand());
for (const command of raftCommandCases()) {
  full(raftpb.RaftCommand, { header: commandHeader(), command }, command.$case);
}

// ---- raftpb: persisted state -----------------------------------------------------------

const mergeState = (): raftpb.MergeState => ({ prepareIndex: u64(), target: region() });
const regionLocalState = (state = raftpb.PeerState.APPLYING): raftpb.RegionLocalState => ({
  state,
  region: region(),
  mergeState: mergeState(),
});

full(raftpb.StoreIdent, { clusterId: u64(), storeId: u64() });
full(raftpb.RaftTruncatedState, { index: u64(), term: u64() });
full(raftpb.RaftApplyState, { appliedIndex: u64(), truncatedState: { index: u64(), term: u64() } });
full(raftpb.MergeState, mergeState());
full(raftpb.RegionLocalState, regionLocalState());
enumVariants(raftpb.PeerState, raftpb.RegionLocalState, (state: raftpb.PeerState) => regionLocalState(state));

// ---- raftpb: admin ---------------------------------------------------------------------

const regionStatus = (role = raftpb.RaftRole.LEADER): raftpb.RegionStatus => ({
  region: region(),
  peerId: u64(),
  role,
  leaderPeerId: u64(),
  term: u64(),
  commitIndex: u64(),
  appliedIndex: u64(),
  firstIndex: u64(),
  lastIndex: u64(),
  logSizeBytes: u64(),
});

function storeDiskStatus(usage: metapb.DiskUsage): raftpb.StoreDiskStatus {
  return {
    capacityBytes: u64(),
    availableBytes: u64(),
    reservedBytes: u64(),
    usage,
    placeholderBytes: u64(),
    noSpaceWritesCount: u64(),
    waitingForSpace: true,
  };
}

full(raftpb.StatusRequest, { regionIds: [u64(), u64()] });
full(raftpb.RegionStatus, regionStatus());
full(raftpb.StatusResponse, {
  storeId: u64(),
  clusterId: u64(),
  address: str('127.0.0.1:20160'),
  version: str('0.1.0'),
  uptimeMs: u64(),
  regions: [regionStatus(), regionStatus(raftpb.RaftRole.CANDIDATE)],
  disk: storeDiskStatus(metapb.DiskUsage.ALREADY_FULL),
});
full(raftpb.StoreDiskStatus, storeDiskStatus(metapb.DiskUsage.ALMOST_FULL));
enumVariants(metapb.DiskUsage, raftpb.StoreDiskStatus, storeDiskStatus);
full(raftpb.TransferLeaderRequest, { regionId: u64(), regionEpoch: epoch(), toPeer: peer() });
full(raftpb.TransferLeaderResponse, { regionError: regionError() });
full(raftpb.ChangePeerRequest, {
  regionId: u64(),
  regionEpoch: epoch(),
  transition: raftpb.ConfChangeTransition.JOINT_IMPLICIT,
  changes: [peerChange(raftpb.ConfChangeType.ADD_LEARNER), peerChange()],
});
full(raftpb.ChangePeerResponse, { regionError: regionError(), region: region() });
full(raftpb.SplitRegionRequest, {
  regionId: u64(),
  regionEpoch: epoch(),
  splitKeys: [bytes('k1'), bytes('k2')],
});
full(raftpb.SplitRegionResponse, { regionError: regionError(), regions: [region(), region()] });
full(raftpb.MergeRegionRequest, {
  sourceRegionId: u64(),
  sourceRegionEpoch: epoch(),
  targetRegionId: u64(),
  targetRegionEpoch: epoch(),
});
full(raftpb.MergeRegionResponse, { regionError: regionError(), region: region() });
enumVariants(raftpb.RaftRole, raftpb.RegionStatus, (role: raftpb.RaftRole) => regionStatus(role));

// ---- pdpb ------------------------------------------------------------------------------

const header = (): pdpb.RequestHeader => ({ clusterId: u64() });
const pdError = (type = pdpb.ErrorType.NOT_LEADER): pdpb.Error => ({ type, message: str('not leader') });
const responseHeader = (): pdpb.ResponseHeader => ({ clusterId: u64(), error: pdError() });
const member = (): pdpb.Member => ({
  memberId: u64(),
  name: str('pd'),
  clientAddresses: [str('127.0.0.1:2379'), str('127.0.0.2:2379')],
  peerAddresses: [str('127.0.0.1:2380')],
});
const storeStats = (): pdpb.StoreStats => ({
  storeId: u64(),
  regionCount: u32(),
  leaderCount: u32(),
  capacityBytes: u64(),
  availableBytes: u64(),
  usedBytes: u64(),
  sendingSnapshotCount: u32(),
  receivingSnapshotCount: u32(),
  applyingSnapshotCount: u32(),
  isBusy: true,
  startTimeUnixMs: u64(),
  intervalMs: u32(),
  writtenBytes: u64(),
  writtenKeys: u64(),
  readBytes: u64(),
  readKeys: u64(),
  diskUsage: metapb.DiskUsage.ALMOST_FULL,
  reservedBytes: u64(),
});
const peerStats = (): pdpb.PeerStats => ({ peer: peer(), downMs: u64() });
const changePeerOperator = (): pdpb.ChangePeerOperator => ({
  transition: raftpb.ConfChangeTransition.JOINT_IMPLICIT,
  changes: [peerChange(raftpb.ConfChangeType.ADD_VOTER), peerChange()],
});
const splitRegionOperator = (policy = pdpb.SplitPolicy.USE_KEY): pdpb.SplitRegionOperator => ({
  policy,
  keys: [bytes('k1'), bytes('k2')],
});
const operatorCases = (): NonNullable<pdpb.RegionHeartbeatResponse['operator']>[] => [
  { $case: 'changePeer', changePeer: changePeerOperator() },
  { $case: 'transferLeader', transferLeader: { peer: peer() } },
  { $case: 'splitRegion', splitRegion: splitRegionOperator() },
  { $case: 'merge', merge: { target: region() } },
];
const splitId = (): pdpb.SplitId => ({ newRegionId: u64(), newPeerIds: [u64(), u64()] });
const regionInfo = (): pdpb.RegionInfo => ({
  region: region(),
  leader: peer(),
  downPeers: [peerStats()],
  pendingPeers: [peer(), peer()],
});

full(pdpb.RequestHeader, header());
full(pdpb.ResponseHeader, responseHeader());
full(pdpb.Error, pdError());
full(pdpb.Member, member());
full(pdpb.GetMembersRequest, { header: header() });
full(pdpb.GetMembersResponse, { header: responseHeader(), members: [member(), member()], leader: member() });
full(pdpb.BootstrapRequest, { header: header(), store: store(), region: region() });
full(pdpb.BootstrapResponse, { header: responseHeader() });
full(pdpb.IsBootstrappedRequest, { header: header() });
full(pdpb.IsBootstrappedResponse, { header: responseHeader(), bootstrapped: true });
full(pdpb.AllocIdRequest, { header: header() });
full(pdpb.AllocIdResponse, { header: responseHeader(), id: U64_MAX });
full(pdpb.PutStoreRequest, { header: header(), store: store() });
full(pdpb.PutStoreResponse, { header: responseHeader() });
full(pdpb.StoreStats, storeStats());
full(pdpb.GetStoreRequest, { header: header(), storeId: u64() });
full(pdpb.GetStoreResponse, { header: responseHeader(), store: store(), stats: storeStats() });
full(pdpb.GetAllStoresRequest, { header: header(), excludeTombstoneStores: true });
full(pdpb.SetStoreStateRequest, { header: header(), storeId: 7n, state: metapb.StoreState.OFFLINE });
full(pdpb.SetStoreStateResponse, { header: responseHeader(), store: store() });
full(pdpb.GetAllStoresResponse, { header: responseHeader(), stores: [store(), store()] });
full(pdpb.StoreHeartbeatRequest, { header: header(), stats: storeStats() });
full(pdpb.StoreHeartbeatResponse, { header: responseHeader(), maxReplicas: 5 });
full(pdpb.PeerStats, peerStats());
full(pdpb.RegionHeartbeatRequest, {
  header: header(),
  region: region(),
  leader: peer(),
  term: u64(),
  downPeers: [peerStats(), peerStats()],
  pendingPeers: [peer()],
  approximateSizeBytes: u64(),
  approximateKeys: u64(),
  intervalMs: u32(),
  writtenBytes: u64(),
  writtenKeys: u64(),
  readBytes: u64(),
  readKeys: u64(),
});
full(pdpb.ChangePeerOperator, changePeerOperator());
full(pdpb.TransferLeaderOperator, { peer: peer() });
full(pdpb.SplitRegionOperator, splitRegionOperator());
full(pdpb.MergeOperator, { target: region() });
for (const operator of operatorCases()) {
  full(
    pdpb.RegionHeartbeatResponse,
    { header: responseHeader(), regionId: u64(), regionEpoch: epoch(), targetPeer: peer(), operator },
    operator.$case,
  );
}
full(pdpb.SplitId, splitId());
full(pdpb.AskBatchSplitRequest, { header: header(), region: region(), splitCount: u32() });
full(pdpb.AskBatchSplitResponse, { header: responseHeader(), ids: [splitId(), splitId()] });
full(pdpb.ReportBatchSplitRequest, { header: header(), regions: [region(), region()] });
full(pdpb.ReportBatchSplitResponse, { header: responseHeader() });
full(pdpb.RegionInfo, regionInfo());
full(pdpb.GetRegionRequest, { header: header(), regionKey: bytes('key') });
full(pdpb.GetRegionResponse, { header: responseHeader(), region: regionInfo() });
full(pdpb.GetPrevRegionRequest, { header: header(), regionKey: bytes('key') });
full(pdpb.GetPrevRegionResponse, { header: responseHeader(), region: regionInfo() });
full(pdpb.GetRegionByIdRequest, { header: header(), regionId: u64() });
full(pdpb.GetRegionByIdResponse, { header: responseHeader(), region: regionInfo() });
full(pdpb.ScanRegionsRequest, {
  header: header(),
  startKey: bytes('start'),
  endKey: bytes('end'),
  limit: u32(),
});
full(pdpb.ScanRegionsResponse, { header: responseHeader(), regions: [regionInfo(), regionInfo()] });
enumVariants(pdpb.ErrorType, pdpb.Error, (type: pdpb.ErrorType) => pdError(type));
enumVariants(pdpb.SplitPolicy, pdpb.SplitRegionOperator, (policy: pdpb.SplitPolicy) =>
  splitRegionOperator(policy),
);
const operatorInfo = (status = pdpb.OperatorStatus.SUCCEEDED): pdpb.OperatorInfo => ({
  id: u64(),
  regionId: u64(),
  kind: str('kind'),
  description: str('description'),
  fromStoreIds: [u64(), u64()],
  toStoreIds: [u64()],
  steps: [str('step'), str('step')],
  stepIndex: u32(),
  status,
  ageMs: u64(),
  durationMs: u64(),
});
const operatorKindLimit = (): pdpb.OperatorKindLimit => ({
  kind: str('kind'),
  runningCount: u32(),
  limit: u32(),
});
full(pdpb.OperatorInfo, operatorInfo());
enumVariants(pdpb.OperatorStatus, pdpb.OperatorInfo, (status: pdpb.OperatorStatus) => operatorInfo(status));
full(pdpb.OperatorKindLimit, operatorKindLimit());
full(pdpb.GetOperatorsRequest, { header: header() });
full(pdpb.GetOperatorsResponse, {
  header: responseHeader(),
  running: [operatorInfo()],
  finished: [operatorInfo(), operatorInfo()],
  limits: [operatorKindLimit(), operatorKindLimit()],
});

/** Every sample, in the order registered. */
export const roundTripSamples: readonly Sample[] = samples;
