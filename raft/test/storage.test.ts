// Unit tests of MemoryStorage and of the core's log (stable storage + unstable tail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, StorageError, RaftInvariantError } from '../src/index.js';
import type { Entry } from '../src/index.js';
import { RaftLog } from '../src/raft-log.js';
import { UnstableLog } from '../src/unstable-log.js';
import { confState } from './helpers/network.js';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    index: from + i,
    term,
    type: 'normal' as const,
    data: new Uint8Array(0),
  }));
}

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StorageError, String(err));
    return err.kind;
  }
  return 'none';
}

test('MemoryStorage: append, term, entries and their bounds', () => {
  const s = new MemoryStorage({ confState: confState([1]) });
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 0);
  s.append(ents(1, [1, 1, 2]));
  assert.equal(s.lastIndex(), 3);
  assert.equal(s.term(0), 0);
  assert.equal(s.term(3), 2);
  assert.equal(
    kindOf(() => s.term(4)),
    'unavailable',
  );
  assert.equal(
    kindOf(() => s.entries(2, 5, 1000)),
    'unavailable',
  );
  assert.equal(
    kindOf(() => s.entries(0, 2, 1000)),
    'compacted',
  );
  assert.deepEqual(
    s.entries(1, 4, 1000).map((e) => e.index),
    [1, 2, 3],
  );
  // The size cap still returns at least one entry.
  assert.equal(s.entries(1, 4, 1).length, 1);
  // A conflicting suffix is replaced.
  s.append(ents(2, [3]));
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 3);
  s.append([]);
  assert.throws(() => s.append(ents(5, [3])), RaftInvariantError);
  assert.equal(s.initialState().confState.voters[0], 1);
});

test('MemoryStorage: compact, snapshot, applySnapshot and clone', () => {
  const s = new MemoryStorage({ confState: confState([1, 2]) });
  s.append(ents(1, [1, 1, 1, 2, 2]));
  const snap = s.createSnapshot(3, confState([1, 2]), new Uint8Array([7]));
  assert.equal(snap.metadata.term, 1);
  assert.equal(
    kindOf(() => s.createSnapshot(2, confState([1]), new Uint8Array())),
    'compacted',
  );
  assert.throws(() => s.createSnapshot(9, confState([1]), new Uint8Array()), RaftInvariantError);
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 1);
  assert.equal(
    kindOf(() => s.term(2)),
    'compacted',
  );
  assert.equal(
    kindOf(() => s.compact(2)),
    'compacted',
  );
  assert.throws(() => s.compact(9), RaftInvariantError);
  // Appending entries that are partly compacted keeps only the new part.
  s.append(ents(2, [1, 1, 2, 2, 3]));
  assert.equal(s.lastIndex(), 6);
  s.append(ents(1, [1, 1]));
  assert.equal(s.lastIndex(), 6);
  const copy = s.clone();
  s.setHardState({ term: 9, vote: 1, commit: 4 });
  s.applySnapshot({
    metadata: { index: 10, term: 4, confState: confState([1, 2, 3]) },
    data: new Uint8Array(),
  });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.initialState().hardState.term, 9);
  assert.equal(
    kindOf(() => s.applySnapshot(snap)),
    'compacted',
  );
  // The clone is unaffected.
  assert.equal(copy.lastIndex(), 6);
  assert.equal(copy.initialState().hardState.term, 0);
  assert.equal(copy.snapshot().metadata.index, 3);
});

test('UnstableLog: truncateAndAppend, stableTo and in-progress marks', () => {
  const u = new UnstableLog(5);
  assert.equal(u.maybeLastIndex(), undefined);
  u.truncateAndAppend(ents(5, [1, 1, 1]));
  assert.equal(u.maybeLastIndex(), 7);
  u.acceptInProgress();
  assert.deepEqual(u.nextEntries(), []);
  u.truncateAndAppend(ents(6, [2])); // replaces 6..7, which are handed out again
  assert.deepEqual(
    u.nextEntries().map((e) => e.index),
    [6],
  );
  u.truncateAndAppend(ents(3, [2, 2])); // before the offset: the whole tail is replaced
  assert.equal(u.offset, 3);
  u.stableTo(4, 9); // wrong term: ignored
  assert.equal(u.offset, 3);
  u.stableTo(3, 2);
  assert.equal(u.offset, 4);
  assert.throws(() => u.truncateAndAppend(ents(5, [1])), RaftInvariantError); // term decreases
  const snapLog = new UnstableLog(1);
  snapLog.restore({ metadata: { index: 9, term: 3, confState: confState([1]) }, data: new Uint8Array() });
  assert.equal(snapLog.maybeFirstIndex(), 10);
  assert.equal(snapLog.maybeTerm(9), 3);
  assert.equal(snapLog.maybeTerm(8), undefined);
  assert.notEqual(snapLog.nextSnapshot(), null);
  snapLog.acceptInProgress();
  assert.equal(snapLog.nextSnapshot(), null);
  snapLog.stableSnapTo(9);
  assert.equal(snapLog.snapshot, null);
});

test('RaftLog: maybeAppend truncates conflicts but never committed entries', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2]));
  const log = new RaftLog(s, 1 << 20);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.maybeAppend(3, 2, 2, ents(4, [3, 3])), 5);
  assert.equal(log.committed, 2);
  assert.equal(log.maybeAppend(3, 9, 5, ents(4, [3])), null); // prev term mismatch
  // §5.3: "If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it"
  assert.equal(log.maybeAppend(3, 2, 3, ents(4, [4])), 4);
  assert.equal(log.lastIndex(), 4);
  assert.equal(log.term(4), 4);
  assert.throws(() => log.maybeAppend(1, 1, 3, ents(2, [5])), RaftInvariantError);
  assert.throws(() => log.commitTo(9), RaftInvariantError);
  assert.equal(log.findConflictByTerm(4, 3).index, 3);
  assert.equal(log.findConflictByTerm(4, 1).index, 2);
  assert.deepEqual(log.findConflictByTerm(4, 0), { index: 0, term: 0 });
  assert.equal(log.isUpToDate(4, 4), true);
  assert.equal(log.isUpToDate(9, 3), false);
  assert.equal(log.matchTerm(99, 1), false);
});

test('RaftLog: committed entries are handed out only once persisted, within the size cap', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1]));
  const log = new RaftLog(s, 40);
  log.append(ents(3, [1, 1]));
  log.commitTo(4);
  // Entries 3..4 are still unstable: only 1..2 may be applied.
  assert.equal(log.hasNextCommittedEntries(), true);
  const first = log.nextCommittedEntries();
  assert.deepEqual(
    first.map((e) => e.index),
    [1, 2],
  );
  log.acceptApplying(2);
  assert.equal(log.hasNextCommittedEntries(), false);
  s.append(log.unstable.nextEntries());
  log.stableTo(4, 1);
  assert.deepEqual(
    log.nextCommittedEntries().map((e) => e.index),
    [3, 4],
  );
  log.appliedTo(4);
  assert.throws(() => log.appliedTo(3), RaftInvariantError);
  assert.throws(() => log.appliedTo(5), RaftInvariantError);
  assert.equal(log.slice(2, 2, 10).length, 0);
  assert.equal(log.entriesFrom(5, 10).length, 0);
  s.compact(2);
  assert.equal(
    kindOf(() => log.slice(1, 3, 100)),
    'compacted',
  );
  assert.equal(
    kindOf(() => log.term(0)),
    'compacted',
  );
  assert.equal(log.termOrZero(0), 0);
  assert.throws(() => log.append(ents(2, [1])), RaftInvariantError); // would truncate committed
});
