// An in-memory Storage for tests and the simulator. Like etcd's MemoryStorage it keeps a
// dummy entry at position 0 that stands for the last compacted entry (the snapshot point),
// so term(firstIndex - 1) is always answerable.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { NONE } from './types.js';
import type { InitialState, Storage } from './storage.js';
import { StorageError } from './storage.js';
import { limitSize } from './entry-size.js';
import { assert } from './invariants.js';

const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

function copyConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) };
}

export class MemoryStorage implements Storage {
  private hardState: HardState;
  private snap: Snapshot;
  /** ents[0] is the dummy entry at the snapshot point; ents[i].index === ents[0].index + i. */
  private ents: Entry[];

  constructor(initial?: { confState?: ConfState; hardState?: HardState }) {
    this.hardState = initial?.hardState ?? { term: 0, vote: NONE, commit: 0 };
    const confState = copyConfState(initial?.confState ?? EMPTY_CONF_STATE);
    this.snap = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
    this.ents = [dummyEntry(0, 0)];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: copyConfState(this.snap.metadata.confState) };
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    assert(lo <= hi, () => `entries: lo ${lo} > hi ${hi}`);
    const offset = this.offset();
    if (lo <= offset)
      throw new StorageError('compacted', `entries: index ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new StorageError('unavailable', `entries: hi ${hi} is past last index ${this.lastIndex()}`);
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset)
      throw new StorageError('compacted', `term: index ${i} is compacted (first ${offset + 1})`);
    const entry = this.ents[i - offset];
    if (entry === undefined) throw new StorageError('unavailable', `term: index ${i} is past the last index`);
    return entry.term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** Appends entries, replacing any existing suffix they conflict with. Entries must follow on from the log. */
  append(entries: readonly Entry[]): void {
    const head = entries[0];
    if (head === undefined) return;
    const first = this.firstIndex();
    const last = head.index + entries.length - 1;
    if (last < first) return; // everything is already compacted
    const fresh = first > head.index ? entries.slice(first - head.index) : entries;
    const at = (fresh[0] as Entry).index - this.offset();
    assert(
      at <= this.ents.length,
      () => `append: missing log entries (last ${this.lastIndex()}, appended ${at + this.offset()})`,
    );
    // In place (no copy of the whole log): cut off a conflicting suffix, then append.
    this.ents.length = at;
    for (const entry of fresh) this.ents.push(entry);
  }

  /** Replaces the whole log with the snapshot. Throws 'compacted' if it is older than the current one. */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) {
      throw new StorageError('compacted', `applySnapshot: snapshot ${snap.metadata.index} is out of date`);
    }
    this.snap = snap;
    this.ents = [dummyEntry(snap.metadata.index, snap.metadata.term)];
  }

  /** Records a snapshot of the state machine at `index` (which must be in the log) and returns it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new StorageError('compacted', `createSnapshot: index ${index} is at or below the last snapshot`);
    }
    assert(
      index <= this.lastIndex(),
      () => `createSnapshot: index ${index} is past the last index ${this.lastIndex()}`,
    );
    const term = this.term(index);
    this.snap = { metadata: { index, term, confState: copyConfState(confState) }, data };
    return this.snap;
  }

  /** Discards entries up to and including `index`; `index` must be in the log. */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) throw new StorageError('compacted', `compact: index ${index} is already compacted`);
    assert(
      index <= this.lastIndex(),
      () => `compact: index ${index} is past the last index ${this.lastIndex()}`,
    );
    const term = this.term(index);
    this.ents = [dummyEntry(index, term)].concat(this.ents.slice(index - offset + 1));
  }

  /** A deep copy of the storage (the simulator models a crash by keeping only what was persisted). */
  clone(): MemoryStorage {
    const copy = new MemoryStorage();
    copy.hardState = { ...this.hardState };
    copy.snap = {
      metadata: { ...this.snap.metadata, confState: copyConfState(this.snap.metadata.confState) },
      data: this.snap.data.slice(),
    };
    copy.ents = this.ents.map((e) => ({ ...e, data: e.data.slice() }));
    return copy;
  }
}
