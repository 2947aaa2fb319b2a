// An in-memory Engine for the simulator and unit tests. Keys are kept in one sorted array
// (binary search; inserts move memory, fine for the data sizes a simulation holds). To
// model power loss it keeps an undo log of every write not yet covered by a synced write:
// crash() rolls those back, as a machine that lost its page cache would.
import { compareBytes } from './bytes.js';
import type {
  Engine,
  EngineSnapshot,
  KeyRange,
  KeyValue,
  ScanOptions,
  WriteBatch,
  WriteOptions,
} from './engine.js';
import { checkScanOptions } from './engine.js';

interface Undo {
  readonly key: Uint8Array;
  /** The value before the write, or undefined if the key was absent. */
  readonly previous: Uint8Array | undefined;
}

/** Bound of undo records kept for unsynced writes; beyond it the engine treats writes as synced. */
const UNDO_RECORDS_MAX = 1_000_000;

export class MemoryEngine implements Engine {
  private keys: Uint8Array[] = [];
  private values: Uint8Array[] = [];
  private undo: Undo[] = [];
  private closed = false;

  getSync(key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    const i = this.find(key);
    return i >= 0 ? this.values[i] : undefined;
  }

  scan(range: KeyRange, options: ScanOptions): Promise<KeyValue[]> {
    this.checkOpen();
    return Promise.resolve(scanSorted(this.keys, this.values, range, options));
  }

  write(batch: WriteBatch, options: WriteOptions): Promise<void> {
    this.checkOpen();
    for (const op of batch.operations()) {
      const previous = op.type === 'put' ? this.set(op.key, op.value) : this.remove(op.key);
      if (!options.sync && this.undo.length < UNDO_RECORDS_MAX) this.undo.push({ key: op.key, previous });
    }
    if (options.sync) this.undo = [];
    return Promise.resolve();
  }

  snapshot(): EngineSnapshot {
    this.checkOpen();
    const keys = this.keys.slice();
    const values = this.values.slice();
    let released = false;
    const check = (): void => {
      if (released) throw new Error('engine snapshot used after release');
    };
    return {
      getSync(key) {
        check();
        const i = binarySearch(keys, key);
        return i >= 0 ? values[i] : undefined;
      },
      scan(range, options) {
        check();
        return Promise.resolve(scanSorted(keys, values, range, options));
      },
      release() {
        released = true;
        return Promise.resolve();
      },
    };
  }

  approximateSizeBytes(range: KeyRange): Promise<number> {
    this.checkOpen();
    let bytes = 0;
    const [from, to] = bounds(this.keys, range);
    for (let i = from; i < to; i++)
      bytes += (this.keys[i] as Uint8Array).length + (this.values[i] as Uint8Array).length;
    return Promise.resolve(bytes);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Simulated power loss: every write not followed by a synced write is undone. The engine stays open. */
  crash(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const { key, previous } = this.undo[i] as Undo;
      if (previous === undefined) this.remove(key);
      else this.set(key, previous);
    }
    this.undo = [];
  }

  /** Number of keys held (for tests and size accounting). */
  get size(): number {
    return this.keys.length;
  }

  private find(key: Uint8Array): number {
    return binarySearch(this.keys, key);
  }

  private set(key: Uint8Array, value: Uint8Array): Uint8Array | undefined {
    const i = this.find(key);
    if (i >= 0) {
      const previous = this.values[i];
      this.values[i] = value;
      return previous;
    }
    const at = -i - 1;
    this.keys.splice(at, 0, key);
    this.values.splice(at, 0, value);
    return undefined;
  }

  private remove(key: Uint8Array): Uint8Array | undefined {
    const i = this.find(key);
    if (i < 0) return undefined;
    const previous = this.values[i];
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    return previous;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('memory engine is closed');
  }
}

/** Index of key, or -(insertion point) - 1 when absent. */
function binarySearch(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(keys[mid] as Uint8Array, key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** [from, to) indexes of the keys inside range. */
function bounds(keys: readonly Uint8Array[], range: KeyRange): [number, number] {
  const s = binarySearch(keys, range.start);
  const from = s >= 0 ? s : -s - 1;
  if (range.end === null) return [from, keys.length];
  const e = binarySearch(keys, range.end);
  const to = e >= 0 ? e : -e - 1;
  return [from, Math.max(from, to)];
}

function scanSorted(
  keys: readonly Uint8Array[],
  values: readonly Uint8Array[],
  range: KeyRange,
  options: ScanOptions,
): KeyValue[] {
  checkScanOptions(options);
  const [from, to] = bounds(keys, range);
  const out: KeyValue[] = [];
  const empty = new Uint8Array(0);
  if (options.reverse) {
    for (let i = to - 1; i >= from && out.length < options.limit; i--) {
      out.push({ key: keys[i] as Uint8Array, value: options.keysOnly ? empty : (values[i] as Uint8Array) });
    }
  } else {
    for (let i = from; i < to && out.length < options.limit; i++) {
      out.push({ key: keys[i] as Uint8Array, value: options.keysOnly ? empty : (values[i] as Uint8Array) });
    }
  }
  return out;
}
