// The client's copy of the region map: which region holds a key, at which epoch, on which
// peers, and which peer last led it. Regions are kept sorted by start key, so finding the
// region of a key is a binary search. Entries come from PD (and from EpochNotMatch errors,
// which carry the regions that replaced a stale one); an inserted region evicts every
// cached region it overlaps, entries expire after a TTL, errors drop them, and the least
// recently used go first when the cache is full. Synchronous and clock-injected, so it is
// tested without any network.
import type { metapb } from './wire.js';
import { compareBytes, describeKey, rangeContains } from './keys.js';

export interface RegionEpoch {
  readonly confVer: bigint;
  readonly version: bigint;
}

export interface Peer {
  readonly id: bigint;
  readonly storeId: bigint;
}

/** A region as the client routes by it. */
export interface RegionInfo {
  readonly id: bigint;
  /** Inclusive; empty means the start of the key space. */
  readonly startKey: Buffer;
  /** Exclusive; empty means unbounded. */
  readonly endKey: Buffer;
  readonly epoch: RegionEpoch;
  readonly peers: readonly Peer[];
  /** The peer believed to lead; undefined when unknown. */
  readonly leader: Peer | undefined;
}

interface Entry {
  region: RegionInfo;
  expiresAtMs: number;
}

export function regionFromProto(region: metapb.Region, leader: metapb.Peer | undefined): RegionInfo {
  const epoch = region.regionEpoch ?? { confVer: 0n, version: 0n };
  const peers = region.peers.map((p) => ({ id: p.id, storeId: p.storeId }));
  const known = leader !== undefined && peers.some((p) => p.id === leader.id);
  return {
    id: region.id,
    startKey: Buffer.from(region.startKey),
    endKey: Buffer.from(region.endKey),
    epoch: { confVer: epoch.confVer, version: epoch.version },
    peers,
    leader: known ? { id: leader.id, storeId: leader.storeId } : undefined,
  };
}

export function describeRegion(r: RegionInfo): string {
  const end = r.endKey.length === 0 ? '+inf' : describeKey(r.endKey);
  return `region ${r.id} [${describeKey(r.startKey)}, ${end}) v${r.epoch.version} c${r.epoch.confVer}`;
}

export class RegionCache {
  /** Sorted by start key; no two entries overlap. */
  private readonly sorted: Entry[] = [];
  /** The same entries by region id, in least-recently-used-first order. */
  private readonly byId = new Map<bigint, Entry>();

  constructor(
    private readonly sizeMax: number,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!(sizeMax >= 1) || !(ttlMs >= 1)) throw new Error(`region cache needs sizeMax and ttlMs >= 1`);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** The cached, unexpired region holding `key`, or undefined. O(log n). */
  lookup(key: Uint8Array): RegionInfo | undefined {
    const index = this.lastStartingAtOrBefore(key);
    if (index < 0) return undefined;
    const entry = this.sorted[index] as Entry;
    if (!rangeContains(entry.region.startKey, entry.region.endKey, key)) return undefined;
    return this.touch(entry);
  }

  /** The cached region holding the keys just below `endKey` (empty: the last region), for reverse scans. */
  lookupBefore(endKey: Uint8Array): RegionInfo | undefined {
    const entry = endKey.length === 0 ? this.sorted.at(-1) : this.sorted[this.lastStartingBefore(endKey)];
    if (entry === undefined) return undefined;
    const r = entry.region;
    const reaches =
      endKey.length === 0
        ? r.endKey.length === 0
        : r.endKey.length === 0 || compareBytes(r.endKey, endKey) >= 0;
    return reaches ? this.touch(entry) : undefined;
  }

  get(regionId: bigint): RegionInfo | undefined {
    const entry = this.byId.get(regionId);
    return entry === undefined ? undefined : this.touch(entry);
  }

