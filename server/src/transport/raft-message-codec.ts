// Conversion between the consensus core's records (@flotilla/raft, numbers and string
// unions) and their raftpb wire form (bigint, Buffer, numeric enums). Decoding is where
// untrusted bytes become core data, so it rejects unknown or unset enums, missing required
// fields and integers beyond 2^53 with a TransportDecodeError naming the field; it never
// hands the core something it would choke on. Encoding only checks that our own numbers
// are non-negative safe integers.
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  Snapshot,
} from '@flotilla/raft';
import { metapb, raftpb } from '@flotilla/proto';

import { TransportDecodeError, TransportEncodeError } from './transport-errors.js';

export type PeerRole = 'voter' | 'learner' | 'incomingVoter' | 'demotingVoter';

/** A region's peer as the transport sees it: Raft node id plus the store hosting it. */
export interface PeerRef {
  readonly id: NodeId;
  readonly storeId: number;
  readonly role: PeerRole;
}

export interface RegionEpoch {
  readonly confVer: number;
  readonly version: number;
}

/** A core Raft message addressed to one region's peer on another store (raftpb.RaftMessage). */
export interface RegionRaftMessage {
  readonly regionId: number;
  readonly fromPeer: PeerRef;
  readonly toPeer: PeerRef;
  readonly regionEpoch: RegionEpoch;
  readonly message: Message;
  readonly isTombstone: boolean;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
}

const MESSAGE_TYPES: Record<MessageType, raftpb.MessageType> = {
  hup: raftpb.MessageType.HUP,
  beat: raftpb.MessageType.BEAT,
  prop: raftpb.MessageType.PROP,
  app: raftpb.MessageType.APP,
  appResp: raftpb.MessageType.APP_RESP,
  vote: raftpb.MessageType.VOTE,
  voteResp: raftpb.MessageType.VOTE_RESP,
  preVote: raftpb.MessageType.PRE_VOTE,
  preVoteResp: raftpb.MessageType.PRE_VOTE_RESP,
  snap: raftpb.MessageType.SNAP,
  heartbeat: raftpb.MessageType.HEARTBEAT,
  heartbeatResp: raftpb.MessageType.HEARTBEAT_RESP,
  unreachable: raftpb.MessageType.UNREACHABLE,
  snapStatus: raftpb.MessageType.SNAP_STATUS,
  checkQuorum: raftpb.MessageType.CHECK_QUORUM,
  transferLeader: raftpb.MessageType.TRANSFER_LEADER,
  timeoutNow: raftpb.MessageType.TIMEOUT_NOW,
  readIndex: raftpb.MessageType.READ_INDEX,
  readIndexResp: raftpb.MessageType.READ_INDEX_RESP,
};

const ENTRY_TYPES: Record<EntryType, raftpb.EntryType> = {
  normal: raftpb.EntryType.NORMAL,
  confChange: raftpb.EntryType.CONF_CHANGE,
};

const PEER_ROLES: Record<PeerRole, metapb.PeerRole> = {
  voter: metapb.PeerRole.VOTER,
  learner: metapb.PeerRole.LEARNER,
  incomingVoter: metapb.PeerRole.INCOMING_VOTER,
  demotingVoter: metapb.PeerRole.DEMOTING_VOTER,
};

/** Core message kinds that only exist inside one node and must never arrive from the network. */
const LOCAL_ONLY_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'hup',
  'beat',
  'unreachable',
  'snapStatus',
  'checkQuorum',
]);

function invert<K extends string>(table: Record<K, number>): ReadonlyMap<number, K> {
  const inverse = new Map<number, K>();
  for (const [name, value] of Object.entries(table) as Array<[K, number]>) inverse.set(value, name);
  return inverse;
}

const MESSAGE_TYPES_BY_WIRE = invert(MESSAGE_TYPES);
const ENTRY_TYPES_BY_WIRE = invert(ENTRY_TYPES);
const PEER_ROLES_BY_WIRE = invert(PEER_ROLES);

