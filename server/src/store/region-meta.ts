// A region as the store works with it: [startKey, endKey) (empty endKey = unbounded), its
// epoch and its peers, with ids as numbers. Converted to and from metapb at the edges; the
// epoch is checked on every request and every applied command.
import type { ConfState } from '@flotilla/raft';
import { metapb, raftpb } from '@flotilla/proto';
import { compareBytes } from '../storage/bytes.js';
import { toSafeNumber } from './wire-numbers.js';

/** incomingVoter / demotingVoter exist only while the region is in a joint configuration. */
export type PeerRole = 'voter' | 'learner' | 'incomingVoter' | 'demotingVoter';

export interface PeerMeta {
  readonly id: number;
  readonly storeId: number;
  readonly role: PeerRole;
}

export interface RegionEpoch {
  /** Bumped by every membership change. */
  readonly confVer: number;
  /** Bumped by every split and merge. */
  readonly version: number;
}

export interface RegionMeta {
  readonly id: number;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  readonly epoch: RegionEpoch;
  readonly peers: readonly PeerMeta[];
}

export type PeerLifecycle = 'normal' | 'applying' | 'tombstone';

/** A source region frozen by an applied PrepareMerge (region-merge.ts). */
export interface MergeState {
  /** Log index of the PrepareMerge entry: the source's data is final as of it. */
  readonly prepareIndex: number;
  /** The region absorbing the source, as the PrepareMerge named it (its epoch included). */
  readonly target: RegionMeta;
}

export function regionContainsKey(region: RegionMeta, key: Uint8Array): boolean {
  if (compareBytes(key, region.startKey) < 0) return false;
  return region.endKey.length === 0 || compareBytes(key, region.endKey) < 0;
}

/** True when the request's epoch is the region's current one. */
export function epochMatches(current: RegionEpoch, requested: RegionEpoch): boolean {
  return current.confVer === requested.confVer && current.version === requested.version;
}

export function peerOnStore(region: RegionMeta, storeId: number): PeerMeta | undefined {
  return region.peers.find((p) => p.storeId === storeId);
}

export function peerById(region: RegionMeta, peerId: number): PeerMeta | undefined {
  return region.peers.find((p) => p.id === peerId);
}

export function regionToProto(region: RegionMeta): metapb.Region {
  return {
    id: BigInt(region.id),
    startKey: Buffer.from(region.startKey),
    endKey: Buffer.from(region.endKey),
    regionEpoch: epochToProto(region.epoch),
    peers: region.peers.map(peerToProto),
  };
}

export function epochToProto(epoch: RegionEpoch): metapb.RegionEpoch {
  return { confVer: BigInt(epoch.confVer), version: BigInt(epoch.version) };
}

export function peerToProto(peer: PeerMeta): metapb.Peer {
  return {
    id: BigInt(peer.id),
    storeId: BigInt(peer.storeId),
    role: ROLE_TO_PROTO[peer.role],
  };
}

export function epochFromProto(epoch: metapb.RegionEpoch | undefined, field: string): RegionEpoch {
  if (epoch === undefined) return { confVer: 0, version: 0 };
  return {
    confVer: toSafeNumber(epoch.confVer, `${field}.confVer`),
    version: toSafeNumber(epoch.version, `${field}.version`),
  };
}

const ROLE_TO_PROTO: Record<PeerRole, metapb.PeerRole> = {
  voter: metapb.PeerRole.VOTER,
  learner: metapb.PeerRole.LEARNER,
  incomingVoter: metapb.PeerRole.INCOMING_VOTER,
  demotingVoter: metapb.PeerRole.DEMOTING_VOTER,
};

export function peerFromProto(peer: metapb.Peer, field: string): PeerMeta {
  const role = (Object.keys(ROLE_TO_PROTO) as PeerRole[]).find((r) => ROLE_TO_PROTO[r] === peer.role);
  if (role === undefined) throw new RangeError(`${field}.role: unknown peer role ${peer.role}`);
  return {
    id: toSafeNumber(peer.id, `${field}.id`),
    storeId: toSafeNumber(peer.storeId, `${field}.storeId`),
    role,
  };
}

