// What the PD leader knows of one region: its metadata (persisted) plus what the latest
// heartbeat from its leader said (in memory only: leader, lagging peers, size, traffic).
import type { PeerMeta, RegionMeta } from '../../../server/src/store/region-meta.js';

export interface DownPeer {
  readonly peer: PeerMeta;
  readonly downMs: number;
}

/** Size and traffic of a region as its leader estimated them over the last interval. */
export interface RegionLoad {
  readonly approximateSizeBytes: number;
  readonly approximateKeys: number;
  readonly intervalMs: number;
  readonly writtenBytes: number;
  readonly writtenKeys: number;
  readonly readBytes: number;
  readonly readKeys: number;
}

export const EMPTY_REGION_LOAD: RegionLoad = {
  approximateSizeBytes: 0,
  approximateKeys: 0,
  intervalMs: 0,
  writtenBytes: 0,
  writtenKeys: 0,
  readBytes: 0,
  readKeys: 0,
};

export interface RegionInfo {
  readonly region: RegionMeta;
  /** The reporting leader; undefined until a heartbeat names one. */
  readonly leader: PeerMeta | undefined;
  /** The reporting leader's Raft term (0 if none reported). */
  readonly term: number;
  readonly downPeers: readonly DownPeer[];
  readonly pendingPeers: readonly PeerMeta[];
  readonly load: RegionLoad;
  /** When the leader last reported, Unix ms; 0 for a region only known from the meta store. */
  readonly heartbeatAtUnixMs: number;
}

/** A region known only from its persisted metadata (at bootstrap, or after a PD leader change). */
export function regionInfoOf(region: RegionMeta): RegionInfo {
  return {
    region,
    leader: undefined,
    term: 0,
    downPeers: [],
    pendingPeers: [],
    load: EMPTY_REGION_LOAD,
    heartbeatAtUnixMs: 0,
  };
}
