// Client traffic per region, as the KV service routed it: keys and bytes read and written
// since the region was last reported to PD. The region heartbeat takes the counters (and
// the length of the period they cover), so PD sees read and write rates per region and can
// find hot regions. Only requests reaching this store count: for a led region, all of them.
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

  constructor(private readonly nowUnixMs: () => number) {}

  record(regionId: number, kind: 'read' | 'write', keysCount: number, bytes: number): void {
    if (!(keysCount >= 0 && bytes >= 0))
      throw new RangeError(`traffic of region ${regionId}: keys ${keysCount}, bytes ${bytes}`);
    let c = this.regions.get(regionId);
    if (c === undefined) {
      if (this.regions.size >= TRAFFIC_TRACKED_REGIONS_MAX) return;
      c = { sinceUnixMs: this.nowUnixMs(), readKeys: 0, readBytes: 0, writtenKeys: 0, writtenBytes: 0 };
      this.regions.set(regionId, c);
    }
    if (kind === 'read') {
      c.readKeys += keysCount;
      c.readBytes += bytes;
    } else {
      c.writtenKeys += keysCount;
      c.writtenBytes += bytes;
    }
  }

  /**
   * The region's counters since the last take (or since its first request here), and resets
   * them. Undefined when nothing was ever counted: the caller reports zero traffic.
   */
  take(regionId: number): RegionTrafficSample | undefined {
    const c = this.regions.get(regionId);
    if (c === undefined) return undefined;
    const now = this.nowUnixMs();
    const sample: RegionTrafficSample = {
      intervalMs: Math.max(1, now - c.sinceUnixMs),
      readKeys: c.readKeys,
      readBytes: c.readBytes,
      writtenKeys: c.writtenKeys,
      writtenBytes: c.writtenBytes,
    };
    // Kept (zeroed) so the next period starts now, not at the next request.
    Object.assign(c, { sinceUnixMs: now, readKeys: 0, readBytes: 0, writtenKeys: 0, writtenBytes: 0 });
    return sample;
  }

  /** Forgets regions not in `keep` (no longer led here: their traffic is reported by the new leader). */
  retainOnly(keep: ReadonlySet<number>): void {
    for (const regionId of this.regions.keys()) if (!keep.has(regionId)) this.regions.delete(regionId);
  }
}
