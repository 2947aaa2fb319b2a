// What a store does and refuses while its disk is (almost) full (storage/disk-space.ts has
// the levels). Pure rules, so each is tested on its own:
//   - almostFull or alreadyFull: a proposal that adds data (a put, a compare-and-swap that
//     stores a value) is refused with DiskFull; deletes, delete-ranges, expiry sweeps, read
//     barriers and admin commands (splits, merges, log compaction, membership changes that
//     move data away) still go through. Reads never touch this.
//   - alreadyFull: the store also drops its leaders' appends that carry entries, unread: it
//     cannot persist them, so it must not ack them, and the leader resends once the store
//     answers again. Heartbeats and votes still flow, so it neither exits nor disrupts.
import type { Message } from '@flotilla/raft';
import type { raftpb } from '@flotilla/proto';
import type { DiskUsage } from '../../storage/disk-space.js';
import type { RegionError } from '../region-error.js';
import { decodeCommand } from '../command-apply.js';

/** The disk as the store loop sees it (storage/disk-space.ts DiskSpace in production). */
export interface StoreDisk {
  readonly usage: DiskUsage;
  /** For error messages: available, capacity, reserve. */
  describe(): string;
  /** A write failed with ENOSPC: alreadyFull from now until statfs shows room again. */
  noteNoSpace(): Promise<void>;
  /** Reads statfs again. */
  refresh(): Promise<void>;
}

/** Whether an encoded command may be proposed on a disk at `usage`. */
export function commandAllowedOn(usage: DiskUsage, command: raftpb.RaftCommand): boolean {
  if (usage === 'normal') return true;
  const body = command.command;
  if (body === undefined) return true;
  switch (body.$case) {
    case 'write':
      return body.write.ops.every((op) => op.op?.$case !== 'put');
    case 'compareAndSwap':
      return body.compareAndSwap.update?.$case === 'delete';
    case 'readBarrier':
    case 'split':
    case 'compactLog':
    case 'changePeer':
    case 'prepareMerge':
    case 'commitMerge':
    case 'rollbackMerge':
      return true;
    default: {
      const unknown: never = body;
      throw new Error(`unexpected command ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * DiskFull for a proposal that adds data when this store's disk is not normal, or when
 * fewer than a quorum of the region's voters sit on stores with room (`peerUsage`: what
 * their frames said); undefined otherwise. Decodes the command only when some disk is full.
 */
export function diskFullRefusal(
  disk: StoreDisk | undefined,
  peerUsage: (storeId: number) => DiskUsage,
  voterStoreIds: readonly number[],
  data: Uint8Array,
  storeId: number,
): RegionError | undefined {
  const selfUsage = disk?.usage ?? 'normal';
  const full = voterStoreIds.filter((id) => (id === storeId ? selfUsage : peerUsage(id)) !== 'normal');
  if (full.length === 0) return undefined;
  const quorum = Math.floor(voterStoreIds.length / 2) + 1;
  const selfFull = selfUsage !== 'normal';
  if (!selfFull && voterStoreIds.length - full.length >= quorum) return undefined;
  const worst = selfFull ? selfUsage : 'almostFull';
  if (commandAllowedOn(worst, decodeCommand(data))) return undefined;
  const ordered = selfFull ? [storeId, ...full.filter((id) => id !== storeId)] : full;
  const reason = selfFull
    ? `${selfUsage}: ${disk?.describe() ?? ''}`
    : `${full.length} of ${voterStoreIds.length} voters' stores are (almost) full: no quorum can persist new data`;
  return { kind: 'diskFull', storeIds: ordered, reason };
}

/** Whether an inbound Raft message is dropped because the disk cannot persist it. */
export function dropsOnFullDisk(disk: StoreDisk | undefined, message: Message): boolean {
  if (disk === undefined || disk.usage !== 'alreadyFull') return false;
  return message.type === 'app' && message.entries.length > 0;
}
