// Cluster-unique ids for stores, regions and peers (one shared space). The leader reserves a
// block of ids at a time by compare-and-swap on the high-water key, then hands them out from
// memory. A block belongs to the member whose CAS moved the mark, so its ids stay unique even
// if that member loses leadership midway: a new leader always reserves above the mark. Ids
// left in a block when leadership moves are skipped, never reused. Ids are never 0.
import type { MetaKv } from './meta/meta-kv.js';
import { allocIdKey, decodeU64Value, encodeU64Value } from './meta/meta-keys.js';

export const ID_BLOCK_SIZE_DEFAULT = 1000;

/** CAS attempts per reservation; losing more often means another member keeps reserving. */
const RESERVE_ATTEMPTS_MAX = 8;

/** Ids one call may ask for (AskBatchSplit of a large region is the big user). */
export const IDS_PER_CALL_MAX = 10_000;

export class IdAllocatorError extends Error {
  readonly code = 'ID_ALLOCATOR';
}

export class IdAllocator {
  /** Next id to hand out; invariant: next <= end + 1. */
  private next = 1;
  /** Last id of the reserved block; 0 before any reservation. */
  private end = 0;
  /** Serializes reservations: concurrent callers wait for the one in flight. */
  private reserving: Promise<void> | undefined;

  constructor(
    private readonly kv: MetaKv,
    private readonly blockSize: number = ID_BLOCK_SIZE_DEFAULT,
  ) {
    if (!Number.isSafeInteger(blockSize) || blockSize < 1)
      throw new IdAllocatorError(`block size must be positive, got ${blockSize}`);
  }

  /** One new id. */
  async alloc(): Promise<number> {
    const [id] = await this.allocMany(1);
    if (id === undefined) throw new IdAllocatorError('no id allocated');
    return id;
  }

  /** `count` new ids, ascending (not necessarily contiguous across blocks). */
  async allocMany(count: number): Promise<number[]> {
    if (!Number.isSafeInteger(count) || count < 1 || count > IDS_PER_CALL_MAX) {
      throw new IdAllocatorError(`id count must be in [1, ${IDS_PER_CALL_MAX}], got ${count}`);
    }
    const ids: number[] = [];
    // Each pass either takes ids or reserves a new block, which holds at least one id.
    for (let pass = 0; ids.length < count; pass++) {
      if (pass > 2 * count + 2) throw new IdAllocatorError(`allocation of ${count} ids did not converge`);
      if (this.next > this.end) {
        await this.reserve();
        continue;
      }
      const id = this.next++;
      ids.push(id);
    }
    for (let i = 1; i < ids.length; i++) {
      if ((ids[i] as number) <= (ids[i - 1] as number)) throw new IdAllocatorError('ids out of order');
    }
    return ids;
  }

  /** Forgets the block in memory (on leadership loss); its unused ids are skipped. */
  reset(): void {
    this.next = 1;
    this.end = 0;
  }

  private async reserve(): Promise<void> {
    if (this.reserving === undefined) {
      this.reserving = this.reserveBlock().finally(() => {
        this.reserving = undefined;
      });
    }
    await this.reserving;
  }

  private async reserveBlock(): Promise<void> {
    let current = await this.kv.get(allocIdKey);
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS_MAX; attempt++) {
      const mark = current === undefined ? 0 : decodeU64Value(current, 'alloc id mark');
      const newMark = mark + this.blockSize;
      if (!Number.isSafeInteger(newMark)) throw new IdAllocatorError(`id space exhausted at ${mark}`);
      const outcome = await this.kv.compareAndSwap(allocIdKey, current, encodeU64Value(newMark));
      if (outcome.succeeded) {
        if (mark + 1 <= this.end)
          throw new IdAllocatorError(`reserved block starts at ${mark + 1}, below ${this.end}`);
        this.next = mark + 1;
        this.end = newMark;
        return;
      }
      current = outcome.previousValue;
    }
    throw new IdAllocatorError(`could not reserve an id block in ${RESERVE_ATTEMPTS_MAX} attempts`);
  }
}