/** All core message types, in wire order (for tests and tables). */
export const ALL_MESSAGE_TYPES: readonly MessageType[] = Object.keys(MESSAGE_TYPES) as MessageType[];

export function isLocalOnlyMessageType(type: MessageType): boolean {
  return LOCAL_ONLY_TYPES.has(type);
}

// ----- scalars -----------------------------------------------------------------------------

function toNumber(value: bigint, field: string): number {
  if (typeof value !== 'bigint')
    throw new TransportDecodeError(field, `expected a uint64, got ${typeof value}`);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TransportDecodeError(field, `${value} is not a safe non-negative integer`);
  }
  return Number(value);
}

function toBigint(value: number, field: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TransportEncodeError(field, `${value} is not a safe non-negative integer`);
  }
  return BigInt(value);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view of wire bytes (no copy), so core data never carries Buffer methods. */
function toBytes(bytes: Uint8Array | undefined, field: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TransportDecodeError(field, 'expected bytes');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function required<T>(value: T | undefined | null, field: string): T {
  if (value === undefined || value === null)
    throw new TransportDecodeError(field, 'required field is missing');
  return value;
}

function lookupEnum<K>(table: ReadonlyMap<number, K>, value: number, field: string): K {
  const name = table.get(value);
  if (name === undefined) throw new TransportDecodeError(field, `unknown or unset enum value ${value}`);
  return name;
}

function ids(values: readonly number[], field: string): bigint[] {
  return values.map((v, i) => toBigint(v, `${field}[${i}]`));
}

function idsFromWire(values: readonly bigint[], field: string): number[] {
  return values.map((v, i) => toNumber(v, `${field}[${i}]`));
}

// ----- core records ------------------------------------------------------------------------

export function encodeEntry(e: Entry, field = 'entry'): raftpb.Entry {
  return {
    term: toBigint(e.term, `${field}.term`),
    index: toBigint(e.index, `${field}.index`),
    type: ENTRY_TYPES[e.type],
    data: toBuffer(e.data),
  };
}

export function decodeEntry(e: raftpb.Entry, field = 'entry'): Entry {
  return {
    term: toNumber(e.term, `${field}.term`),
    index: toNumber(e.index, `${field}.index`),
    type: lookupEnum(ENTRY_TYPES_BY_WIRE, e.type, `${field}.type`),
    data: toBytes(e.data, `${field}.data`),
  };
}

export function encodeHardState(hs: HardState, field = 'hardState'): raftpb.HardState {
  return {
    term: toBigint(hs.term, `${field}.term`),
    vote: toBigint(hs.vote, `${field}.vote`),
    commit: toBigint(hs.commit, `${field}.commit`),
  };
}

export function decodeHardState(hs: raftpb.HardState, field = 'hardState'): HardState {
  return {
    term: toNumber(hs.term, `${field}.term`),
    vote: toNumber(hs.vote, `${field}.vote`),
    commit: toNumber(hs.commit, `${field}.commit`),
  };
}

export function encodeConfState(cs: ConfState, field = 'confState'): raftpb.ConfState {
  return {
    voters: ids(cs.voters, `${field}.voters`),
    learners: ids(cs.learners, `${field}.learners`),
    votersOutgoing: ids(cs.votersOutgoing, `${field}.votersOutgoing`),
    learnersNext: ids(cs.learnersNext, `${field}.learnersNext`),
    autoLeave: cs.autoLeave,
  };
}

export function decodeConfState(cs: raftpb.ConfState, field = 'confState'): ConfState {
  return {
    voters: idsFromWire(cs.voters, `${field}.voters`),
    learners: idsFromWire(cs.learners, `${field}.learners`),
    votersOutgoing: idsFromWire(cs.votersOutgoing, `${field}.votersOutgoing`),
    learnersNext: idsFromWire(cs.learnersNext, `${field}.learnersNext`),
    autoLeave: cs.autoLeave,
  };
}

export function encodeSnapshot(s: Snapshot, field = 'snapshot'): raftpb.Snapshot {
  return {
    metadata: {
      index: toBigint(s.metadata.index, `${field}.metadata.index`),
      term: toBigint(s.metadata.term, `${field}.metadata.term`),
      confState: encodeConfState(s.metadata.confState, `${field}.metadata.confState`),
    },
    data: toBuffer(s.data),
  };
}

export function decodeSnapshot(s: raftpb.Snapshot, field = 'snapshot'): Snapshot {
  const metadata = required(s.metadata, `${field}.metadata`);
  const confState = required(metadata.confState, `${field}.metadata.confState`);
  return {
    metadata: {
      index: toNumber(metadata.index, `${field}.metadata.index`),
      term: toNumber(metadata.term, `${field}.metadata.term`),
      confState: decodeConfState(confState, `${field}.metadata.confState`),
    },
    data: toBytes(s.data, `${field}.data`),
  };
}

export function encodeMessage(m: Message, field = 'message'): raftpb.Message {
  return {
    type: MESSAGE_TYPES[m.type],
    to: toBigint(m.to, `${field}.to`),
    from: toBigint(m.from, `${field}.from`),
    term: toBigint(m.term, `${field}.term`),
    logTerm: toBigint(m.logTerm, `${field}.logTerm`),
    index: toBigint(m.index, `${field}.index`),
    entries: m.entries.map((e, i) => encodeEntry(e, `${field}.entries[${i}]`)),
    commit: toBigint(m.commit, `${field}.commit`),
    reject: m.reject,
    rejectHint: toBigint(m.rejectHint, `${field}.rejectHint`),
    snapshot: m.snapshot === null ? undefined : encodeSnapshot(m.snapshot, `${field}.snapshot`),
    context: toBuffer(m.context),
  };
}

/** Decodes any message kind, local ones included; see decodeRegionRaftMessage for network input. */
export function decodeMessage(m: raftpb.Message, field = 'message'): Message {
  const type = lookupEnum(MESSAGE_TYPES_BY_WIRE, m.type, `${field}.type`);
  if (type === 'snap' && m.snapshot === undefined) {
    throw new TransportDecodeError(`${field}.snapshot`, 'required for a snap message');
  }
  return {
    type,
    to: toNumber(m.to, `${field}.to`),
    from: toNumber(m.from, `${field}.from`),
    term: toNumber(m.term, `${field}.term`),
    logTerm: toNumber(m.logTerm, `${field}.logTerm`),
    index: toNumber(m.index, `${field}.index`),
    entries: required(m.entries, `${field}.entries`).map((e, i) => decodeEntry(e, `${field}.entries[${i}]`)),
    commit: toNumber(m.commit, `${field}.commit`),
    reject: m.reject,
    rejectHint: toNumber(m.rejectHint, `${field}.rejectHint`),
    snapshot: m.snapshot === undefined ? null : decodeSnapshot(m.snapshot, `${field}.snapshot`),
    context: toBytes(m.context, `${field}.context`),
  };
}

// ----- the transport envelope ----------------------------------------------------------------

function encodePeer(p: PeerRef, field: string): metapb.Peer {
  return {
    id: toBigint(p.id, `${field}.id`),
    storeId: toBigint(p.storeId, `${field}.storeId`),
    role: PEER_ROLES[p.role],
  };
}

function decodePeer(p: metapb.Peer | undefined, field: string): PeerRef {
  const peer = required(p, field);
  const decoded = {
    id: toNumber(peer.id, `${field}.id`),
    storeId: toNumber(peer.storeId, `${field}.storeId`),
    role: lookupEnum(PEER_ROLES_BY_WIRE, peer.role, `${field}.role`),
  };
  if (decoded.id === 0) throw new TransportDecodeError(`${field}.id`, 'must not be 0');
  if (decoded.storeId === 0) throw new TransportDecodeError(`${field}.storeId`, 'must not be 0');
  return decoded;
}

export function encodeRegionRaftMessage(m: RegionRaftMessage): raftpb.RaftMessage {
  return {
    regionId: toBigint(m.regionId, 'regionId'),
    fromPeer: encodePeer(m.fromPeer, 'fromPeer'),
    toPeer: encodePeer(m.toPeer, 'toPeer'),
    regionEpoch: {
      confVer: toBigint(m.regionEpoch.confVer, 'regionEpoch.confVer'),
      version: toBigint(m.regionEpoch.version, 'regionEpoch.version'),
    },
    message: encodeMessage(m.message),
    isTombstone: m.isTombstone,
    startKey: toBuffer(m.startKey),
    endKey: toBuffer(m.endKey),
  };
}

/**
 * Decodes a RaftMessage received from another store. Besides the field checks of
 * decodeMessage it rejects a zero region id, missing peers or epoch, and local-only message
 * kinds (RawNode.step throws on those).
 */
export function decodeRegionRaftMessage(m: raftpb.RaftMessage): RegionRaftMessage {
  const regionId = toNumber(m.regionId, 'regionId');
  if (regionId === 0) throw new TransportDecodeError('regionId', 'must not be 0');
  const epoch = required(m.regionEpoch, 'regionEpoch');
  const message = decodeMessage(required(m.message, 'message'));
  if (LOCAL_ONLY_TYPES.has(message.type)) {
    throw new TransportDecodeError(
      'message.type',
      `'${message.type}' is local to a node and never crosses the network`,
    );
  }
  return {
    regionId,
    fromPeer: decodePeer(m.fromPeer, 'fromPeer'),
    toPeer: decodePeer(m.toPeer, 'toPeer'),
    regionEpoch: {
      confVer: toNumber(epoch.confVer, 'regionEpoch.confVer'),
      version: toNumber(epoch.version, 'regionEpoch.version'),
    },
    message,
    isTombstone: m.isTombstone,
    startKey: toBytes(m.startKey, 'startKey'),
    endKey: toBytes(m.endKey, 'endKey'),
  };
}

/** The region id of a wire message, for bookkeeping (0 when it is not a safe integer). */
export function wireRegionId(m: raftpb.RaftMessage): number {
  return m.regionId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.regionId) : 0;
}

