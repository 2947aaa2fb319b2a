// The simulated disk of one node. Writes land in the live MemoryStorage the RawNode reads at
// once, and are queued as operations; a sync replays the queue onto the durable copy. A crash
// throws away whatever was not synced, exactly as a power loss would after buffered writes.
// The state machine's applied state is made durable by the same sync (one write batch with
// the log, as the real store does), so a restarted node never finds its applied index ahead
// of its durable log.
import type { MemoryStorage } from '../../../raft/src/index.js';
import type { ConfState, Entry, HardState, Snapshot } from '../../../raft/src/index.js';
import type { KvStateMachine } from './kv-state-machine.js';

type DiskOperation =
  | { readonly kind: 'append'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'installSnapshot'; readonly snapshot: Snapshot }
  | {
      readonly kind: 'createSnapshot';
      readonly index: number;
      readonly confState: ConfState;
      readonly data: Uint8Array;
    }
  | { readonly kind: 'compact'; readonly index: number };

/** Hard bound on unsynced operations; the node syncs long before (see flushDue). */
const pendingOperationsMax = 4096;
/** Unsynced operations past which the node should flush, as a page cache writes back on its own. */
const pendingOperationsFlush = 256;

export class SimDisk {
  private liveStorage: MemoryStorage;
  private readonly durableStorage: MemoryStorage;
  private durableKv: KvStateMachine;
  private pending: DiskOperation[] = [];
  private syncCountValue = 0;

  constructor(initial: MemoryStorage, kv: KvStateMachine) {
    this.durableStorage = initial;
    this.liveStorage = initial.clone();
    this.durableKv = kv.clone();
  }

  /** The storage the running RawNode reads and the node writes. */
  get live(): MemoryStorage {
    return this.liveStorage;
  }

  get durableHardState(): HardState {
    return this.durableStorage.initialState().hardState;
  }

  get syncCount(): number {
    return this.syncCountValue;
  }

  get dirty(): boolean {
    return this.pending.length > 0;
  }

  /** True when so much is unsynced that a sync is due regardless of mustSync. */
  get flushDue(): boolean {
    return this.pending.length >= pendingOperationsFlush;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.liveStorage.append(entries);
    this.queue({ kind: 'append', entries });
  }

  setHardState(hardState: HardState): void {
    this.liveStorage.setHardState(hardState);
    this.queue({ kind: 'hardState', hardState });
  }

  installSnapshot(snapshot: Snapshot): void {
    this.liveStorage.applySnapshot(snapshot);
    this.queue({ kind: 'installSnapshot', snapshot });
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const snapshot = this.liveStorage.createSnapshot(index, confState, data);
    this.queue({ kind: 'createSnapshot', index, confState, data });
    return snapshot;
  }

  compact(index: number): void {
    this.liveStorage.compact(index);
    this.queue({ kind: 'compact', index });
  }

  /** Makes every queued write durable, together with the state machine as it is now (`kv`). */
  sync(kv: KvStateMachine): void {
    for (const operation of this.pending) applyOperation(this.durableStorage, operation);
    this.pending = [];
    this.durableKv = kv.clone();
    this.syncCountValue++;
    if (this.durableStorage.lastIndex() !== this.liveStorage.lastIndex()) {
      throw new Error(
        `SimDisk.sync: durable log ends at ${this.durableStorage.lastIndex()}, live at ${this.liveStorage.lastIndex()}`,
      );
    }
  }

  /**
   * Loses every unsynced write and returns what survived: a fresh live storage cloned from
   * the durable one, and the durable state machine.
   */
  crash(): { storage: MemoryStorage; kv: KvStateMachine } {
    this.pending = [];
    this.liveStorage = this.durableStorage.clone();
    return { storage: this.liveStorage, kv: this.durableKv.clone() };
  }

  private queue(operation: DiskOperation): void {
    this.pending.push(operation);
    if (this.pending.length > pendingOperationsMax) {
      throw new Error(`SimDisk: more than ${pendingOperationsMax} unsynced writes; the node must sync`);
    }
  }
}

function applyOperation(storage: MemoryStorage, operation: DiskOperation): void {
  switch (operation.kind) {
    case 'append':
      storage.append(operation.entries);
      return;
    case 'hardState':
      storage.setHardState(operation.hardState);
      return;
    case 'installSnapshot':
      storage.applySnapshot(operation.snapshot);
      return;
    case 'createSnapshot':
      storage.createSnapshot(operation.index, operation.confState, operation.data);
      return;
    case 'compact':
      storage.compact(operation.index);
      return;
    default:
      assertNever(operation);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
