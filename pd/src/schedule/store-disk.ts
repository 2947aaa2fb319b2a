// What PD knows of each store's disk, from its latest heartbeat (StoreStats capacity,
// available and used bytes, disk_usage and reserve), and the two questions the schedulers
// ask of it:
//   - may this store receive `sizeBytes` more data? Only when its disk is NORMAL and its
//     available space after the move stays at or above its reserve (a store refuses writes
//     that add data below its reserve: a replica placed there could never catch up);
//   - is this store low on space? Its used share is at least lowSpaceRatioPercent AND its
//     available space is less than half of another store's. Both: stores sharing one file
//     system (a developer's machine) are never low against each other, and a big disk half
//     empty is not low because a bigger one is emptier. Low stores get no balance moves
//     and give regions to the store with the most room (space-balancer.ts).
// A store that has not reported its disk (no heartbeat yet, or capacity 0, as the cluster
// simulator sends) is judged by its disk_usage alone.
import { metapb } from '@flotilla/proto';
import type { pdpb } from '@flotilla/proto';

export type DiskLevel = 'normal' | 'almostFull' | 'alreadyFull';

export interface StoreDisk {
  readonly level: DiskLevel;
  /** 0 when the store did not report a capacity. */
  readonly capacityBytes: number;
  readonly availableBytes: number;
  readonly usedBytes: number;
  readonly reservedBytes: number;
}

/** Every store's disk by store id; a store missing here is treated as normal with unknown space. */
export type DiskView = ReadonlyMap<number, StoreDisk>;

export const NO_DISKS: DiskView = new Map();

export function diskLevelOf(usage: metapb.DiskUsage): DiskLevel {
  switch (usage) {
    case metapb.DiskUsage.NORMAL:
      return 'normal';
    case metapb.DiskUsage.ALMOST_FULL:
      return 'almostFull';
    case metapb.DiskUsage.ALREADY_FULL:
      return 'alreadyFull';
    default:
      // An unknown value from a newer store: the safe reading is "no new data".
      return 'alreadyFull';
  }
}

/** The disk a heartbeat reports, or undefined before the first heartbeat. */
export function storeDiskOf(stats: pdpb.StoreStats | undefined): StoreDisk | undefined {
  if (stats === undefined) return undefined;
  const n = (v: bigint): number =>
    v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  return {
    level: diskLevelOf(stats.diskUsage),
    capacityBytes: n(stats.capacityBytes),
    availableBytes: n(stats.availableBytes),
    usedBytes: n(stats.usedBytes),
    reservedBytes: n(stats.reservedBytes),
  };
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

const LEVEL_NAMES: Record<DiskLevel, string> = {
  normal: 'normal',
  almostFull: 'almost full',
  alreadyFull: 'already full',
};

/** "disk almost full (1.2 MiB available of 24.0 MiB, reserve 2.0 MiB)". */
export function describeDisk(disk: StoreDisk): string {
  const space =
    disk.capacityBytes > 0
      ? ` (${mib(disk.availableBytes)} available of ${mib(disk.capacityBytes)}, reserve ${mib(disk.reservedBytes)})`
      : '';
  return `disk ${LEVEL_NAMES[disk.level]}${space}`;
}

/**
 * Why the store may not receive `sizeBytes` more data, or undefined when it may. The reason
 * names the store's level and space, for operator descriptions and logs.
 */
export function refusesData(disk: StoreDisk | undefined, sizeBytes: number): string | undefined {
  if (disk === undefined) return undefined;
  if (disk.level !== 'normal') return describeDisk(disk);
  if (disk.capacityBytes === 0) return undefined;
  if (disk.availableBytes - sizeBytes < disk.reservedBytes)
    return `${mib(sizeBytes)} more would leave ${mib(Math.max(0, disk.availableBytes - sizeBytes))}, below its reserve of ${mib(disk.reservedBytes)}`;
  return undefined;
}

/** Whether the store's disk is not NORMAL (its leaders and regions move away). */
export function diskNotNormal(disk: StoreDisk | undefined): boolean {
  return disk !== undefined && disk.level !== 'normal';
}

/** Used share of the capacity in percent (used = capacity - available); 0 if unknown. */
export function usedPercent(disk: StoreDisk | undefined): number {
  if (disk === undefined || disk.capacityBytes === 0) return 0;
  return (100 * (disk.capacityBytes - disk.availableBytes)) / disk.capacityBytes;
}

/**
 * Whether `storeId` is low on space among `candidates` (see the file comment): used at
 * least `lowSpaceRatioPercent` and less than half the available space of another of them.
 */
export function isLowSpace(
  storeId: number,
  disks: DiskView,
  candidates: readonly number[],
  lowSpaceRatioPercent: number,
): boolean {
  const disk = disks.get(storeId);
  if (disk === undefined || disk.capacityBytes === 0) return false;
  if (usedPercent(disk) < lowSpaceRatioPercent) return false;
  return candidates.some((id) => {
    const other = disks.get(id);
    return (
      id !== storeId &&
      other !== undefined &&
      other.capacityBytes > 0 &&
      disk.availableBytes * 2 < other.availableBytes
    );
  });
}