/**
 * A cheap upper estimate of the encoded size of a wire message, in bytes, used to cut
 * frames and bound queues without encoding twice. Counts every variable-length payload plus
 * a generous fixed overhead per message and entry (tags, varints of up to 10 bytes each).
 */
export function estimateRaftMessageSizeBytes(m: raftpb.RaftMessage): number {
  const messageOverheadBytes = 160;
  const entryOverheadBytes = 40;
  const idOverheadBytes = 11;
  let size = messageOverheadBytes + m.startKey.length + m.endKey.length;
  const inner = m.message;
  if (inner !== undefined) {
    size += inner.context.length;
    for (const e of inner.entries) size += entryOverheadBytes + e.data.length;
    const snap = inner.snapshot;
    if (snap !== undefined) {
      size += snap.data.length + messageOverheadBytes;
      const cs = snap.metadata?.confState;
      if (cs !== undefined) {
        const idCount =
          cs.voters.length + cs.learners.length + cs.votersOutgoing.length + cs.learnersNext.length;
        size += idCount * idOverheadBytes;
      }
    }
  }
  return size;
}

// ----- coalesced heartbeats ------------------------------------------------------------------

/**
 * A heartbeat or heartbeat response in its compact wire form (raftpb.CoalescedHeartbeat):
 * the fields the core reads from such a message, nothing about peers' stores, epochs or
 * ranges, which the receiving store knows for its own regions.
 */
