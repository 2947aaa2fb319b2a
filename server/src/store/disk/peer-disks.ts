// How full the disks of the other stores are, as their frames say (every RaftMessageBatch
// carries its sender's level). A leader uses it to refuse writes that add data when too
// few of its region's voters could persist them: the write would only wait for a quorum
// that cannot come, then time out, where DiskFull tells the client at once.
import { metapb } from '@flotilla/proto';
import type { DiskUsage } from '../../storage/disk-space.js';

/** Stores tracked at most (the transport's bound on peer stores is far below). */
const PEER_STORES_MAX = 100_000;

export class PeerDisks {
  private readonly byStore = new Map<number, DiskUsage>();

  /** A frame from `storeId` said its disk is at `usage`. */
  note(storeId: number, usage: metapb.DiskUsage): void {
    const level = diskUsageFromProto(usage);
    if (level === 'normal') {
      this.byStore.delete(storeId);
      return;
    }
    if (!this.byStore.has(storeId) && this.byStore.size >= PEER_STORES_MAX) return;
    this.byStore.set(storeId, level);
  }

  /** The last level `storeId` reported; normal if it never said otherwise. */
  usageOf(storeId: number): DiskUsage {
    return this.byStore.get(storeId) ?? 'normal';
  }
}

export function diskUsageFromProto(usage: metapb.DiskUsage): DiskUsage {
  switch (usage) {
    case metapb.DiskUsage.ALMOST_FULL:
      return 'almostFull';
    case metapb.DiskUsage.ALREADY_FULL:
      return 'alreadyFull';
    default:
      // NORMAL, and values of a newer sender this build does not know.
      return 'normal';
  }
}
