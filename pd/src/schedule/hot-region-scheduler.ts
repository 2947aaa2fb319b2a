// Hot-region leader spreading. Region heartbeats carry the keys read and written over the
// leader's last report interval; a region moving at least hotRegionKeysPerSecondMin keys/s
// is hot. Its load lands on its leader (reads and writes go there), so a store leading
// several hot regions serves far more than the others even when leader *counts* are even.
// When the store with the most hot load leads more than hotRegionTolerancePercent above the
// average over up stores, the leader of one of its hot regions moves to a follower on the
// store whose hot load then ends lowest — a leader transfer: no data moves. By rate, not
// count: one region of 5,000 keys/s outweighs ten of 200.
//
// Rate-limited: operators of kind 'hotRegion' are capped by hotRegionScheduleLimit, and a
// moved region is not moved again for hotRegionCooldownMs. Until then its rate before the
// move counts at the destination store, from the moment the move is planned: while the
// transfer is in flight the leader still reports from the source, and the new leader's
// first report covers only a short interval; without that the destination would look cold
// and attract every hot region at once. A region whose one hot key outweighs every other store's load
// is not moved (it would only move the hotspot): load-based split on the store cuts it.
// No hot leader moves to a store whose disk is not NORMAL (it refuses the writes).
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { BalancePlan } from './balancers.js';
import type { ScheduleConfig } from './schedule-config.js';
import type { StoreHealth } from './store-health.js';
import type { DiskView } from './store-disk.js';
import { NO_DISKS, diskNotNormal } from './store-disk.js';

/** Moves remembered for the cooldown; beyond this the oldest are forgotten. */
const RECENT_MOVES_MAX = 10_000;

export type HotRegionConfig = Pick<
  ScheduleConfig,
  | 'hotRegionKeysPerSecondMin'
  | 'hotRegionTolerancePercent'
  | 'hotRegionCooldownMs'
  | 'hotRegionReportMaxAgeMs'
>;

export interface RecentMove {
  readonly keysPerSecond: number;
  readonly atUnixMs: number;
  readonly fromStoreId: number;
  readonly toStoreId: number;
}

export interface HotLeaderPlan extends BalancePlan {
  readonly keysPerSecond: number;
}

/** Keys read and written per second over the leader's last report; 0 if unknown or too old. */
export function regionKeysPerSecond(info: RegionInfo, nowUnixMs: number, reportMaxAgeMs: number): number {
  const { load } = info;
  if (load.intervalMs <= 0 || info.heartbeatAtUnixMs === 0) return 0;
  if (nowUnixMs - info.heartbeatAtUnixMs > reportMaxAgeMs) return 0;
  return ((load.readKeys + load.writtenKeys) * 1000) / load.intervalMs;
}

function healthy(info: RegionInfo): boolean {
  return (
    info.leader !== undefined &&
    info.downPeers.length === 0 &&
    info.pendingPeers.length === 0 &&
    info.region.peers.every((p) => p.role === 'voter')
  );
}

/** Hot regions' rates, and the hot load each up store leads (recent moves counted at their new leader). */
export function hotLoadByStore(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  nowUnixMs: number,
  config: HotRegionConfig,
  recentMoves: ReadonlyMap<number, RecentMove>,
): { hot: Map<number, number>; loads: Map<number, number> } {
  const hot = new Map<number, number>();
  const loads = new Map<number, number>();
  for (const [storeId, h] of health) if (h === 'up') loads.set(storeId, 0);
  for (const info of regions) {
    const leaderStore = info.leader?.storeId;
    if (leaderStore === undefined || !loads.has(leaderStore)) continue;
    let rate = regionKeysPerSecond(info, nowUnixMs, config.hotRegionReportMaxAgeMs);
    let storeId = leaderStore;
    const moved = recentMoves.get(info.region.id);
    if (moved !== undefined && nowUnixMs - moved.atUnixMs < config.hotRegionCooldownMs) {
      rate = Math.max(rate, moved.keysPerSecond);
      // In flight or done: the load is (about to be) the destination's. A leader found
      // elsewhere was moved by something else, and counts where it is.
      const inMove = leaderStore === moved.fromStoreId || leaderStore === moved.toStoreId;
      if (inMove && loads.has(moved.toStoreId)) storeId = moved.toStoreId;
    }
    if (rate < config.hotRegionKeysPerSecondMin) continue;
    hot.set(info.region.id, rate);
    loads.set(storeId, (loads.get(storeId) ?? 0) + rate);
  }
  return { hot, loads };
}

