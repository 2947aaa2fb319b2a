// The store-level storage engine: one ordered key-value database per store holding the
// Raft logs, hard states, apply states and region metadata of every region plus the user
// data, under distinct key prefixes (see keys.ts). LevelDB in production
// (leveldb-engine.ts), memory in the simulator (memory-engine.ts); both pass the same
// contract tests.

/** A half-open key range [start, end); `end` null means unbounded. */
export interface KeyRange {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null;
}

export interface ScanOptions {
  /** Maximum pairs returned; must be in [1, SCAN_LIMIT_MAX]. */
  readonly limit: number;
  readonly reverse?: boolean;
  /** Skip values (returns empty values) when only keys are needed. */
  readonly keysOnly?: boolean;
}

export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Upper bound of one scan call; callers page with a new start key. */
export const SCAN_LIMIT_MAX = 100_000;

/**
 * An atomic group of writes. Applied all or nothing by Engine.write. The engine may keep
 * references to the bytes passed in: callers must not mutate them afterwards.
 */
export class WriteBatch {
  private readonly ops: Array<
    { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }
  > = [];
  private bytes = 0;

  put(key: Uint8Array, value: Uint8Array): this {
    if (key.length === 0) throw new RangeError('WriteBatch.put: empty key');
    this.ops.push({ type: 'put', key, value });
    this.bytes += key.length + value.length;
    return this;
  }

  delete(key: Uint8Array): this {
    if (key.length === 0) throw new RangeError('WriteBatch.delete: empty key');
    this.ops.push({ type: 'del', key });
    this.bytes += key.length;
    return this;
  }

  get count(): number {
    return this.ops.length;
  }

  /** Sum of key and value bytes in the batch. */
  get sizeBytes(): number {
    return this.bytes;
  }

  operations(): ReadonlyArray<
    { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }
  > {
    return this.ops;
  }
}

/** A consistent read-only view of the engine as of its creation; writes go on meanwhile. */
export interface EngineSnapshot {
  getSync(key: Uint8Array): Uint8Array | undefined;
  scan(range: KeyRange, options: ScanOptions): Promise<KeyValue[]>;
  /** Frees the view; using it afterwards throws. */
  release(): Promise<void>;
}

/**
 * A write failed because the disk is full (ENOSPC). Nothing of the batch is visible, but
 * the engine may refuse all writes until reopen() (LevelDB keeps a failed background
 * compaction's error): the caller frees space or waits, reopens, and writes the batch again.
 */
export class EngineNoSpaceError extends Error {
  readonly kind = 'noSpace';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineNoSpaceError';
  }
}

export interface WriteOptions {
  /** Make the write durable (fsync) before resolving. */
  readonly sync: boolean;
}

export interface Engine {
  /** Point read of the latest committed value. */
  getSync(key: Uint8Array): Uint8Array | undefined;
  /** Pairs in `range` in key order (or reverse), at most `options.limit`. */
  scan(range: KeyRange, options: ScanOptions): Promise<KeyValue[]>;
  /** Applies the batch atomically; with `sync` it is on stable storage when the promise resolves. */
  write(batch: WriteBatch, options: WriteOptions): Promise<void>;
  snapshot(): EngineSnapshot;
  /** Approximate on-disk bytes of the keys in `range` (for split decisions). */
  approximateSizeBytes(range: KeyRange): Promise<number>;
  close(): Promise<void>;
}

export function checkScanOptions(options: ScanOptions): void {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > SCAN_LIMIT_MAX) {
    throw new RangeError(`scan limit must be an integer in [1, ${SCAN_LIMIT_MAX}], got ${options.limit}`);
  }
}
