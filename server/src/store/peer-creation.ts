// When a Raft message may create a peer for a region this store does not hold. A store
// learns it holds a new region either by applying a split (the split creates the peer) or
// because the region's leader starts talking to it (PD added a replica here, or the new
// region of a split elected a leader before our parent applied the split). Only the second
// way goes through here, and it is refused whenever creating a peer could be wrong or
// wasteful:
//   - the message is not one that a leader or a candidate sends first (a response never
//     creates anything);
//   - its range overlaps a region this store already holds initialized: our copy of the
//     parent has not applied the split yet, and the split will create the peer (Raft
//     retransmits meanwhile);
//   - the store keeps a tombstone for the region that covers the addressed peer (a late
//     message for a removed peer);
//   - the region's live local state is on disk already: the store is creating its peer (a
//     split's batch was written and finishSplit is loading the new peers, or regions are
//     being loaded); an uninitialized peer now would clash with the one being created;
//   - too many uninitialized peers exist already (bounded by uninitializedPeersMax).
import type { Engine } from '../storage/engine.js';
import type { MessageType } from '@flotilla/raft';
import { regionStateKey } from '../storage/keys.js';
import { decodeRegionLocalState } from './region-meta.js';
import { readTombstone, tombstoneCoversMessage } from './peer-tombstone.js';
import type { RegionRangeIndex } from './region-range-index.js';
import type { RaftEnvelope } from './store.js';

/** Messages that may create a peer: what a leader sends first, and vote requests. */
const CREATING_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'app',
  'heartbeat',
  'snap',
  'vote',
  'preVote',
]);

export interface PeerCreationContext {
  readonly storeId: number;
  readonly engine: Engine;
  readonly rangeIndex: RegionRangeIndex;
  readonly uninitializedPeersCount: number;
  readonly uninitializedPeersMax: number;
}

/** Why `env` (for a region the store does not hold) must not create a peer, or undefined if it may. */
export function peerCreationRefusal(env: RaftEnvelope, ctx: PeerCreationContext): string | undefined {
  if (env.toPeer.storeId !== ctx.storeId) return `addressed to store ${env.toPeer.storeId}`;
  if (env.isTombstone) return 'a tombstone message';
  if (!CREATING_MESSAGE_TYPES.has(env.message.type)) return `a '${env.message.type}' message creates no peer`;
  const overlapping = ctx.rangeIndex.overlapping(env.startKey, env.endKey);
  if (overlapping.length > 0)
    return `its range overlaps local region ${(overlapping[0] as { id: number }).id} (split not applied here yet)`;
  const state = ctx.engine.getSync(regionStateKey(env.regionId));
  if (state !== undefined && decodeRegionLocalState(state).lifecycle !== 'tombstone')
    return `region ${env.regionId} has a local state: its peer is being created`;
  const tombstone = readTombstone(ctx.engine, env.regionId, ctx.storeId);
  if (tombstone !== undefined && tombstoneCoversMessage(tombstone, env.toPeer.id, env.regionEpoch))
    return `peer ${env.toPeer.id} was removed from this store`;
  if (ctx.uninitializedPeersCount >= ctx.uninitializedPeersMax)
    return `${ctx.uninitializedPeersCount} uninitialized peers already`;
  return undefined;
}
