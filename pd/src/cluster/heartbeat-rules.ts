// The rules deciding what a region heartbeat may change. Pure functions of what PD knows
// and what the leader reported, so they are tested on their own.
//  - A report older than what PD knows (by epoch, or by term at the same epoch) is STALE:
//    an old leader, or a message overtaken by a split or a membership change.
//  - A report whose range overlaps another region that is at least as new (by version)
//    is STALE too: that region's range came from a later split or merge.
//  - Otherwise it is accepted; it is persisted only when the region's metadata changed
//    (epoch, range or peers), since leader, sizes and rates are rebuilt by the next
//    heartbeats after a PD failover.
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { PeerMeta, RegionMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from './region-info.js';

export type HeartbeatVerdict =
  | { readonly kind: 'stale'; readonly reason: string }
  | { readonly kind: 'accept'; readonly persist: boolean };

export interface ReportedRegion {
  readonly region: RegionMeta;
  readonly term: number;
}

export function judgeRegionHeartbeat(
  known: RegionInfo | undefined,
  overlapping: readonly RegionInfo[],
  reported: ReportedRegion,
): HeartbeatVerdict {
  const { region } = reported;
  if (known !== undefined) {
    const k = known.region.epoch;
    if (region.epoch.version < k.version || region.epoch.confVer < k.confVer) {
      return {
        kind: 'stale',
        reason: `region ${region.id} epoch (conf ${region.epoch.confVer}, version ${region.epoch.version}) is older than known (conf ${k.confVer}, version ${k.version})`,
      };
    }
    if (sameEpoch(known.region, region) && reported.term < known.term) {
      return {
        kind: 'stale',
        reason: `region ${region.id} reported at term ${reported.term}, known at term ${known.term}`,
      };
    }
  }
  for (const other of overlapping) {
    if (other.region.id !== region.id && other.region.epoch.version >= region.epoch.version) {
      return {
        kind: 'stale',
        reason: `region ${region.id} (version ${region.epoch.version}) overlaps region ${other.region.id} (version ${other.region.epoch.version})`,
      };
    }
  }
  return { kind: 'accept', persist: known === undefined || metadataChanged(known.region, region) };
}

export function sameEpoch(a: RegionMeta, b: RegionMeta): boolean {
  return a.epoch.version === b.epoch.version && a.epoch.confVer === b.epoch.confVer;
}

/** Whether anything persisted about the region differs: epoch, range or peers. */
export function metadataChanged(a: RegionMeta, b: RegionMeta): boolean {
  if (!sameEpoch(a, b)) return true;
  if (compareBytes(a.startKey, b.startKey) !== 0 || compareBytes(a.endKey, b.endKey) !== 0) return true;
  return !samePeers(a.peers, b.peers);
}

function samePeers(a: readonly PeerMeta[], b: readonly PeerMeta[]): boolean {
  if (a.length !== b.length) return false;
  const key = (p: PeerMeta): string => `${p.id}/${p.storeId}/${p.role}`;
  const set = new Set(a.map(key));
  return b.every((p) => set.has(key(p)));
}
