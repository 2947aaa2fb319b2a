// The safety invariants of the multi-region cluster, checked while the run goes:
//   - store ranges: on every running store, the initialized regions' key ranges are disjoint;
//   - PD ranges: PD's region map is disjoint (and, once the cluster has settled, covers the
//     whole key space with no gap);
//   - replica agreement: any two replicas of a region that have applied the same index (at
//     the same epoch) hold exactly the same user data in the region's range.
// Each check returns a description of the first violation, or undefined.
import type { RegionInfo } from '../../../pd/src/cluster/region-info.js';
import { compareBytes } from '../../../server/src/storage/bytes.js';
import { dataRange } from '../../../server/src/storage/keys.js';
import type { RegionPeer } from '../../../server/src/store/region-peer.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import type { Store } from '../../../server/src/store/store.js';

/** Keys compared per region replica: far above what a simulated run writes. */
const REGION_KEYS_MAX = 100_000;

interface Range {
  readonly id: number;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
}

export function describeRange(r: Range): string {
  const show = (k: Uint8Array, open: string): string => (k.length === 0 ? open : Buffer.from(k).toString());
  return `region ${r.id} [${show(r.startKey, '-inf')}, ${show(r.endKey, '+inf')})`;
}

/** The first overlap among ranges, or undefined; with `cover`, also the first gap. */
export function checkRanges(ranges: readonly Range[], cover: boolean): string | undefined {
  const sorted = [...ranges].sort((a, b) => compareBytes(a.startKey, b.startKey));
  if (cover && sorted.length === 0) return 'no region at all';
  if (cover && (sorted[0] as Range).startKey.length !== 0)
    return `the key space below ${describeRange(sorted[0] as Range)} has no region`;
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as Range;
    const next = sorted[i] as Range;
    if (prev.endKey.length === 0 || compareBytes(prev.endKey, next.startKey) > 0)
      return `${describeRange(prev)} overlaps ${describeRange(next)}`;
    if (cover && compareBytes(prev.endKey, next.startKey) !== 0)
      return `gap between ${describeRange(prev)} and ${describeRange(next)}`;
  }
  const last = sorted[sorted.length - 1];
  if (cover && last !== undefined && last.endKey.length !== 0)
    return `the key space above ${describeRange(last)} has no region`;
  return undefined;
}

export function checkStoreRanges(store: Store): string | undefined {
  const ranges = store
    .allRegions()
    .filter((p) => p.initialized)
    .map((p) => p.region);
  const problem = checkRanges(ranges, false);
  return problem === undefined ? undefined : `store ${store.storeId}: ${problem}`;
}

export function checkPdRanges(regions: readonly RegionInfo[], cover: boolean): string | undefined {
  const problem = checkRanges(
    regions.map((info) => info.region),
    cover,
  );
  return problem === undefined ? undefined : `PD region map: ${problem}`;
}

/** A replica to compare: the store it is on and its peer. */
export interface Replica {
  readonly store: Store;
  readonly peer: RegionPeer;
}

/** Every initialized, live replica of every region, by region id. */
export function replicasByRegion(stores: readonly Store[]): Map<number, Replica[]> {
  const byRegion = new Map<number, Replica[]>();
  for (const store of stores) {
    for (const peer of store.allRegions()) {
      if (!peer.initialized || peer.lifecycle !== 'normal') continue;
      const list = byRegion.get(peer.regionId);
      if (list === undefined) byRegion.set(peer.regionId, [{ store, peer }]);
      else list.push({ store, peer });
    }
  }
  return byRegion;
}

/** Replicas of the same region at the same applied index and epoch hold the same data. */
export async function checkReplicaAgreement(stores: readonly Store[]): Promise<string | undefined> {
  for (const [regionId, replicas] of replicasByRegion(stores)) {
    const groups = new Map<string, Replica[]>();
    for (const replica of replicas) {
      const { epoch } = replica.peer.region;
      const groupKey = `${replica.peer.storage.appliedIndex}/${epoch.version}`;
      const list = groups.get(groupKey);
      if (list === undefined) groups.set(groupKey, [replica]);
      else list.push(replica);
    }
    for (const [groupKey, group] of groups) {
      if (group.length < 2) continue;
      const problem = await compareReplicaData(group);
      if (problem !== undefined) return `region ${regionId} at applied index/version ${groupKey}: ${problem}`;
    }
  }
  return undefined;
}

/** Compares the user data of replicas of one region (in the first one's range). */
export async function compareReplicaData(group: readonly Replica[]): Promise<string | undefined> {
  const first = group[0];
  if (first === undefined) return undefined;
  const expected = await regionData(first.store, first.peer.region);
  for (const other of group.slice(1)) {
    const got = await regionData(other.store, first.peer.region);
    if (got !== expected) {
      return `store ${first.store.storeId} holds {${expected}} but store ${other.store.storeId} holds {${got}}`;
    }
  }
  return undefined;
}

async function regionData(store: Store, region: RegionMeta): Promise<string> {
  const rows = await store.engineScan(dataRange(region.startKey, region.endKey), { limit: REGION_KEYS_MAX });
  return rows
    .map((kv) => `${Buffer.from(kv.key).toString('latin1')}=${Buffer.from(kv.value).toString('hex')}`)
    .join(',');
}
