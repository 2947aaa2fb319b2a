// The marker a destroyed peer leaves behind: its RegionLocalState in state TOMBSTONE, kept
// forever (a few dozen bytes per region ever removed from the store). It tells the loader
// not to bring the region back at restart, and the store to ignore late messages for the
// removed peer instead of creating it again. It holds the newest epoch the store knew and
// the membership that still listed the local peer, so the removed peer's id is on disk: a
// message addressed to that id or an older one, or carrying an epoch no newer, is stale.
import type { Engine } from '../storage/engine.js';
import { regionStateKey } from '../storage/keys.js';
import type { PeerMeta, RegionEpoch, RegionMeta } from './region-meta.js';
import { decodeRegionLocalState, encodeRegionLocalState, peerById } from './region-meta.js';

export interface Tombstone {
  readonly epoch: RegionEpoch;
  /** The local peer the region had when it was removed (0 if unknown). */
  readonly peerId: number;
}

/** `region` (the newest the store knew) with `self` listed, as a TOMBSTONE local state. */
export function encodeTombstoneState(region: RegionMeta, self: PeerMeta | undefined): Uint8Array {
  const peers =
    self === undefined || peerById(region, self.id) !== undefined ? region.peers : [...region.peers, self];
  return encodeRegionLocalState({ ...region, peers }, 'tombstone');
}

/** The tombstone this store keeps for `regionId`, if the region was removed from it. */
export function readTombstone(engine: Engine, regionId: number, storeId: number): Tombstone | undefined {
  const bytes = engine.getSync(regionStateKey(regionId));
  if (bytes === undefined) return undefined;
  const { region, lifecycle } = decodeRegionLocalState(bytes);
  if (lifecycle !== 'tombstone') return undefined;
  const peerId = Math.max(0, ...region.peers.filter((p) => p.storeId === storeId).map((p) => p.id));
  return { epoch: region.epoch, peerId };
}

/** True when a message for `toPeerId` at `epoch` is older than the tombstone (so must not recreate the peer). */
export function tombstoneCoversMessage(t: Tombstone, toPeerId: number, epoch: RegionEpoch): boolean {
  return toPeerId <= t.peerId || epoch.confVer <= t.epoch.confVer;
}
