// A store whose disk is not normal gives its leaderships away and does not seek new ones,
// when a voter of the region sits on a store with room (TiKV's rule: the leader of a full
// store cannot take writes, a leader elsewhere can):
//   - hand-off: every so often (handoffIntervalTicks) the store asks each region it leads to
//     transfer leadership to the most caught-up voter on a store with room that it has
//     heard from lately; a proposal that adds data meanwhile gets ServerIsBusy (retry),
//     not DiskFull, because the write will have a leader with room in a moment;
//   - no campaign: the store withholds its pre-votes (a pre-candidate that gathers no
//     votes never raises the term, so nothing is disrupted). A forced campaign (a transfer
//     someone asked for) still goes out, and so does everything once no voter has room:
//     then the region had better have a leader that refuses writes than none at all.
// Pure rules over what the store knows (its disk, the peers' frames, liveness); the store
// applies them (store.ts).
import type { Message } from '@flotilla/raft';
import type { DiskUsage } from '../../storage/disk-space.js';
import type { PeerMeta } from '../region-meta.js';

/** What the rules read about the other stores. */
export interface PeerStoresView {
  /** The level the store's frames last reported (normal if it never said otherwise). */
  usageOf(storeId: number): DiskUsage;
  /** Whether the store has been silent too long to count on. */
  isSuspected(storeId: number): boolean;
}

/** Regions asked to hand off per interval at most: the transfers' appends go out in a bounded burst. */
export const HANDOFFS_PER_INTERVAL_MAX = 128;

/** Voters of the region, other than this store's, on stores with room that are not suspected. */
export function votersWithRoom(
  peers: readonly PeerMeta[],
  selfStoreId: number,
  stores: PeerStoresView,
): PeerMeta[] {
  return peers.filter(
    (p) =>
      p.role !== 'learner' &&
      p.storeId !== selfStoreId &&
      stores.usageOf(p.storeId) === 'normal' &&
      !stores.isSuspected(p.storeId),
  );
}

/**
 * The peer a leader on a full disk hands its region to: of the voters with room, the one
 * whose log matches the leader's furthest (the transfer then needs the fewest appends);
 * ties go to the lower peer id, so that repeated attempts pick the same peer.
 */
export function handoffTarget(
  peers: readonly PeerMeta[],
  selfStoreId: number,
  stores: PeerStoresView,
  matchOf: (peerId: number) => number,
): PeerMeta | undefined {
  let best: PeerMeta | undefined;
  for (const p of votersWithRoom(peers, selfStoreId, stores)) {
    if (best === undefined) best = p;
    else {
      const [m, b] = [matchOf(p.id), matchOf(best.id)];
      if (m > b || (m === b && p.id < best.id)) best = p;
    }
  }
  return best;
}

/** Whether this store, at `selfUsage`, keeps `message` (of region `peers`) to itself. */
export function withholdsCampaign(
  selfUsage: DiskUsage,
  message: Message,
  peers: readonly PeerMeta[],
  selfStoreId: number,
  stores: PeerStoresView,
): boolean {
  if (selfUsage === 'normal' || message.type !== 'preVote') return false;
  return votersWithRoom(peers, selfStoreId, stores).length > 0;
}
