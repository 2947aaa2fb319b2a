// Bringing a store's regions to life: bootstrapping the first region of a new cluster, and
// at every start loading each region's persisted state (region meta, hard state, applied
// index, log) and creating its Raft node from it.
import { RawNode } from '@flotilla/raft';
import type { RandomSource } from '@flotilla/raft';
import type { Engine } from '../storage/engine.js';
import { WriteBatch } from '../storage/engine.js';
import { regionStateRange } from '../storage/keys.js';
import { PeerStorage } from '../storage/peer-storage.js';
import type { PeerMeta, RegionMeta } from './region-meta.js';
import { confStateOf, decodeRegionLocalState, peerOnStore } from './region-meta.js';
import { RAFT_INIT_LOG_TERM, writeInitialRegionState } from './region-split.js';
import { RegionPeer } from './region-peer.js';
import type { StoreConfig } from './store-config.js';

/** Regions a store can hold; loading more is refused rather than exhausting memory. */
export const REGIONS_PER_STORE_MAX = 100_000;

/** Writes the initial region if the store holds none yet; returns whether it did. */
export async function bootstrapRegionIfEmpty(
  engine: Engine,
  region: RegionMeta,
  storeId: number,
): Promise<boolean> {
  const existing = await engine.scan(regionStateRange, { limit: 1, keysOnly: true });
  if (existing.length > 0) return false;
  if (peerOnStore(region, storeId) === undefined) {
    throw new Error(`bootstrap region ${region.id} has no peer on store ${storeId}`);
  }
  // The first region starts like every region a split creates: its log positioned at
  // RAFT_INIT_LOG_INDEX, so a peer added later (created empty by a message) can only be
  // initialized by a snapshot, which carries the region's range and membership.
  const batch = new WriteBatch();
  writeInitialRegionState(batch, region, undefined);
  await engine.write(batch, { sync: true });
  return true;
}

export interface LoadRegionsOptions {
  readonly engine: Engine;
  readonly config: StoreConfig;
  /** Seeds each region's election jitter. */
  readonly randomFor: (regionId: number) => RandomSource;
  readonly requestSnapshot: (regionId: number) => void;
}

export async function loadRegionPeers(options: LoadRegionsOptions): Promise<RegionPeer[]> {
  const { engine, config } = options;
  const states = await engine.scan(regionStateRange, { limit: REGIONS_PER_STORE_MAX });
  const peers: RegionPeer[] = [];
  for (const { value } of states) {
    const { region, lifecycle, mergeState } = decodeRegionLocalState(value);
    if (lifecycle === 'tombstone') continue;
    const self = peerOnStore(region, config.storeId);
    if (self === undefined)
      throw new Error(`region ${region.id} is stored on store ${config.storeId} but has no peer there`);
    const peer = await createRegionPeer(region, self.id, options);
    peer.mergeState = mergeState;
    peers.push(peer);
  }
  return peers;
}

export async function createRegionPeer(
  region: RegionMeta,
  peerId: number,
  options: LoadRegionsOptions,
): Promise<RegionPeer> {
  const { engine, config } = options;
  const storage = await PeerStorage.load({
    regionId: region.id,
    engine,
    confState: confStateOf(region),
    entryCacheBytesMax: config.entryCacheBytesMax,
    requestSnapshot: options.requestSnapshot,
  });
  const peer = new RegionPeer(
    region,
    peerId,
    newRawNode(region.id, peerId, storage, options),
    storage,
    config,
  );
  peer.reads.setAppliedIndex(storage.appliedIndex);
  return peer;
}

/**
 * A peer for a region this store has never held, created because its leader (or a
 * candidate) talks to it: no range, no membership (so it never campaigns), an empty log.
 * A snapshot initializes it (snapshot-installer.ts). `self` and `sender` are the only peers
 * it knows, so it can answer.
 */
export function createUninitializedPeer(
  regionId: number,
  self: PeerMeta,
  sender: PeerMeta,
  options: LoadRegionsOptions,
): RegionPeer {
  const { engine, config } = options;
  const storage = PeerStorage.createUninitialized({
    regionId,
    engine,
    confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    entryCacheBytesMax: config.entryCacheBytesMax,
    requestSnapshot: options.requestSnapshot,
  });
  const region: RegionMeta = {
    id: regionId,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 0, version: 0 },
    peers: self.id === sender.id ? [self] : [self, sender],
  };
  const node = newRawNode(regionId, self.id, storage, options);
  return new RegionPeer(region, self.id, node, storage, config, { initialized: false });
}

function newRawNode(
  regionId: number,
  peerId: number,
  storage: PeerStorage,
  options: LoadRegionsOptions,
): RawNode {
  const { config } = options;
  return new RawNode({
    id: peerId,
    electionTimeoutTicks: config.electionTimeoutTicks,
    heartbeatIntervalTicks: config.heartbeatIntervalTicks,
    storage,
    random: options.randomFor(regionId),
    appliedIndex: storage.appliedIndex,
    preVote: true,
    checkQuorum: true,
    // A peer still at the initial term (just created by a split or a bootstrap, or empty)
    // never heard a leader of this region: no lease of its can be broken, so it may vote at
    // once — otherwise a split's new region waits an extra election timeout for a leader.
    quietOnRestart: storage.initialState().hardState.term > RAFT_INIT_LOG_TERM,
    disableProposalForwarding: true,
    maxEntrySizeBytes: config.raftEntrySizeBytesMax,
  });
}
