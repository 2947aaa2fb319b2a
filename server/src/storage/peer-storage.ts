// The Raft log of one region peer, kept in the store's engine: the core reads it through
// the narrow Storage interface; the store loop writes it by adding operations to the
// round's single WriteBatch (append, hard state, compaction, snapshot install).
//
// In-memory state (last index, apply state, entry cache) is updated when the operations
// are added to the batch, before the batch is written. That is safe because the store loop
// is strictly sequential: it awaits the round's write before it steps, sends or advances
// any Raft node again, so nothing reads these entries before they are durable; a failed
// write is fatal for the store process.
import type {
  ConfState,
  Entry,
  HardState,
  Snapshot,
  SnapshotMetadata,
  Storage,
  InitialState,
} from '@flotilla/raft';
import { NONE, StorageError } from '@flotilla/raft';
import type { Engine, WriteBatch } from './engine.js';
import { applyStateKey, raftHardStateKey, raftLogIndexOf, raftLogKey, raftLogRange } from './keys.js';
import type { ApplyState } from './raft-state-codec.js';
import {
  decodeApplyState,
  decodeEntry,
  decodeHardState,
  encodeApplyState,
  encodeEntry,
  encodeHardState,
} from './raft-state-codec.js';
import { EntryCache } from './entry-cache.js';
import { verifyRetainedLog } from './log-verification.js';

export interface PeerStorageOptions {
  readonly regionId: number;
  readonly engine: Engine;
  /** Membership the region's peer starts with (from the region's local state). */
  readonly confState: ConfState;
  /** Bytes of recent entries kept in memory for followers that are close behind. */
  readonly entryCacheBytesMax: number;
  /**
   * Asked when the core needs a snapshot (a follower needs compacted entries). The store
   * generates one in the background and hands it over with setGeneratedSnapshot.
   */
  readonly requestSnapshot: (regionId: number) => void;
}

/** The state a brand-new region starts with: log empty, nothing applied. */
export const INITIAL_APPLY_STATE: ApplyState = { appliedIndex: 0, truncatedIndex: 0, truncatedTerm: 0 };

export class PeerStorage implements Storage {
  private lastIndexValue: number;
  private generated: Snapshot | null = null;
  /** Index of the last applied conf change or split (0 until one is applied in this process). */
  private regionChangedIndex = 0;
  /** Approximate bytes of the retained log (exact for what this process appended, estimated for the rest). */
  private logSizeBytes = 0;

  private constructor(
    private readonly options: PeerStorageOptions,
    private hardState: HardState,
    private applyState: ApplyState,
    lastIndex: number,
    private confState: ConfState,
    private readonly cache: EntryCache,
  ) {
    this.lastIndexValue = lastIndex;
  }

  /** Loads a region's Raft state from the engine (or the initial state if it has none). */
  static async load(options: PeerStorageOptions): Promise<PeerStorage> {
    const { engine, regionId } = options;
    const hsBytes = engine.getSync(raftHardStateKey(regionId));
    const hardState = hsBytes ? decodeHardState(hsBytes) : { term: 0, vote: NONE, commit: 0 };
    const asBytes = engine.getSync(applyStateKey(regionId));
    const applyState = asBytes ? decodeApplyState(asBytes) : INITIAL_APPLY_STATE;
    const lastLog = await engine.scan(raftLogRange(regionId, 0, Number.MAX_SAFE_INTEGER), {
      limit: 1,
      reverse: true,
      keysOnly: true,
    });
    const lastIndex = lastLog[0] ? raftLogIndexOf(lastLog[0].key) : applyState.truncatedIndex;
    if (lastIndex < applyState.truncatedIndex) {
      throw new Error(
        `region ${regionId}: last log index ${lastIndex} is below the truncated index ${applyState.truncatedIndex}`,
      );
    }
    await verifyRetainedLog(engine, {
      regionId,
      truncatedIndex: applyState.truncatedIndex,
      truncatedTerm: applyState.truncatedTerm,
      lastIndex,
    });
    if (hardState.commit > lastIndex) {
      throw new Error(
        `region ${regionId}: committed index ${hardState.commit} is past the last log index ${lastIndex}`,
      );
    }
    return new PeerStorage(
      options,
      hardState,
      applyState,
      lastIndex,
      options.confState,
      new EntryCache(options.entryCacheBytesMax),
    );
  }

