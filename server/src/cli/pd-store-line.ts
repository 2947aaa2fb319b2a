// `flotilla status`: what PD knows of a store's disk from its last heartbeat (GetStore), and
// so what PD does with the store: a store whose disk is not NORMAL receives no replica and
// no leader, and PD moves its leaders and regions to stores with room.
import { metapb } from '@flotilla/proto';
import type { pdpb } from '@flotilla/proto';
import { formatBytes } from './admin-client.js';

const PD_ACTIONS: Readonly<Record<number, string>> = {
  [metapb.DiskUsage.NORMAL]: 'normal: may receive replicas and leaders',
  [metapb.DiskUsage.ALMOST_FULL]:
    'ALMOST FULL: no new replicas or leaders; its leaders and regions move away',
  [metapb.DiskUsage.ALREADY_FULL]:
    'ALREADY FULL: no new replicas or leaders; its leaders and regions move away',
};

/** "  PD: disk 5.0 MiB free of 1024.0 MiB (reserve 50.0 MiB), ALMOST FULL: no new replicas ...". */
export function formatPdStoreLine(stats: pdpb.StoreStats | undefined): string {
  if (stats === undefined) return '  PD: no store heartbeat yet';
  const space =
    stats.capacityBytes > 0n
      ? `${formatBytes(Number(stats.availableBytes))} free of ${formatBytes(Number(stats.capacityBytes))}` +
        ` (reserve ${formatBytes(Number(stats.reservedBytes))}), `
      : '';
  const action = PD_ACTIONS[stats.diskUsage] ?? `usage ${stats.diskUsage}: treated as full`;
  return `  PD: disk ${space}${action}`;
}
