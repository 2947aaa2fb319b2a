// Finds the region of a key: from the cache when it can, otherwise from PD — one
// ScanRegions call that returns the region and its next neighbours, which prefetches what
// a scan or batch will want next. Concurrent misses share PD calls: a miss that finds a
// lookup already under way waits for it and looks in the cache again before asking PD.
import type { Deadline } from './deadline.js';
import { UnavailableError } from './errors.js';
import { describeKey } from './keys.js';
import type { PdClient } from './pd-client.js';
import type { RegionCache, RegionInfo } from './region-cache.js';
import { regionFromProto } from './region-cache.js';
import type { StatsRecorder } from './stats.js';
import type { pdpb } from './wire.js';

/** PD pages one reverse lookup of the last region may read. */
const LAST_REGION_PAGES_MAX = 64;

export class RegionLocator {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly cache: RegionCache,
    private readonly pd: PdClient,
    private readonly stats: StatsRecorder,
    private readonly prefetchCount: number,
  ) {}

  /** The region holding `key`. */
  async locate(key: Uint8Array, deadline: Deadline): Promise<RegionInfo> {
    const cached = this.cache.lookup(key);
    if (cached !== undefined) {
      this.stats.regionCacheHits++;
      return cached;
    }
    this.stats.regionCacheMisses++;
    return this.shared(
      () => this.cache.lookup(key),
      async () => {
        const infos = await this.pd.scanRegions(key, Buffer.alloc(0), this.prefetchCount, deadline);
        this.absorb(infos);
        const first = infos[0];
        if (first?.region === undefined)
          throw new UnavailableError(`PD knows no region for key ${describeKey(key)}`);
        // Insert refuses a region older than what is cached: route by the cached one then.
        return this.cache.lookup(key) ?? regionFromProto(first.region, first.leader);
      },
      deadline,
    );
  }

  /** The region holding the keys just below `endKey` (empty: the last region), for reverse scans. */
  async locateBefore(endKey: Uint8Array, deadline: Deadline): Promise<RegionInfo> {
    const cached = this.cache.lookupBefore(endKey);
    if (cached !== undefined) {
      this.stats.regionCacheHits++;
      return cached;
    }
    this.stats.regionCacheMisses++;
    return this.shared(
      () => this.cache.lookupBefore(endKey),
      async () => {
        const info =
          endKey.length === 0 ? await this.lastRegion(deadline) : await this.regionBefore(endKey, deadline);
        if (info?.region === undefined)
          throw new UnavailableError(`PD knows no region before key ${describeKey(endKey)}`);
        this.absorb([info]);
        return this.cache.lookupBefore(endKey) ?? regionFromProto(info.region, info.leader);
      },
      deadline,
    );
  }

  /** Caches regions learned elsewhere (EpochNotMatch hints). */
  absorbRegions(regions: readonly RegionInfo[]): void {
    for (const r of regions) this.cache.insert(r);
  }

  private async regionBefore(endKey: Uint8Array, deadline: Deadline): Promise<pdpb.RegionInfo | undefined> {
    const holding = await this.pd.getRegion(endKey, deadline);
    const region = holding?.region;
    if (region !== undefined && Buffer.compare(region.startKey, endKey) < 0) return holding;
    return this.pd.getPrevRegion(endKey, deadline);
  }

  private async lastRegion(deadline: Deadline): Promise<pdpb.RegionInfo | undefined> {
    let from: Uint8Array = Buffer.alloc(0);
    for (let page = 0; page < LAST_REGION_PAGES_MAX; page++) {
      const infos = await this.pd.scanRegions(from, Buffer.alloc(0), this.prefetchCount, deadline);
      this.absorb(infos);
      const last = infos.at(-1);
      if (last?.region === undefined) return undefined;
      if (last.region.endKey.length === 0) return last;
      from = last.region.endKey;
    }
    throw new UnavailableError(
      `more than ${LAST_REGION_PAGES_MAX * this.prefetchCount} regions before the last one`,
    );
  }

  private absorb(infos: readonly pdpb.RegionInfo[]): void {
    for (const info of infos) {
      if (info.region !== undefined) this.cache.insert(regionFromProto(info.region, info.leader));
    }
  }

  /**
   * Runs `load` unless a lookup already under way fills the cache with what `fromCache`
   * wants: waits for those first (bounded: at most the lookups in flight when called).
   */
  private async shared(
    fromCache: () => RegionInfo | undefined,
    load: () => Promise<RegionInfo>,
    deadline: Deadline,
  ): Promise<RegionInfo> {
    if (this.inFlight.size > 0) {
      await deadline.race(Promise.allSettled([...this.inFlight]));
      const found = fromCache();
      if (found !== undefined) return found;
    }
    const loading = load();
    this.inFlight.add(loading);
    try {
      return await deadline.race(loading);
    } finally {
      this.inFlight.delete(loading);
    }
  }
}