  /**
   * Caches `region`, evicting every cached region it overlaps — unless one of those is newer
   * (a higher epoch version: the map has moved past what the source saw), then `region` is
   * ignored. Returns whether it was inserted.
   */
  insert(region: RegionInfo): boolean {
    if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0)
      throw new Error(`${describeRegion(region)} has an empty range`);
    const [from, to] = this.overlapping(region.startKey, region.endKey);
    for (let i = from; i < to; i++) {
      const other = (this.sorted[i] as Entry).region;
      if (other.epoch.version > region.epoch.version) return false;
    }
    for (const removed of this.sorted.splice(from, to - from)) this.byId.delete(removed.region.id);
    this.dropId(region.id);
    const entry: Entry = { region, expiresAtMs: this.nowMs() + this.ttlMs };
    this.sorted.splice(this.lastStartingAtOrBefore(region.startKey) + 1, 0, entry);
    this.byId.set(region.id, entry);
    this.evictOverflow();
    this.assertOrdered(from);
    return true;
  }

  /** Drops a region the client found wrong (unknown on its store, moved, ...). */
  invalidate(regionId: bigint): void {
    this.dropId(regionId);
  }

  /** Records the leader a NotLeader hint named; false (and the region dropped) when the peer is not in the cached membership. */
  updateLeader(regionId: bigint, leader: Peer): boolean {
    const entry = this.byId.get(regionId);
    if (entry === undefined) return false;
    if (!entry.region.peers.some((p) => p.id === leader.id && p.storeId === leader.storeId)) {
      this.dropId(regionId);
      return false;
    }
    entry.region = { ...entry.region, leader: { id: leader.id, storeId: leader.storeId } };
    return true;
  }

  /** Forgets that `peerId` leads the region (it refused or could not be reached). */
  forgetLeader(regionId: bigint, peerId: bigint): void {
    const entry = this.byId.get(regionId);
    if (entry !== undefined && entry.region.leader?.id === peerId)
      entry.region = { ...entry.region, leader: undefined };
  }

  /** Drops every region with a peer on `storeId` (the store's address or identity changed). */
  invalidateStore(storeId: bigint): void {
    for (const entry of [...this.byId.values()]) {
      if (entry.region.peers.some((p) => p.storeId === storeId)) this.dropId(entry.region.id);
    }
  }

  clear(): void {
    this.sorted.length = 0;
    this.byId.clear();
  }

  private touch(entry: Entry): RegionInfo | undefined {
    if (entry.expiresAtMs <= this.nowMs()) {
      this.dropId(entry.region.id);
      return undefined;
    }
    this.byId.delete(entry.region.id);
    this.byId.set(entry.region.id, entry);
    return entry.region;
  }

  private dropId(regionId: bigint): void {
    const entry = this.byId.get(regionId);
    if (entry === undefined) return;
    this.byId.delete(regionId);
    const index = this.lastStartingAtOrBefore(entry.region.startKey);
    if (this.sorted[index] !== entry) throw new Error(`region cache index lost region ${regionId}`);
    this.sorted.splice(index, 1);
  }

  private evictOverflow(): void {
    while (this.byId.size > this.sizeMax) {
      const oldest = this.byId.keys().next().value as bigint;
      this.dropId(oldest);
    }
  }

  /** Index range [from, to) of the cached regions overlapping [start, end). */
  private overlapping(start: Uint8Array, end: Uint8Array): [number, number] {
    let from = this.lastStartingAtOrBefore(start);
    if (from < 0) from = 0;
    else {
      const r = (this.sorted[from] as Entry).region;
      if (r.endKey.length > 0 && compareBytes(r.endKey, start) <= 0) from++;
    }
    const to = end.length === 0 ? this.sorted.length : this.lastStartingBefore(end) + 1;
    return [from, Math.max(from, to)];
  }

  /** Index of the last region whose start key is <= key; -1 when none. */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.sorted[mid] as Entry).region.startKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Index of the last region whose start key is < key; -1 when none. */
  private lastStartingBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.sorted[mid] as Entry).region.startKey, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Neighbours of a changed position must stay ordered and disjoint. */
  private assertOrdered(around: number): void {
    for (let i = Math.max(1, around - 1); i <= Math.min(this.sorted.length - 1, around + 1); i++) {
      const prev = (this.sorted[i - 1] as Entry).region;
      const next = (this.sorted[i] as Entry).region;
      if (prev.endKey.length === 0 || compareBytes(prev.endKey, next.startKey) > 0)
        throw new Error(`region cache overlap: ${describeRegion(prev)} and ${describeRegion(next)}`);
    }
  }
}
