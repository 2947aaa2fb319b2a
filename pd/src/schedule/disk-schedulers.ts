// The two schedulers for stores running out of disk (store-disk.ts):
//   - leader eviction: every leader on an up store whose disk is not NORMAL moves to a voter
//     on a NORMAL disk (the one leading the fewest). A full store refuses writes that add
//     data, so its leaders would answer DiskFull while a peer has room; a leader transfer
//     moves no data, so it is the first, cheap step. Like TiKV PD's evict-leader scheduler
//     for one store, but chosen by disk. Several per pass, up to evictLeaderScheduleLimit.
//   - space balance: a store whose disk is not NORMAL, or that is low on space, gives
//     regions to the up store with the most available space that may take them (add a
//     learner there, promote it, hand over leadership if the source led, remove the source
//     peer). The region moved is the largest that fits: it frees the most. From a low-space
//     store (still NORMAL) a move happens only while the target keeps more available space
//     than the source after it, so moves always narrow the gap and cannot cycle. At most
//     spaceMovesPerStoreMax data moves run at once out of or into one store, and
//     spaceScheduleLimit in all.
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { BalancePlan } from './balancers.js';
import { regionMoveSteps } from './balancers.js';
import type { ScheduleConfig } from './schedule-config.js';
import type { StoreHealth } from './store-health.js';
import type { DiskView, StoreDisk } from './store-disk.js';
import { describeDisk, diskNotNormal, isLowSpace, refusesData } from './store-disk.js';

function upStores(health: ReadonlyMap<number, StoreHealth>): number[] {
  return [...health]
    .filter(([, h]) => h === 'up')
    .map(([id]) => id)
    .sort((a, b) => a - b);
}

/** A voter the leader can hand over to: not lagging (a transfer to it would stall). */
function caughtUpVoters(info: RegionInfo): PeerMeta[] {
  const lagging = new Set([...info.pendingPeers.map((p) => p.id), ...info.downPeers.map((d) => d.peer.id)]);
  return info.region.peers.filter(
    (p) => p.role === 'voter' && p.id !== info.leader?.id && !lagging.has(p.id),
  );
}

/**
 * Leader transfers off up stores whose disk is not NORMAL, at most `countMax`, each to the
 * caught-up voter on an up NORMAL store leading the fewest (counting the transfers planned).
 */
export function planDiskLeaderEviction(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  disks: DiskView,
  busy: (regionId: number) => boolean,
  countMax: number,
): BalancePlan[] {
  const plans: BalancePlan[] = [];
  if (countMax <= 0) return plans;
  const heirStores = new Set(upStores(health).filter((id) => !diskNotNormal(disks.get(id))));
  const leaders = new Map<number, number>();
  for (const info of regions)
    if (info.leader !== undefined)
      leaders.set(info.leader.storeId, (leaders.get(info.leader.storeId) ?? 0) + 1);
  const count = (id: number): number => leaders.get(id) ?? 0;
  for (const info of regions) {
    const leader = info.leader;
    if (leader === undefined || busy(info.region.id)) continue;
    const disk = disks.get(leader.storeId);
    if (disk === undefined || !diskNotNormal(disk)) continue;
    const heir = caughtUpVoters(info)
      .filter((p) => heirStores.has(p.storeId))
      .sort((a, b) => count(a.storeId) - count(b.storeId) || a.storeId - b.storeId)[0];
    if (heir === undefined) continue;
    leaders.set(heir.storeId, count(heir.storeId) + 1);
    leaders.set(leader.storeId, count(leader.storeId) - 1);
    plans.push({
      region: info,
      description: `evict leader of region ${info.region.id} off store ${leader.storeId} (${describeDisk(disk)}) to store ${heir.storeId}`,
      steps: [{ kind: 'transferLeader', peer: heir }],
    });
    if (plans.length >= countMax) break;
  }
  return plans;
}

/** Data moves (operators adding or removing a replica) running per store. */
export type MovesByStore = ReadonlyMap<number, number>;

