// The periodic balancers, each proposing at most one operator per pass:
//   - leaders: move a leader from the store leading the most regions to a store leading the
//     fewest that holds a voter of the region (a leader transfer is cheap: no data moves).
//     Leaders on stores being evacuated or disconnected move first, to any healthy voter.
//   - regions (replicas): move a replica from the fullest store to the emptiest one (add a
//     learner there, promote it, move leadership off the source if needed, remove the
//     source peer). This is also how a new store fills up (scale-out) and how an offline
//     store empties (decommission: its replicas count as needing a move, see the replica
//     checker).
// A store may be `balanceTolerance` above the average before anything moves, so balancing
// converges instead of bouncing a region between two stores.
// Disks (store-disk.ts): a store whose disk is not NORMAL receives no leader and no replica
// (its leaders are evicted by disk-schedulers.ts, so leader counts are balanced over the
// others); a replica goes only where the region's approximate size keeps the reserve, and
// not to a store low on space, nor nearly so (LOW_SPACE_TARGET_MARGIN_PERCENT), so that
// this balancer does not move back what the space balancer moved off.
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { ReplicaPlan } from './replica-checker.js';
import type { StoreHealth } from './store-health.js';
import { mustEvacuate } from './store-health.js';
import type { DiskView } from './store-disk.js';
import { NO_DISKS, diskNotNormal, isLowSpace, refusesData } from './store-disk.js';

/**
 * A replica balance target must be this many points of used share below the low-space
 * ratio (or not far below the others in available space): the hysteresis between this
 * balancer and the space balancer.
 */
export const LOW_SPACE_TARGET_MARGIN_PERCENT = 10;

/** The disk side of balancing: every store's disk and the low-space ratio. */
export interface SpaceRules {
  readonly disks: DiskView;
  readonly lowSpaceRatioPercent: number;
}

export const NO_SPACE_RULES: SpaceRules = { disks: NO_DISKS, lowSpaceRatioPercent: 100 };

export interface BalancePlan extends ReplicaPlan {
  readonly region: RegionInfo;
}

interface Counts {
  readonly leaders: Map<number, number>;
  readonly replicas: Map<number, number>;
}

export function countByStore(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
): Counts {
  const leaders = new Map<number, number>();
  const replicas = new Map<number, number>();
  for (const storeId of health.keys()) {
    leaders.set(storeId, 0);
    replicas.set(storeId, 0);
  }
  for (const info of regions) {
    if (info.leader !== undefined)
      leaders.set(info.leader.storeId, (leaders.get(info.leader.storeId) ?? 0) + 1);
    for (const p of info.region.peers) replicas.set(p.storeId, (replicas.get(p.storeId) ?? 0) + 1);
  }
  return { leaders, replicas };
}

function upStores(health: ReadonlyMap<number, StoreHealth>): number[] {
  return [...health]
    .filter(([, h]) => h === 'up')
    .map(([id]) => id)
    .sort((a, b) => a - b);
}

function healthyRegion(info: RegionInfo): boolean {
  return (
    info.leader !== undefined &&
    info.downPeers.length === 0 &&
    info.pendingPeers.length === 0 &&
    info.region.peers.every((p) => p.role === 'voter')
  );
}

/** Changes running operators will still make, per store (so balancing does not overshoot). */
export interface InFlightDeltas {
  readonly leaders: ReadonlyMap<number, number>;
  readonly replicas: ReadonlyMap<number, number>;
}

const NO_DELTAS: InFlightDeltas = { leaders: new Map(), replicas: new Map() };

function withDeltas(counts: Map<number, number>, deltas: ReadonlyMap<number, number>): Map<number, number> {
  for (const [storeId, delta] of deltas) counts.set(storeId, (counts.get(storeId) ?? 0) + delta);
  return counts;
}

