// When a region compacts its log and how far: every snapshotIntervalEntries applied entries
// (or past the byte bound), keeping compactionKeepEntries, and on a leader never past what a
// recently active follower still needs unless the log is over the byte bound.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerProgressStatus } from '@flotilla/raft';
import type { CompactionInput } from '../../src/store/log-compaction.js';
import { compactionIndex } from '../../src/store/log-compaction.js';

const config = { snapshotIntervalEntries: 100, compactionKeepEntries: 10, raftLogSizeBytesMax: 1_000_000 };

function follower(id: number, match: number, recentActive: boolean): PeerProgressStatus {
  return {
    id,
    match,
    next: match + 1,
    state: 'replicate',
    recentActive,
    isLearner: false,
    pendingSnapshot: 0,
    inflightCount: 0,
  };
}

function input(overrides: Partial<CompactionInput>): CompactionInput {
  return {
    appliedIndex: 150,
    truncatedIndex: 0,
    appliedAtLastCompaction: 0,
    retainedLogSizeBytes: 1000,
    progress: () => [],
    selfId: 1,
    ...overrides,
  };
}

describe('log compaction decision', () => {
  it('waits until snapshotIntervalEntries entries were applied since the last compaction', () => {
    assert.equal(compactionIndex(input({ appliedIndex: 99 }), config), undefined);
    assert.equal(compactionIndex(input({ appliedIndex: 100 }), config), 90);
    assert.equal(
      compactionIndex(input({ appliedIndex: 180, appliedAtLastCompaction: 90, truncatedIndex: 80 }), config),
      undefined,
    );
  });

  it('compacts early when the retained log is over the byte bound', () => {
    assert.equal(compactionIndex(input({ appliedIndex: 50, retainedLogSizeBytes: 1_000_001 }), config), 40);
  });

  it('on a leader keeps what a recently active follower still needs, not what an inactive one needs', () => {
    const progress = (): PeerProgressStatus[] => [
      follower(1, 150, true),
      follower(2, 120, true),
      follower(3, 5, false),
    ];
    assert.equal(compactionIndex(input({ progress }), config), 120);
    const slow = (): PeerProgressStatus[] => [follower(2, 3, true)];
    assert.equal(compactionIndex(input({ progress: slow, truncatedIndex: 3 }), config), undefined);
    assert.equal(compactionIndex(input({ progress: slow, retainedLogSizeBytes: 2_000_000 }), config), 140);
  });
});
