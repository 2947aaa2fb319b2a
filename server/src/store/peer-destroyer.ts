// Destroying a peer removed from its region (an applied conf change removed it, or a
// newer member of the region told it so): ONE batch deletes its Raft log, hard state and
// apply state, writes its local state as TOMBSTONE (peer-tombstone.ts: kept so stale
// messages cannot bring it back, and the loader skips it at restart), and deletes its user
// data, except the parts another initialized local region holds (user keys are not
// region-prefixed: after a split the same keys may belong to a sibling region here).
import type { Engine, KeyRange, WriteBatch } from '../storage/engine.js';
import { applyStateKey, dataRange, raftHardStateKey, raftLogKey, regionStateKey } from '../storage/keys.js';
import { compareBytes } from '../storage/bytes.js';
import { ApplyWriter } from './apply-writer.js';
import { encodeTombstoneState } from './peer-tombstone.js';
import type { PeerMeta } from './region-meta.js';
import { peerById } from './region-meta.js';
import type { RegionPeer } from './region-peer.js';
import type { RegionRange } from './region-range-index.js';

/**
 * The batch that destroys `peer`. `others` are the initialized local regions overlapping
 * its range (not the peer itself); their data is kept.
 */
export async function destroyBatch(
  peer: RegionPeer,
  engine: Engine,
  storeId: number,
  others: readonly RegionRange[],
): Promise<ApplyWriter> {
  const writer = new ApplyWriter(engine);
  removeRaftState(writer.batch, peer, storeId);
  // An uninitialized peer holds no range (its empty keys would mean "everything").
  if (peer.initialized) {
    for (const gap of uncoveredRanges(peer.region, others)) await writer.deleteRange(gap);
  }
  return writer;
}

/**
 * Puts into `batch` what retires `peer` but keeps its user data: its Raft log, hard state
 * and apply state go, a TOMBSTONE local state stays. Used alone when a merge hands the
 * peer's range to the target region.
 */
export function removeRaftState(batch: WriteBatch, peer: RegionPeer, storeId: number): void {
  const { regionId, storage } = peer;
  for (let i = storage.truncatedIndex + 1; i <= storage.lastIndex(); i++)
    batch.delete(raftLogKey(regionId, i));
  batch.delete(raftHardStateKey(regionId));
  batch.delete(applyStateKey(regionId));
  // After its removal the region no longer lists the peer; its role no longer matters.
  const self: PeerMeta = peerById(peer.region, peer.peerId) ?? { id: peer.peerId, storeId, role: 'learner' };
  batch.put(regionStateKey(regionId), encodeTombstoneState(peer.region, self));
}

/** The engine ranges of [region.startKey, region.endKey) not covered by `others` (sorted, disjoint). */
export function uncoveredRanges(region: RegionRange, others: readonly RegionRange[]): KeyRange[] {
  const gaps: KeyRange[] = [];
  let cursor = region.startKey;
  const sorted = [...others].sort((a, b) => compareBytes(a.startKey, b.startKey));
  for (const other of sorted) {
    if (compareBytes(other.startKey, cursor) > 0) {
      const end =
        region.endKey.length > 0 && compareBytes(other.startKey, region.endKey) > 0
          ? region.endKey
          : other.startKey;
      gaps.push(dataRange(cursor, end));
    }
    if (other.endKey.length === 0) return gaps;
    if (compareBytes(other.endKey, cursor) > 0) cursor = other.endKey;
  }
  if (region.endKey.length === 0 || compareBytes(cursor, region.endKey) < 0)
    gaps.push(dataRange(cursor, region.endKey));
  return gaps;
}
