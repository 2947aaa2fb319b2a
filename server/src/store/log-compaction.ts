// When to compact a region's Raft log, and how far. Compaction is local to each peer and
// needs no copy of the data: the engine IS the state machine, so everything up to the
// applied index is already "the snapshot" (made on demand from an engine view when a
// follower needs one, see snapshot-generator.ts). A peer compacts, inside the store round's
// batch, once it has applied snapshotIntervalEntries entries since its last compaction or
// its retained log exceeds raftLogSizeBytesMax; it keeps compactionKeepEntries entries
// below the applied index for followers slightly behind. A leader also keeps what its
// recently active followers still need (their match index), unless the log is over the
// byte bound: a follower that is alive but slow gets entries, not a snapshot, until then.
import type { PeerProgressStatus } from '@flotilla/raft';
import type { StoreConfig } from './store-config.js';

export interface CompactionInput {
  readonly appliedIndex: number;
  readonly truncatedIndex: number;
  /** Applied index when the peer last compacted (or started). */
  readonly appliedAtLastCompaction: number;
  readonly retainedLogSizeBytes: number;
  /** The leader's view of its followers (empty on a follower); asked only when compaction is due. */
  readonly progress: () => readonly PeerProgressStatus[];
  readonly selfId: number;
}

type CompactionConfig = Pick<
  StoreConfig,
  'snapshotIntervalEntries' | 'raftLogSizeBytesMax' | 'compactionKeepEntries'
>;

/** The index to compact the log to (inclusive), or undefined when nothing should be compacted. */
export function compactionIndex(input: CompactionInput, config: CompactionConfig): number | undefined {
  const overSize = input.retainedLogSizeBytes > config.raftLogSizeBytesMax;
  const due = input.appliedIndex - input.appliedAtLastCompaction >= config.snapshotIntervalEntries;
  if (!due && !overSize) return undefined;
  let target = input.appliedIndex - config.compactionKeepEntries;
  if (!overSize) {
    for (const p of input.progress()) {
      if (p.id !== input.selfId && p.recentActive) target = Math.min(target, p.match);
    }
  }
  if (target <= input.truncatedIndex) return undefined;
  if (target > input.appliedIndex)
    throw new Error(`compaction to ${target} beyond applied ${input.appliedIndex}`);
  return target;
}
