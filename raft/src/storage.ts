// The narrow, read-only view of the persisted log that the core reads. The caller owns
// writing (it appends Ready.entries, applies snapshots, compacts); the core only asks.
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** Why the storage could not answer; thrown as StorageError. */
export type StorageErrorKind =
  /** The requested index is at or below the compaction point: use the snapshot. */
  | 'compacted'
  /** The requested index is past the last index. */
  | 'unavailable'
  /** A snapshot is being generated; ask again later. */
  | 'snapshotTemporarilyUnavailable';

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  constructor(kind: StorageErrorKind, message: string) {
    super(message);
    this.name = 'StorageError';
    this.kind = kind;
  }
}

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface Storage {
  /** The persisted hard state and membership the node restarts from. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at most `maxSizeBytes` in total but always at least one when any
   * exists. Throws StorageError 'compacted' if lo <= the compacted index, 'unavailable' if hi > lastIndex()+1.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /** Term of entry i; valid for i in [firstIndex()-1, lastIndex()]. Throws 'compacted'/'unavailable' outside. */
  term(i: number): number;
  /** Index of the first entry still in the log (compacted index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. Throws 'snapshotTemporarilyUnavailable' while one is being made. */
  snapshot(): Snapshot;
}