export function regionFromProto(region: metapb.Region, field = 'region'): RegionMeta {
  return {
    id: toSafeNumber(region.id, `${field}.id`),
    startKey: new Uint8Array(region.startKey),
    endKey: new Uint8Array(region.endKey),
    epoch: epochFromProto(region.regionEpoch, `${field}.regionEpoch`),
    peers: region.peers.map((p, i) => peerFromProto(p, `${field}.peers[${i}]`)),
  };
}

const LIFECYCLE_TO_PROTO: Record<PeerLifecycle, raftpb.PeerState> = {
  normal: raftpb.PeerState.NORMAL,
  applying: raftpb.PeerState.APPLYING,
  tombstone: raftpb.PeerState.TOMBSTONE,
};

/** Persisted form of a region on a store (region state key). */
export function encodeRegionLocalState(
  region: RegionMeta,
  lifecycle: PeerLifecycle,
  mergeState: MergeState | null = null,
): Uint8Array {
  return raftpb.RegionLocalState.encode({
    state: LIFECYCLE_TO_PROTO[lifecycle],
    region: regionToProto(region),
    mergeState:
      mergeState === null
        ? undefined
        : { prepareIndex: BigInt(mergeState.prepareIndex), target: regionToProto(mergeState.target) },
  }).finish();
}

export function decodeRegionLocalState(bytes: Uint8Array): {
  region: RegionMeta;
  lifecycle: PeerLifecycle;
  mergeState: MergeState | null;
} {
  const decoded = raftpb.RegionLocalState.decode(bytes);
  if (decoded.region === undefined) throw new RangeError('region local state without a region');
  let lifecycle: PeerLifecycle;
  switch (decoded.state) {
    case raftpb.PeerState.NORMAL:
      lifecycle = 'normal';
      break;
    case raftpb.PeerState.APPLYING:
      lifecycle = 'applying';
      break;
    case raftpb.PeerState.TOMBSTONE:
      lifecycle = 'tombstone';
      break;
    default:
      throw new RangeError(`region local state: unknown peer state ${decoded.state}`);
  }
  const merge = decoded.mergeState;
  let mergeState: MergeState | null = null;
  if (merge !== undefined) {
    if (merge.target === undefined) throw new RangeError('region local state: merge state without a target');
    mergeState = {
      prepareIndex: toSafeNumber(merge.prepareIndex, 'mergeState.prepareIndex'),
      target: regionFromProto(merge.target, 'mergeState.target'),
    };
  }
  return { region: regionFromProto(decoded.region), lifecycle, mergeState };
}

/** The Raft membership a region's peers describe. */
export function confStateOf(region: RegionMeta): ConfState {
  const ids = (roles: readonly PeerRole[]): number[] =>
    region.peers.filter((p) => roles.includes(p.role)).map((p) => p.id);
  const joint = region.peers.some((p) => p.role === 'incomingVoter' || p.role === 'demotingVoter');
  return {
    voters: ids(['voter', 'incomingVoter']),
    learners: ids(['learner']),
    votersOutgoing: joint ? ids(['voter', 'demotingVoter']) : [],
    learnersNext: ids(['demotingVoter']),
    autoLeave: false,
  };
}

/**
 * The region's peers after a membership change: roles follow the ConfState the core
 * returned; `added` supplies the store of peers the region did not have. Peers in no set
 * are removed.
 */
export function peersForConfState(
  current: readonly PeerMeta[],
  added: readonly PeerMeta[],
  cs: ConfState,
): PeerMeta[] {
  const known = new Map<number, PeerMeta>();
  for (const p of [...current, ...added]) known.set(p.id, p);
  const incoming = new Set(cs.voters);
  const outgoing = new Set(cs.votersOutgoing);
  const joint = cs.votersOutgoing.length > 0;
  const out: PeerMeta[] = [];
  for (const [id, p] of known) {
    let role: PeerRole | undefined;
    if (incoming.has(id) && (!joint || outgoing.has(id))) role = 'voter';
    else if (incoming.has(id)) role = 'incomingVoter';
    else if (outgoing.has(id)) role = 'demotingVoter';
    else if (cs.learners.includes(id)) role = 'learner';
    if (role !== undefined) out.push({ id, storeId: p.storeId, role });
  }
  return out.sort((a, b) => a.id - b.id);
}
