// Builders for scheduler tests: regions as their leader would report them, stores with health.
import type { PeerMeta, PeerRole, RegionMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../../src/cluster/region-info.js';
import { EMPTY_REGION_LOAD } from '../../src/cluster/region-info.js';
import type { StoreHealth } from '../../src/schedule/store-health.js';

export function peer(id: number, storeId: number, role: PeerRole = 'voter'): PeerMeta {
  return { id, storeId, role };
}

export function regionInfo(
  id: number,
  peers: PeerMeta[],
  leaderId: number,
  extra: Partial<Pick<RegionInfo, 'downPeers' | 'pendingPeers'>> = {},
  epoch = { confVer: 1, version: 1 },
): RegionInfo {
  const region: RegionMeta = {
    id,
    startKey: new Uint8Array([id]),
    endKey: new Uint8Array([id + 1]),
    epoch,
    peers,
  };
  return {
    region,
    leader: peers.find((p) => p.id === leaderId),
    term: 1,
    downPeers: extra.downPeers ?? [],
    pendingPeers: extra.pendingPeers ?? [],
    load: EMPTY_REGION_LOAD,
    heartbeatAtUnixMs: 1,
  };
}

export function healthOf(entries: Array<[number, StoreHealth]>): Map<number, StoreHealth> {
  return new Map(entries);
}