export function planLeaderBalance(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  tolerance: number,
  busy: (regionId: number) => boolean,
  inFlight: InFlightDeltas = NO_DELTAS,
  disks: DiskView = NO_DISKS,
): BalancePlan | undefined {
  // Stores that may lead: up, with a NORMAL disk.
  const up = upStores(health).filter((id) => !diskNotNormal(disks.get(id)));
  if (up.length === 0) return undefined;
  const leaders = withDeltas(countByStore(regions, health).leaders, inFlight.leaders);
  const count = (id: number): number => leaders.get(id) ?? 0;
  // Leaders on stores that should not lead: move them to the least loaded healthy voter.
  for (const info of regions) {
    const leader = info.leader;
    if (leader === undefined || busy(info.region.id)) continue;
    const h = health.get(leader.storeId);
    if (h === 'up') continue;
    if (!mustEvacuate(h) && h !== 'disconnected') continue;
    const heir = bestVoter(info, up, count);
    if (heir !== undefined)
      return {
        region: info,
        description: `move leader off store ${leader.storeId} (${h ?? 'unknown'}) to store ${heir.storeId}`,
        steps: [{ kind: 'transferLeader', peer: heir }],
      };
  }
  const total = up.reduce((sum, id) => sum + count(id), 0);
  const average = total / up.length;
  const source = [...up].sort((a, b) => count(b) - count(a) || a - b)[0] as number;
  if (
    count(source) <= Math.ceil(average) + tolerance - 1 &&
    count(source) - Math.min(...up.map(count)) <= tolerance
  )
    return undefined;
  for (const info of regions) {
    if (info.leader?.storeId !== source || busy(info.region.id) || !healthyRegion(info)) continue;
    const heir = bestVoter(info, up, count);
    if (heir === undefined || count(heir.storeId) + 1 > count(source) - 1) continue;
    return {
      region: info,
      description: `balance leaders: store ${source} (${count(source)}) to store ${heir.storeId} (${count(heir.storeId)})`,
      steps: [{ kind: 'transferLeader', peer: heir }],
    };
  }
  return undefined;
}

/** The voter of the region, on an up store other than the leader's, whose store leads the fewest. */
function bestVoter(
  info: RegionInfo,
  up: readonly number[],
  count: (storeId: number) => number,
): PeerMeta | undefined {
  const candidates = info.region.peers.filter(
    (p) => p.role === 'voter' && p.id !== info.leader?.id && up.includes(p.storeId),
  );
  return candidates.sort((a, b) => count(a.storeId) - count(b.storeId) || a.storeId - b.storeId)[0];
}

export function planRegionBalance(
  regions: readonly RegionInfo[],
  health: ReadonlyMap<number, StoreHealth>,
  tolerance: number,
  busy: (regionId: number) => boolean,
  inFlight: InFlightDeltas = NO_DELTAS,
  space: SpaceRules = NO_SPACE_RULES,
): BalancePlan | undefined {
  const up = upStores(health);
  if (up.length < 2) return undefined;
  const replicas = withDeltas(countByStore(regions, health).replicas, inFlight.replicas);
  const count = (id: number): number => replicas.get(id) ?? 0;
  const targets = up.filter(
    (id) =>
      !diskNotNormal(space.disks.get(id)) &&
      !isLowSpace(id, space.disks, up, space.lowSpaceRatioPercent - LOW_SPACE_TARGET_MARGIN_PERCENT),
  );
  const source = [...up].sort((a, b) => count(b) - count(a) || a - b)[0] as number;
  const target = [...targets].sort((a, b) => count(a) - count(b) || a - b)[0];
  if (target === undefined) return undefined;
  // Moving one replica changes the gap by two: move only while it stays above tolerance.
  if (count(source) - count(target) <= Math.max(1, tolerance)) return undefined;
  for (const info of regions) {
    if (busy(info.region.id) || !healthyRegion(info)) continue;
    if (refusesData(space.disks.get(target), info.load.approximateSizeBytes) !== undefined) continue;
    const from = info.region.peers.find((p) => p.storeId === source);
    if (from === undefined || info.region.peers.some((p) => p.storeId === target)) continue;
    const steps = regionMoveSteps(info, from, target);
    return {
      region: info,
      description: `balance replicas: move region ${info.region.id}'s peer from store ${source} (${count(source)}) to store ${target} (${count(target)})`,
      steps,
    };
  }
  return undefined;
}

/**
 * Moves the region's peer `from` to store `target`: a learner there, promoted, the leadership
 * handed to it if `from` leads, then `from` removed (the voter count never drops).
 */
export function regionMoveSteps(info: RegionInfo, from: PeerMeta, target: number): ReplicaPlan['steps'] {
  const added: PeerMeta = { id: 0, storeId: target, role: 'learner' };
  const steps: ReplicaPlan['steps'][number][] = [
    { kind: 'addLearner', peer: added },
    { kind: 'promoteLearner', peer: added },
  ];
  if (info.leader?.id === from.id) steps.push({ kind: 'transferLeader', peer: added });
  steps.push({ kind: 'removePeer', peer: from });
  return steps;
}
