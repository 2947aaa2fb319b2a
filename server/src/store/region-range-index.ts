// The initialized regions of a store ordered by key range, so the store can answer "which
// local regions overlap [start, end)?" in O(log n + k): to route a message for a region it
// has never seen (create a peer only where no local region holds the range), to list the
// current regions in EpochNotMatch, and to know which data a destroyed peer may delete.
// Invariant: the ranges held are pairwise disjoint (a store never holds two initialized
// peers for the same key); insert checks it and refuses an overlap loudly.
import { compareBytes } from '../storage/bytes.js';

/** What the index keeps of a region: its id and range (epoch and peers live on the peer). */
export interface RegionRange {
  readonly id: number;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
}

/** True when [aStart, aEnd) and [bStart, bEnd) share a key (empty end = unbounded). */
export function rangesOverlap(
  aStart: Uint8Array,
  aEnd: Uint8Array,
  bStart: Uint8Array,
  bEnd: Uint8Array,
): boolean {
  const aBeforeB = aEnd.length > 0 && compareBytes(aEnd, bStart) <= 0;
  const bBeforeA = bEnd.length > 0 && compareBytes(bEnd, aStart) <= 0;
  return !aBeforeB && !bBeforeA;
}

export class RegionRangeIndex {
  /** Sorted by startKey; disjoint. */
  private entries: RegionRange[] = [];
  private readonly byId = new Map<number, RegionRange>();

  get size(): number {
    return this.entries.length;
  }

  has(regionId: number): boolean {
    return this.byId.has(regionId);
  }

  /** Adds a region, or replaces it (same id) with its new range. Throws on an overlap with another region. */
  upsert(range: RegionRange): void {
    const region: RegionRange = { id: range.id, startKey: range.startKey, endKey: range.endKey };
    this.remove(region.id);
    const overlapping = this.overlapping(region.startKey, region.endKey);
    if (overlapping.length > 0) {
      throw new Error(
        `region ${region.id} overlaps local region ${(overlapping[0] as RegionRange).id} in the range index`,
      );
    }
    const at = this.firstStartingAtOrAfter(region.startKey);
    this.entries.splice(at, 0, region);
    this.byId.set(region.id, region);
  }

  remove(regionId: number): void {
    const region = this.byId.get(regionId);
    if (region === undefined) return;
    this.byId.delete(regionId);
    const at = this.firstStartingAtOrAfter(region.startKey);
    if (this.entries[at] !== region) throw new Error(`range index lost region ${regionId}`);
    this.entries.splice(at, 1);
  }

  /** The region holding `key`, if any. */
  regionForKey(key: Uint8Array): RegionRange | undefined {
    const candidate = this.entries[this.lastStartingAtOrBefore(key)];
    if (candidate === undefined) return undefined;
    const inside = candidate.endKey.length === 0 || compareBytes(key, candidate.endKey) < 0;
    return inside ? candidate : undefined;
  }

  /** Regions overlapping [startKey, endKey) (empty endKey = unbounded), in key order. */
  overlapping(startKey: Uint8Array, endKey: Uint8Array): RegionRange[] {
    const out: RegionRange[] = [];
    // The region before the first one starting at startKey may reach into the range.
    let i = Math.max(0, this.lastStartingAtOrBefore(startKey));
    for (; i < this.entries.length; i++) {
      const r = this.entries[i] as RegionRange;
      if (endKey.length > 0 && compareBytes(r.startKey, endKey) >= 0) break;
      if (rangesOverlap(r.startKey, r.endKey, startKey, endKey)) out.push(r);
    }
    return out;
  }

  all(): readonly RegionRange[] {
    return this.entries;
  }

  /** Index of the first entry whose startKey >= key. */
  private firstStartingAtOrAfter(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.entries[mid] as RegionRange).startKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the last entry whose startKey <= key (-1 if none). */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.entries[mid] as RegionRange).startKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}