export type SpaceBalanceConfig = Pick<ScheduleConfig, 'spaceMovesPerStoreMax' | 'lowSpaceRatioPercent'>;

function healthyRegion(info: RegionInfo): boolean {
  return (
    info.leader !== undefined &&
    info.downPeers.length === 0 &&
    info.pendingPeers.length === 0 &&
    info.region.peers.every((p) => p.role === 'voter')
  );
}

/** Stores to move regions off, most urgent first: already full, almost full, low on space by available space. */
function spaceSources(up: readonly number[], disks: DiskView, lowSpaceRatioPercent: number): number[] {
  const rank = (d: StoreDisk | undefined): number =>
    d?.level === 'alreadyFull' ? 0 : d?.level === 'almostFull' ? 1 : 2;
  return up
    .filter((id) => diskNotNormal(disks.get(id)) || isLowSpace(id, disks, up, lowSpaceRatioPercent))
    .sort(
      (a, b) =>
        rank(disks.get(a)) - rank(disks.get(b)) ||
        (disks.get(a)?.availableBytes ?? 0) - (disks.get(b)?.availableBytes ?? 0) ||
        a - b,
    );
}

/** One region move off a store full or low on space, or undefined (nothing to move, or all bounds reached). */
export function planSpaceBalance(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  disks: DiskView,
  config: SpaceBalanceConfig,
  busy: (regionId: number) => boolean,
  moves: MovesByStore,
): BalancePlan | undefined {
  const up = upStores(health);
  const room = (id: number): boolean => (moves.get(id) ?? 0) < config.spaceMovesPerStoreMax;
  const available = (id: number): number => disks.get(id)?.availableBytes ?? 0;
  // Most available space first.
  const targets = up
    .filter((id) => !diskNotNormal(disks.get(id)) && room(id))
    .sort((a, b) => available(b) - available(a) || a - b);
  for (const source of spaceSources(up, disks, config.lowSpaceRatioPercent)) {
    if (!room(source)) continue;
    const sourceDisk = disks.get(source) as StoreDisk;
    const full = diskNotNormal(sourceDisk);
    const candidates = regions
      .filter(
        (r) => !busy(r.region.id) && healthyRegion(r) && r.region.peers.some((p) => p.storeId === source),
      )
      .sort((a, b) => b.load.approximateSizeBytes - a.load.approximateSizeBytes || a.region.id - b.region.id);
    for (const info of candidates) {
      const sizeBytes = info.load.approximateSizeBytes;
      const target = targets.find(
        (t) =>
          t !== source &&
          !info.region.peers.some((p) => p.storeId === t) &&
          refusesData(disks.get(t), sizeBytes) === undefined &&
          // From a store that is only low on space: the move must narrow the gap.
          (full || available(t) - sizeBytes > sourceDisk.availableBytes + sizeBytes),
      );
      if (target === undefined) continue;
      return {
        region: info,
        description: spaceMoveDescription(info, source, sourceDisk, target, disks),
        steps: moveSteps(info, source, target),
      };
    }
  }
  return undefined;
}

function moveSteps(info: RegionInfo, source: number, target: number): BalancePlan['steps'] {
  return regionMoveSteps(info, info.region.peers.find((p) => p.storeId === source) as PeerMeta, target);
}

function spaceMoveDescription(
  info: RegionInfo,
  source: number,
  sourceDisk: StoreDisk,
  target: number,
  disks: DiskView,
): string {
  const why = diskNotNormal(sourceDisk)
    ? describeDisk(sourceDisk)
    : `low on space, ${describeDisk(sourceDisk)}`;
  const targetDisk = disks.get(target);
  const to = targetDisk === undefined ? '' : ` (${describeDisk(targetDisk)})`;
  const mib = (info.load.approximateSizeBytes / (1024 * 1024)).toFixed(1);
  return `balance space: move region ${info.region.id} (${mib} MiB) off store ${source} (${why}) to store ${target}${to}`;
}