  /**
   * The storage of a peer created by a message for a region this store never held: an
   * empty log at index 0 (only a snapshot can initialize it) and whatever hard state an
   * earlier uninitialized peer of the region persisted (it may have voted). Synchronous:
   * nothing but the hard state can exist for a region without a local state.
   */
  static createUninitialized(options: PeerStorageOptions): PeerStorage {
    const { engine, regionId } = options;
    if (engine.getSync(applyStateKey(regionId)) !== undefined)
      throw new Error(`region ${regionId}: an apply state exists for a region without a local state`);
    const hsBytes = engine.getSync(raftHardStateKey(regionId));
    const hs = hsBytes ? decodeHardState(hsBytes) : { term: 0, vote: NONE, commit: 0 };
    // No log: a commit above 0 cannot hold (it would point past the last index).
    const hardState = { ...hs, commit: 0 };
    return new PeerStorage(
      options,
      hardState,
      INITIAL_APPLY_STATE,
      0,
      options.confState,
      new EntryCache(options.entryCacheBytesMax),
    );
  }

  /** The hard state as last put into a batch (or loaded). */
  get currentHardState(): HardState {
    return this.hardState;
  }

  // ---- Storage (read by the core) ----

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  firstIndex(): number {
    return this.applyState.truncatedIndex + 1;
  }

  lastIndex(): number {
    return this.lastIndexValue;
  }