/**
 * One leader move that spreads hot load, or undefined when the hottest store is within
 * tolerance of the average or no move would lower the hotter side of the pair it changes.
 */
export function planHotLeaderSpread(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  nowUnixMs: number,
  config: HotRegionConfig,
  busy: (regionId: number) => boolean,
  recentMoves: ReadonlyMap<number, RecentMove> = new Map(),
  disks: DiskView = NO_DISKS,
): HotLeaderPlan | undefined {
  const { hot, loads } = hotLoadByStore(regions, health, nowUnixMs, config, recentMoves);
  if (loads.size < 2 || hot.size === 0) return undefined;
  const load = (storeId: number): number => loads.get(storeId) ?? 0;
  const total = [...loads.values()].reduce((a, b) => a + b, 0);
  const average = total / loads.size;
  const source = [...loads.keys()].sort((a, b) => load(b) - load(a) || a - b)[0] as number;
  if (load(source) <= (average * (100 + config.hotRegionTolerancePercent)) / 100) return undefined;
  let best: { info: RegionInfo; to: PeerMeta; rate: number; worse: number } | undefined;
  for (const info of regions) {
    const rate = hot.get(info.region.id);
    if (rate === undefined || info.leader?.storeId !== source || busy(info.region.id) || !healthy(info))
      continue;
    const moved = recentMoves.get(info.region.id);
    if (moved !== undefined && nowUnixMs - moved.atUnixMs < config.hotRegionCooldownMs) continue;
    for (const to of info.region.peers) {
      if (to.id === info.leader.id || to.role !== 'voter' || !loads.has(to.storeId)) continue;
      if (diskNotNormal(disks.get(to.storeId))) continue;
      // The move must lower the hotter of the two stores, or it only moves the hotspot.
      if (load(to.storeId) + rate >= load(source)) continue;
      const worse = Math.max(load(source) - rate, load(to.storeId) + rate);
      if (
        best === undefined ||
        worse < best.worse ||
        (worse === best.worse && load(to.storeId) < load(best.to.storeId))
      )
        best = { info, to, rate, worse };
    }
  }
  if (best === undefined) return undefined;
  const round = (n: number): number => Math.round(n);
  return {
    region: best.info,
    keysPerSecond: best.rate,
    description:
      `spread hot leaders: region ${best.info.region.id} (${round(best.rate)} keys/s) from store ${source} ` +
      `(${round(load(source))} keys/s hot) to store ${best.to.storeId} (${round(load(best.to.storeId))} keys/s hot)`,
    steps: [{ kind: 'transferLeader', peer: best.to }],
  };
}

/** The scheduler's hot-region state: recent moves (cooldown and pending influence). */
export class HotRegionScheduler {
  private readonly recentMoves = new Map<number, RecentMove>();

  constructor(
    private readonly config: HotRegionConfig,
    private readonly nowUnixMs: () => number,
  ) {}

  /** The next hot-leader move, remembered as made (the operator is created right after). */
  plan(
    regions: readonly RegionInfo[],
    health: ReadonlyMap<number, StoreHealth>,
    busy: (regionId: number) => boolean,
    disks: DiskView = NO_DISKS,
  ): HotLeaderPlan | undefined {
    const now = this.nowUnixMs();
    for (const [regionId, move] of this.recentMoves)
      if (now - move.atUnixMs >= this.config.hotRegionCooldownMs) this.recentMoves.delete(regionId);
    const plan = planHotLeaderSpread(regions, health, now, this.config, busy, this.recentMoves, disks);
    if (plan === undefined) return undefined;
    this.recentMoves.set(plan.region.region.id, {
      keysPerSecond: plan.keysPerSecond,
      atUnixMs: now,
      fromStoreId: plan.region.leader?.storeId ?? 0,
      toStoreId: plan.steps[0]?.peer.storeId ?? 0,
    });
    if (this.recentMoves.size > RECENT_MOVES_MAX) {
      const oldest = this.recentMoves.keys().next().value;
      if (oldest !== undefined) this.recentMoves.delete(oldest);
    }
    return plan;
  }

  /** Whether the region is hot now (the leader-count balancer leaves hot regions to this scheduler). */
  isHot(info: RegionInfo): boolean {
    const now = this.nowUnixMs();
    const moved = this.recentMoves.get(info.region.id);
    if (moved !== undefined && now - moved.atUnixMs < this.config.hotRegionCooldownMs) return true;
    return (
      regionKeysPerSecond(info, now, this.config.hotRegionReportMaxAgeMs) >=
      this.config.hotRegionKeysPerSecondMin
    );
  }

  clear(): void {
    this.recentMoves.clear();
  }
}