export interface CoalescedHeartbeatRecord {
  readonly regionId: number;
  readonly fromPeerId: NodeId;
  readonly toPeerId: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly context: Uint8Array;
  /** A quiesce notice (hibernation); only on heartbeats. */
  readonly quiesce: boolean;
  readonly isResponse: boolean;
}

/** Largest heartbeat context carried coalesced (the core's is 16 bytes); larger ones go as full messages. */
export const COALESCED_HEARTBEAT_CONTEXT_BYTES_MAX = 64;

/**
 * The compact form of a message, if it is a heartbeat (or response) that loses nothing by
 * traveling coalesced: no tombstone, no entries or snapshot, no fields but term, commit and
 * a small context, and (for a heartbeat) a follower known to hold part of the log. Anything
 * else travels as a full RaftMessage.
 */
export function coalescedHeartbeatOf(
  m: RegionRaftMessage & { readonly quiesce?: boolean },
): CoalescedHeartbeatRecord | undefined {
  const msg = m.message;
  if (msg.type !== 'heartbeat' && msg.type !== 'heartbeatResp') return undefined;
  if (m.isTombstone || msg.entries.length > 0 || msg.snapshot !== null) return undefined;
  if (msg.logTerm !== 0 || msg.index !== 0 || msg.reject || msg.rejectHint !== 0) return undefined;
  if (msg.context.length > COALESCED_HEARTBEAT_CONTEXT_BYTES_MAX) return undefined;
  if (msg.from !== m.fromPeer.id || msg.to !== m.toPeer.id) return undefined;
  const isResponse = msg.type === 'heartbeatResp';
  // Commit 0: the leader knows of nothing the follower holds, so its store may not have the
  // region yet; only a full message (with the range) can create the peer there.
  if (!isResponse && msg.commit === 0) return undefined;
  return {
    regionId: m.regionId,
    fromPeerId: msg.from,
    toPeerId: msg.to,
    term: msg.term,
    commit: msg.commit,
    context: msg.context,
    quiesce: !isResponse && m.quiesce === true,
    isResponse,
  };
}

