// The tail of the log that is not yet on stable storage: entries the caller has not
// persisted and possibly a snapshot to install. Entries before `offsetInProgress` have
// been handed out in a Ready and are being persisted; the rest are new.
import type { Entry, Snapshot } from './types.js';
import { assert } from './invariants.js';

export class UnstableLog {
  snapshot: Snapshot | null = null;
  /** entries[i].index === offset + i. */
  entries: Entry[] = [];
  offset: number;
  /** Entries with index < offsetInProgress were handed out by ready() and wait for advance(). */
  offsetInProgress: number;
  snapshotInProgress = false;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** First index, only known when a snapshot is pending. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      const snap = this.snapshot;
      return snap !== null && snap.metadata.index === i ? snap.metadata.term : undefined;
    }
    return this.entries[i - this.offset]?.term;
  }

  /** Entries not yet handed out for persisting. */
  nextEntries(): Entry[] {
    const start = this.offsetInProgress - this.offset;
    return start >= this.entries.length ? [] : this.entries.slice(start);
  }

  nextSnapshot(): Snapshot | null {
    return this.snapshotInProgress ? null : this.snapshot;
  }

  /** Marks everything currently unstable as handed out (being persisted). */
  acceptInProgress(): void {
    this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot !== null) this.snapshotInProgress = true;
  }

  /** Entries up to (index, term) are persisted: drop them from the unstable tail. */
  stableTo(index: number, term: number): void {
    if (this.maybeTerm(index) !== term || index < this.offset) return; // replaced meanwhile
    const count = index + 1 - this.offset;
    this.entries = this.entries.slice(count);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(snap: Snapshot): void {
    this.offset = snap.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = snap;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const head = ents[0];
    if (head === undefined) return;
    const from = head.index;
    if (from <= this.offset) {
      // The whole unstable tail is replaced (and possibly part of the stable log).
      this.offset = from;
      this.entries = [...ents];
    } else {
      // In place (callers only ever get copies): cut a conflicting suffix, then append.
      this.entries.length = Math.min(this.entries.length, from - this.offset);
      for (const entry of ents) this.entries.push(entry);
    }
    this.offsetInProgress = Math.min(this.offsetInProgress, from);
    this.assertContiguous(from);
  }

  /** Entries [lo, hi) that are in the unstable tail. */
  slice(lo: number, hi: number): Entry[] {
    assert(
      lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi,
      () => `unstable slice [${lo}, ${hi}) out of bounds`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Checks the appended run and the seam where it joins the kept entries. */
  private assertContiguous(from: number): void {
    assert(
      this.entries[0] === undefined || this.entries[0].index === this.offset,
      'unstable offset mismatch',
    );
    let prev: Entry | undefined = this.entries[from - this.offset - 1];
    for (let i = Math.max(0, from - this.offset); i < this.entries.length; i++) {
      const entry = this.entries[i] as Entry;
      if (prev !== undefined) {
        assert(
          entry.index === prev.index + 1,
          () => `log matching: unstable entries not contiguous at ${entry.index}`,
        );
        assert(entry.term >= prev.term, () => `log matching: entry terms decrease at index ${entry.index}`);
      }
      prev = entry;
    }
  }
}
