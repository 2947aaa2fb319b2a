// The node's view of the Raft log: stable storage (read-only to the core) followed by the
// unstable tail, with the commit and apply cursors.
// Invariant: applied <= applying <= committed <= lastIndex; committed never decreases.
import type { Entry, Snapshot } from './types.js';
import type { Storage } from './storage.js';
import { StorageError } from './storage.js';
import { UnstableLog } from './unstable-log.js';
import { limitSize } from './entry-size.js';
import { assert } from './invariants.js';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: UnstableLog;
  /** Highest index known to be committed on a quorum. */
  committed: number;
  /** Highest index handed out to the application for applying. */
  applying: number;
  /** Highest index the application has applied. */
  applied: number;
  private readonly maxApplyingSizeBytes: number;

  constructor(storage: Storage, maxApplyingSizeBytes: number) {
    this.storage = storage;
    this.maxApplyingSizeBytes = maxApplyingSizeBytes;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new UnstableLog(lastIndex + 1);
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i, or undefined when it is not in the log (no exception: this is on hot paths). */
  maybeTerm(i: number): number | undefined {
    const unstableTerm = this.unstable.maybeTerm(i);
    if (unstableTerm !== undefined) return unstableTerm;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.storage.term(i);
  }

  /** Term of entry i; throws StorageError 'compacted' or 'unavailable' when it is not in the log. */
  term(i: number): number {
    const term = this.maybeTerm(i);
    if (term !== undefined) return term;
    if (i < this.firstIndex() - 1) throw new StorageError('compacted', `term: index ${i} is compacted`);
    throw new StorageError('unavailable', `term: index ${i} is past the last index`);
  }

  /** Term of entry i, or 0 when it is not in the log. */
  termOrZero(i: number): number {
    return this.maybeTerm(i) ?? 0;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    return this.maybeTerm(i) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A follower's append: if the entry before `ents` matches, append what is new (truncating
   * a conflicting suffix) and advance commit. Returns the last index covered, or null.
   */
  maybeAppend(prevIndex: number, prevTerm: number, committed: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    assert(
      ents[0] === undefined || ents[0].index === prevIndex + 1,
      () => `log matching: appended entries start at ${ents[0]?.index}, not after ${prevIndex}`,
    );
    const lastNewIndex = prevIndex + ents.length;
    const conflictIndex = this.findConflict(ents);
    if (conflictIndex !== 0) {
      assert(
        conflictIndex > this.committed,
        () => `entry ${conflictIndex} conflicts with a committed entry (committed ${this.committed})`,
      );
      this.append(ents.slice(conflictIndex - (prevIndex + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** Appends entries that follow on (or overwrite an uncommitted suffix); returns the last index. */
  append(ents: readonly Entry[]): number {
    const head = ents[0];
    if (head === undefined) return this.lastIndex();
    assert(
      head.index - 1 >= this.committed,
      () => `append after ${head.index - 1} would truncate committed ${this.committed}`,
    );
    assert(
      head.index <= this.lastIndex() + 1,
      () => `append at ${head.index} leaves a gap after ${this.lastIndex()}`,
    );
    assert(
      head.term >= this.termOrZero(head.index - 1),
      () => `log matching: entry ${head.index} has a lower term than its predecessor`,
    );
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Index of the first entry whose term differs from ours (or that we lack); 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const entry of ents) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term. The leader uses it
   * to skip a whole term of mismatching entries per round trip (fast backtracking).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const t = this.maybeTerm(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return; // commit never decreases
    assert(
      index <= this.lastIndex(),
      () => `commit ${index} is past the last index ${this.lastIndex()}: log corrupted, truncated or lost?`,
    );
    this.committed = index;
  }

  /** Leader: commit `index` if it is of the current term (§5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, () => `applied ${index} is past committed ${this.committed}`);
    assert(index >= this.applied, () => `applied goes back from ${this.applied} to ${index}`);
    this.applied = index;
    this.applying = Math.max(this.applying, index);
  }

  acceptApplying(index: number): void {
    assert(index <= this.committed, () => `applying ${index} is past committed ${this.committed}`);
    this.applying = Math.max(this.applying, index);
  }

  /** Last index durably stored: committed entries beyond it are not handed out. */
  private lastStableIndex(): number {
    return Math.min(this.lastIndex(), this.unstable.offset - 1);
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== null) return false; // install the snapshot first
    return Math.min(this.committed, this.lastStableIndex()) > this.applying;
  }

  /** Committed, persisted entries not yet handed out, within maxCommittedSizePerReadyBytes. */
  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const hi = Math.min(this.committed, this.lastStableIndex()) + 1;
    return this.slice(lo, hi, this.maxApplyingSizeBytes);
  }

  /** Entries from `lo` to the end, within maxSizeBytes (at least one). */
  entriesFrom(lo: number, maxSizeBytes: number): Entry[] {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxSizeBytes);
  }

  /** Entries [lo, hi) from storage then the unstable tail; throws StorageError 'compacted' below firstIndex. */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new StorageError('compacted', `slice: index ${lo} is compacted`);
    assert(
      hi <= this.lastIndex() + 1,
      () => `slice [${lo}, ${hi}) is past the last index ${this.lastIndex()}`,
    );
    const offset = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < offset) {
      ents = this.storage.entries(lo, Math.min(hi, offset), maxSizeBytes);
      if (ents.length < Math.min(hi, offset) - lo) return ents; // size limit reached in storage
    }
    if (hi > offset) ents = ents.concat(this.unstable.slice(Math.max(lo, offset), hi));
    return limitSize(ents, maxSizeBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log with a snapshot (follower install). */
  restore(snap: Snapshot): void {
    this.committed = snap.metadata.index;
    this.unstable.restore(snap);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** After the snapshot is installed the state machine is at its index. */
  appliedSnapshot(index: number): void {
    this.applied = Math.max(this.applied, index);
    this.applying = Math.max(this.applying, index);
  }
}
