// Merge scheduling: PD decides when two adjacent regions become one (the stores carry the
// merge out: server/src/store/region-merge.ts). A region is a merge source when its last
// report shows it small — at most mergeRegionSizeBytesMax and mergeRegionKeysMax, by
// default 1/8 of the split size — healthy (a leader, every voter up to date, the full
// replica count, no learner) and its range has not changed for splitMergeIntervalMs (a
// region just split is small by construction, and at first reports no size: merging it
// back at once would undo every split). Its target is the smaller of its two neighbours
// that is healthy, on exactly the same stores (a merge moves no replica), and would not
// come out above the split size together with the source.
//
// No merge involves a store whose disk is not NORMAL: the merge itself moves no data, but it
// writes on every store of both regions (the merge entries, the source's range folded into
// the target), and a store refusing writes that add data would refuse those.
//
// The operator goes to the source's leader; it succeeds when the source disappears from
// PD's region map (the target's next report covers its range), and is rate-limited by
// mergeScheduleLimit like every other kind.
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { ScheduleConfig } from './schedule-config.js';
import type { DiskView } from './store-disk.js';
import { NO_DISKS, diskNotNormal } from './store-disk.js';

export type MergeConfig = Pick<
  ScheduleConfig,
  | 'mergeRegionSizeBytesMax'
  | 'mergeRegionKeysMax'
  | 'splitMergeIntervalMs'
  | 'maxReplicas'
  | 'regionSplitSizeBytes'
>;

/** Region ranges tracked for the split-merge interval; beyond this the oldest are forgotten. */
const RANGE_SINCE_MAX = 100_000;

export interface MergePlan {
  readonly source: RegionInfo;
  readonly target: RegionMeta;
}

function storesOf(region: RegionMeta): string {
  return region.peers
    .map((p) => p.storeId)
    .sort((a, b) => a - b)
    .join(',');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class MergeChecker {
  /** When each region's range (its epoch version) was first seen as it is now. */
  private readonly rangeSince = new Map<number, { version: number; sinceUnixMs: number }>();

  constructor(
    private readonly config: MergeConfig,
    private readonly nowUnixMs: () => number,
  ) {}

  /** Forgets every region (PD leadership changed). */
  clear(): void {
    this.rangeSince.clear();
  }

  /** The first mergeable pair in key order, or undefined. `busy` regions (an operator runs) are skipped. */
  plan(
    regions: readonly RegionInfo[],
    busy: (regionId: number) => boolean,
    disks: DiskView = NO_DISKS,
  ): MergePlan | undefined {
    const now = this.nowUnixMs();
    this.track(regions, now);
    for (const [i, info] of regions.entries()) {
      if (!this.isSource(info, now) || busy(info.region.id)) continue;
      // The target has the same stores as the source: checking the source's checks both.
      if (info.region.peers.some((p) => diskNotNormal(disks.get(p.storeId)))) continue;
      const target = this.pickTarget(info, regions[i - 1], regions[i + 1], busy);
      if (target !== undefined) return { source: info, target: target.region };
    }
    return undefined;
  }

  private track(regions: readonly RegionInfo[], now: number): void {
    const seen = new Set<number>();
    for (const info of regions) {
      const id = info.region.id;
      seen.add(id);
      const known = this.rangeSince.get(id);
      if (known === undefined || known.version !== info.region.epoch.version) {
        if (known === undefined && this.rangeSince.size >= RANGE_SINCE_MAX) continue;
        this.rangeSince.set(id, { version: info.region.epoch.version, sinceUnixMs: now });
      }
    }
    for (const id of this.rangeSince.keys()) if (!seen.has(id)) this.rangeSince.delete(id);
  }

  private healthy(info: RegionInfo): boolean {
    return (
      info.leader !== undefined &&
      info.heartbeatAtUnixMs > 0 &&
      info.downPeers.length === 0 &&
      info.pendingPeers.length === 0 &&
      info.region.peers.length === this.config.maxReplicas &&
      info.region.peers.every((p) => p.role === 'voter')
    );
  }

  private isSource(info: RegionInfo, now: number): boolean {
    if (!this.healthy(info)) return false;
    if (info.load.approximateSizeBytes > this.config.mergeRegionSizeBytesMax) return false;
    if (info.load.approximateKeys > this.config.mergeRegionKeysMax) return false;
    const since = this.rangeSince.get(info.region.id);
    return since !== undefined && now - since.sinceUnixMs >= this.config.splitMergeIntervalMs;
  }

  private pickTarget(
    source: RegionInfo,
    before: RegionInfo | undefined,
    after: RegionInfo | undefined,
    busy: (regionId: number) => boolean,
  ): RegionInfo | undefined {
    const fits = (t: RegionInfo | undefined): t is RegionInfo =>
      t !== undefined &&
      !busy(t.region.id) &&
      this.healthy(t) &&
      storesOf(t.region) === storesOf(source.region) &&
      t.load.approximateSizeBytes + source.load.approximateSizeBytes <= this.config.regionSplitSizeBytes;
    const left =
      before !== undefined && bytesEqual(before.region.endKey, source.region.startKey) ? before : undefined;
    const right =
      after !== undefined &&
      bytesEqual(source.region.endKey, after.region.startKey) &&
      source.region.endKey.length > 0
        ? after
        : undefined;
    const candidates = [left, right].filter(fits);
    candidates.sort((a, b) => a.load.approximateSizeBytes - b.load.approximateSizeBytes);
    return candidates[0];
  }
}
