// Compact region builders for PD unit tests: keys as strings, peers as [peerId, storeId].
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../../src/cluster/region-info.js';
import { regionInfoOf } from '../../src/cluster/region-info.js';

export function key(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function region(
  id: number,
  start: string,
  end: string,
  epoch: { confVer?: number; version?: number } = {},
  peers: ReadonlyArray<readonly [number, number]> = [[id * 10 + 1, 1]],
): RegionMeta {
  return {
    id,
    startKey: key(start),
    endKey: key(end),
    epoch: { confVer: epoch.confVer ?? 1, version: epoch.version ?? 1 },
    peers: peers.map(([peerId, storeId]) => ({ id: peerId, storeId, role: 'voter' as const })),
  };
}

export function info(meta: RegionMeta, term = 0): RegionInfo {
  return { ...regionInfoOf(meta), term };
}
