// Client traffic per region, as the KV service routed it: keys and bytes read and written
// since the region was last reported to PD. The region heartbeat takes the counters (and
// the length of the period they cover), so PD sees read and write rates per region and can
// find hot regions. Only requests reaching this store count: for a led region, all of them.
// The store's totals over all regions go into its own heartbeat the same way.
/** Regions counted at once; traffic of further regions is not counted until some are reported. */
export const TRAFFIC_TRACKED_REGIONS_MAX = 100_000;

export interface RegionTrafficSample {
  /** Length of the period the counters cover, in ms. */
  readonly intervalMs: number;
  readonly readKeys: number;
  readonly readBytes: number;
  readonly writtenKeys: number;
  readonly writtenBytes: number;
}

interface Counters {
  sinceUnixMs: number;
  readKeys: number;
  readBytes: number;
  writtenKeys: number;
  writtenBytes: number;
}

export class RegionTraffic {
  private readonly regions = new Map<number, Counters>();
  /** Every region's traffic since the last store heartbeat took it. */
  private readonly store: Counters;

  constructor(private readonly nowUnixMs: () => number) {
    this.store = { sinceUnixMs: nowUnixMs(), readKeys: 0, readBytes: 0, writtenKeys: 0, writtenBytes: 0 };
  }

  record(regionId: number, kind: 'read' | 'write', keysCount: number, bytes: number): void {
    if (!(keysCount >= 0 && bytes >= 0))
      throw new RangeError(`traffic of region ${regionId}: keys ${keysCount}, bytes ${bytes}`);
    add(this.store, kind, keysCount, bytes);
    let c = this.regions.get(regionId);
    if (c === undefined) {
      if (this.regions.size >= TRAFFIC_TRACKED_REGIONS_MAX) return;
      c = { sinceUnixMs: this.nowUnixMs(), readKeys: 0, readBytes: 0, writtenKeys: 0, writtenBytes: 0 };
      this.regions.set(regionId, c);
    }
    add(c, kind, keysCount, bytes);
  }

  /** The store's traffic over all regions since the last call (for the store heartbeat), and resets it. */
  takeStoreTotals(): RegionTrafficSample {
    return takeCounters(this.store, this.nowUnixMs());
  }

  /**
   * The region's counters since the last take (or since its first request here), and resets
   * them. Undefined when nothing was ever counted: the caller reports zero traffic.
   */
  take(regionId: number): RegionTrafficSample | undefined {
    const c = this.regions.get(regionId);
    if (c === undefined) return undefined;
    // Kept (zeroed) so the next period starts now, not at the next request.
    return takeCounters(c, this.nowUnixMs());
  }

  /** Forgets regions not in `keep` (no longer led here: their traffic is reported by the new leader). */
  retainOnly(keep: ReadonlySet<number>): void {
    for (const regionId of this.regions.keys()) if (!keep.has(regionId)) this.regions.delete(regionId);
  }
}

function add(c: Counters, kind: 'read' | 'write', keysCount: number, bytes: number): void {
  if (kind === 'read') {
    c.readKeys += keysCount;
    c.readBytes += bytes;
  } else {
    c.writtenKeys += keysCount;
    c.writtenBytes += bytes;
  }
}

/** The counters as a sample ending now; they restart from zero at now. */
function takeCounters(c: Counters, nowUnixMs: number): RegionTrafficSample {
  const sample: RegionTrafficSample = {
    intervalMs: Math.max(1, nowUnixMs - c.sinceUnixMs),
    readKeys: c.readKeys,
    readBytes: c.readBytes,
    writtenKeys: c.writtenKeys,
    writtenBytes: c.writtenBytes,
  };
  Object.assign(c, { sinceUnixMs: nowUnixMs, readKeys: 0, readBytes: 0, writtenKeys: 0, writtenBytes: 0 });
  return sample;
}
