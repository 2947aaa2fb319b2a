// The PD leader's map of the key space: regions sorted by start key (lookups by key are a
// binary search) plus an index by id. Regions never overlap in the tree: putting a region
// removes every region its range overlaps, which is how a split or merge reported by one
// heartbeat replaces the regions it came from even if the split report itself was lost.
// Insertion shifts the array (O(n) memmove), cheap at the region counts one PD serves.
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import { regionContainsKey } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from './region-info.js';

/** Regions one tree may hold; beyond it puts are refused rather than exhausting memory. */
export const REGIONS_MAX = 1_000_000;

export class RegionTreeError extends Error {
  readonly code = 'REGION_TREE';
}

export class RegionTree {
  /** Sorted by region.startKey; ranges disjoint. */
  private readonly sorted: RegionInfo[] = [];
  private readonly byId = new Map<number, RegionInfo>();

  get size(): number {
    return this.sorted.length;
  }

  getById(regionId: number): RegionInfo | undefined {
    return this.byId.get(regionId);
  }

  /** The region containing `key`, if any. */
  getByKey(key: Uint8Array): RegionInfo | undefined {
    const index = this.lastStartingAtOrBefore(key);
    const info = index < 0 ? undefined : this.sorted[index];
    return info !== undefined && regionContainsKey(info.region, key) ? info : undefined;
  }

  /** The region before the one containing `key` (or before the gap `key` falls in). */
  getPrev(key: Uint8Array): RegionInfo | undefined {
    const index = this.lastStartingAtOrBefore(key);
    if (index < 0) return undefined;
    const at = this.sorted[index] as RegionInfo;
    return regionContainsKey(at.region, key) ? this.sorted[index - 1] : at;
  }

  /** Regions overlapping [startKey, endKey) in key order, at most `limit`; empty endKey = unbounded. */
  scan(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RegionTreeError(`scan limit must be positive, got ${limit}`);
    const out: RegionInfo[] = [];
    for (let i = this.firstOverlapping(startKey); i < this.sorted.length && out.length < limit; i++) {
      const info = this.sorted[i] as RegionInfo;
      if (endKey.length > 0 && compareBytes(info.region.startKey, endKey) >= 0) break;
      out.push(info);
    }
    return out;
  }

  /** Regions (other than `region` itself by id) whose ranges overlap `region`'s. */
  overlaps(region: RegionMeta): RegionInfo[] {
    return this.scan(region.startKey, region.endKey, REGIONS_MAX).filter(
      (info) => info.region.id !== region.id,
    );
  }

  /**
   * Inserts or replaces `info` (by id), removing every other region its range overlaps.
   * Returns the removed overlapping regions.
   */
  put(info: RegionInfo): RegionInfo[] {
    const { region } = info;
    if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0) {
      throw new RegionTreeError(`region ${region.id} has an empty or inverted range`);
    }
    this.remove(region.id);
    const removed = this.overlaps(region);
    for (const old of removed) this.remove(old.region.id);
    if (this.sorted.length >= REGIONS_MAX)
      throw new RegionTreeError(`region tree is full (${REGIONS_MAX} regions)`);
    const at = this.lastStartingAtOrBefore(region.startKey) + 1;
    this.sorted.splice(at, 0, info);
    this.byId.set(region.id, info);
    this.assertNeighboursDisjoint(at);
    return removed;
  }

  /** Updates what is known of a region without changing its range (heartbeat stats). */
  replaceInPlace(info: RegionInfo): void {
    const index = this.indexOf(info.region.id);
    const old = this.sorted[index] as RegionInfo;
    if (
      compareBytes(old.region.startKey, info.region.startKey) !== 0 ||
      compareBytes(old.region.endKey, info.region.endKey) !== 0
    ) {
      throw new RegionTreeError(`region ${info.region.id}: replaceInPlace cannot change the range`);
    }
    this.sorted[index] = info;
    this.byId.set(info.region.id, info);
  }

  remove(regionId: number): RegionInfo | undefined {
    const info = this.byId.get(regionId);
    if (info === undefined) return undefined;
    this.sorted.splice(this.indexOf(regionId), 1);
    this.byId.delete(regionId);
    return info;
  }

  /** Every region, in key order. */
  all(): readonly RegionInfo[] {
    return this.sorted;
  }

  private indexOf(regionId: number): number {
    const info = this.byId.get(regionId);
    if (info === undefined) throw new RegionTreeError(`region ${regionId} is not in the tree`);
    const index = this.lastStartingAtOrBefore(info.region.startKey);
    if (this.sorted[index]?.region.id !== regionId)
      throw new RegionTreeError(`region ${regionId}: index out of sync`);
    return index;
  }

  /** Index of the last region whose start key is <= key; -1 if none. */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.sorted[mid] as RegionInfo).region.startKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Index of the first region overlapping [key, ...): the one containing key, else the next. */
  private firstOverlapping(key: Uint8Array): number {
    const index = this.lastStartingAtOrBefore(key);
    if (index >= 0 && regionContainsKey((this.sorted[index] as RegionInfo).region, key)) return index;
    return index + 1;
  }

  private assertNeighboursDisjoint(index: number): void {
    const before = this.sorted[index - 1];
    const at = this.sorted[index] as RegionInfo;
    const after = this.sorted[index + 1];
    if (before !== undefined && !endsAtOrBefore(before.region, at.region.startKey)) {
      throw new RegionTreeError(`regions ${before.region.id} and ${at.region.id} overlap`);
    }
    if (after !== undefined && !endsAtOrBefore(at.region, after.region.startKey)) {
      throw new RegionTreeError(`regions ${at.region.id} and ${after.region.id} overlap`);
    }
  }
}

function endsAtOrBefore(region: RegionMeta, key: Uint8Array): boolean {
  return region.endKey.length > 0 && compareBytes(region.endKey, key) <= 0;
}