  term(i: number): number {
    if (i === this.applyState.truncatedIndex) return this.applyState.truncatedTerm;
    if (i < this.applyState.truncatedIndex) {
      throw new StorageError('compacted', `region ${this.options.regionId}: index ${i} is compacted`);
    }
    if (i > this.lastIndexValue) {
      throw new StorageError(
        'unavailable',
        `region ${this.options.regionId}: index ${i} is past the last index`,
      );
    }
    return (this.cache.get(i) ?? this.readEntry(i)).term;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo <= this.applyState.truncatedIndex) {
      throw new StorageError('compacted', `region ${this.options.regionId}: index ${lo} is compacted`);
    }
    if (hi > this.lastIndexValue + 1) {
      throw new StorageError(
        'unavailable',
        `region ${this.options.regionId}: index ${hi - 1} is past the last index`,
      );
    }
    const out: Entry[] = [];
    let sizeBytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.cache.get(i) ?? this.readEntry(i);
      sizeBytes += entry.data.length + 16;
      if (out.length > 0 && sizeBytes > maxSizeBytes) break;
      out.push(entry);
    }
    return out;
  }

  snapshot(): Snapshot {
    const snap = this.generated;
    if (snap !== null && snap.metadata.index >= this.snapshotFloorIndex) return snap;
    this.options.requestSnapshot(this.options.regionId);
    throw new StorageError(
      'snapshotTemporarilyUnavailable',
      `region ${this.options.regionId}: generating a snapshot`,
    );
  }

  // ---- writes (added to the round's batch by the store loop) ----

  /** Appends entries, replacing any conflicting suffix. */
  append(batch: WriteBatch, entries: readonly Entry[]): void {
    const head = entries[0];
    if (head === undefined) return;
    if (head.index <= this.applyState.truncatedIndex) {
      throw new Error(
        `region ${this.options.regionId}: append at ${head.index} overwrites compacted entries`,
      );
    }
    if (head.index > this.lastIndexValue + 1) {
      throw new Error(
        `region ${this.options.regionId}: append at ${head.index} leaves a gap after ${this.lastIndexValue}`,
      );
    }
    // A replaced suffix leaves the log: drop its share of the size first (estimated).
    const replacedCount = this.lastIndexValue - head.index + 1;
    if (replacedCount > 0) this.dropLogSize(replacedCount);
    for (const entry of entries) {
      const encoded = encodeEntry(entry);
      batch.put(raftLogKey(this.options.regionId, entry.index), encoded);
      this.logSizeBytes += encoded.length;
    }
    const newLast = head.index + entries.length - 1;
    for (let i = newLast + 1; i <= this.lastIndexValue; i++)
      batch.delete(raftLogKey(this.options.regionId, i));
    this.cache.append(entries);
    this.lastIndexValue = newLast;
  }

  setHardState(batch: WriteBatch, hs: HardState): void {
    batch.put(raftHardStateKey(this.options.regionId), encodeHardState(hs));
    this.hardState = hs;
  }

  /** Records the applied index in the same batch as the applied data (exactly-once apply). */
  setApplied(batch: WriteBatch, appliedIndex: number): void {
    if (appliedIndex < this.applyState.appliedIndex) {
      throw new Error(
        `region ${this.options.regionId}: applied index going back ${this.applyState.appliedIndex} -> ${appliedIndex}`,
      );
    }
    this.writeApplyState(batch, { ...this.applyState, appliedIndex });
  }

  /** Discards log entries up to and including `index`, which must be applied. */
  compact(batch: WriteBatch, index: number): void {
    if (index <= this.applyState.truncatedIndex) return;
    if (index > this.applyState.appliedIndex) {
      throw new Error(
        `region ${this.options.regionId}: compact to ${index} beyond applied ${this.applyState.appliedIndex}`,
      );
    }
    const term = this.term(index);
    for (let i = this.applyState.truncatedIndex + 1; i <= index; i++)
      batch.delete(raftLogKey(this.options.regionId, i));
    this.cache.compactTo(index);
    this.dropLogSize(index - this.applyState.truncatedIndex);
    this.writeApplyState(batch, { ...this.applyState, truncatedIndex: index, truncatedTerm: term });
  }

  /** Resets the log to a received snapshot's point (the caller installs the data in the same batch). */
  installSnapshot(batch: WriteBatch, metadata: SnapshotMetadata): void {
    for (let i = this.applyState.truncatedIndex + 1; i <= this.lastIndexValue; i++) {
      batch.delete(raftLogKey(this.options.regionId, i));
    }
    this.cache.clear();
    this.logSizeBytes = 0;
    this.lastIndexValue = metadata.index;
    this.confState = metadata.confState;
    this.writeApplyState(batch, {
      appliedIndex: metadata.index,
      truncatedIndex: metadata.index,
      truncatedTerm: metadata.term,
    });
  }

  /** A snapshot the store generated in the background after requestSnapshot. */
  setGeneratedSnapshot(snapshot: Snapshot): void {
    this.generated = snapshot;
  }

  setConfState(confState: ConfState): void {
    this.confState = confState;
  }

  /**
   * The region's membership or range changed at `index` (a conf change or a split was
   * applied there). A snapshot from before it describes another region: a peer added by
   * that change would find itself missing from the snapshot's configuration and refuse it,
   * and the leader would send the same useless snapshot forever. So no snapshot below this
   * index is handed to the core (see snapshotFloorIndex).
   */
  noteRegionChanged(index: number): void {
    this.regionChangedIndex = Math.max(this.regionChangedIndex, index);
  }

  /** The oldest snapshot index the core may be given: not compacted away, not from before the last region change. */
  get snapshotFloorIndex(): number {
    return Math.max(this.applyState.truncatedIndex, this.regionChangedIndex);
  }

  /** Approximate bytes of the log entries still retained. */
  get retainedLogSizeBytes(): number {
    return this.logSizeBytes;
  }

  /** Entries still retained (last index - truncated index). */
  get retainedLogEntriesCount(): number {
    return this.lastIndexValue - this.applyState.truncatedIndex;
  }

  get appliedIndex(): number {
    return this.applyState.appliedIndex;
  }

  get truncatedIndex(): number {
    return this.applyState.truncatedIndex;
  }

  /** Removes `count` entries' share of the retained size (entries are assumed of average size). */
  private dropLogSize(count: number): void {
    const retained = this.lastIndexValue - this.applyState.truncatedIndex;
    if (retained <= 0) return;
    this.logSizeBytes = Math.max(
      0,
      Math.round(this.logSizeBytes * (1 - Math.min(count, retained) / retained)),
    );
  }

  private writeApplyState(batch: WriteBatch, state: ApplyState): void {
    batch.put(applyStateKey(this.options.regionId), encodeApplyState(state));
    this.applyState = state;
  }

  private readEntry(i: number): Entry {
    const bytes = this.options.engine.getSync(raftLogKey(this.options.regionId, i));
    if (bytes === undefined) {
      throw new Error(
        `region ${this.options.regionId}: log entry ${i} missing from the engine (first ${this.firstIndex()}, last ${this.lastIndexValue})`,
      );
    }
    const entry = decodeEntry(bytes);
    if (entry.index !== i)
      throw new Error(`region ${this.options.regionId}: log key ${i} holds entry ${entry.index}`);
    return entry;
  }
}