export function encodeCoalescedHeartbeat(h: CoalescedHeartbeatRecord): raftpb.CoalescedHeartbeat {
  return {
    regionId: toBigint(h.regionId, 'heartbeat.regionId'),
    fromPeerId: toBigint(h.fromPeerId, 'heartbeat.fromPeerId'),
    toPeerId: toBigint(h.toPeerId, 'heartbeat.toPeerId'),
    term: toBigint(h.term, 'heartbeat.term'),
    commit: toBigint(h.commit, 'heartbeat.commit'),
    context: toBuffer(h.context),
    quiesce: h.quiesce,
  };
}

/** Decodes a received coalesced heartbeat; rejects zero ids and a quiesce flag on a response. */
export function decodeCoalescedHeartbeat(
  h: raftpb.CoalescedHeartbeat,
  isResponse: boolean,
  field: string,
): CoalescedHeartbeatRecord {
  const record: CoalescedHeartbeatRecord = {
    regionId: toNumber(h.regionId, `${field}.regionId`),
    fromPeerId: toNumber(h.fromPeerId, `${field}.fromPeerId`),
    toPeerId: toNumber(h.toPeerId, `${field}.toPeerId`),
    term: toNumber(h.term, `${field}.term`),
    commit: toNumber(h.commit, `${field}.commit`),
    context: toBytes(h.context, `${field}.context`),
    quiesce: h.quiesce,
    isResponse,
  };
  if (record.regionId === 0) throw new TransportDecodeError(`${field}.regionId`, 'must not be 0');
  if (record.fromPeerId === 0) throw new TransportDecodeError(`${field}.fromPeerId`, 'must not be 0');
  if (record.toPeerId === 0) throw new TransportDecodeError(`${field}.toPeerId`, 'must not be 0');
  if (isResponse && record.quiesce)
    throw new TransportDecodeError(`${field}.quiesce`, 'a heartbeat response is never a quiesce notice');
  if (record.context.length > COALESCED_HEARTBEAT_CONTEXT_BYTES_MAX)
    throw new TransportDecodeError(
      `${field}.context`,
      `longer than ${COALESCED_HEARTBEAT_CONTEXT_BYTES_MAX} bytes`,
    );
  return record;
}

/** Upper estimate of a coalesced heartbeat's encoded size (five varints, a flag, the context, tags). */
export function estimateCoalescedHeartbeatSizeBytes(h: raftpb.CoalescedHeartbeat): number {
  const fixedOverheadBytes = 5 * 11 + 2 + 4;
  return fixedOverheadBytes + h.context.length;
}
