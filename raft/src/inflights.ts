// The window of append messages in flight to one follower (replicate state): a bounded
// FIFO of the last index each message carried. A full window pauses replication until
// acknowledgements free slots, so a slow follower cannot make the leader buffer without end.
import { assert } from './invariants.js';

export class Inflights {
  readonly capacity: number;
  private readonly lastIndexes: number[];
  private start = 0;
  private countValue = 0;

  constructor(capacity: number) {
    assert(
      Number.isSafeInteger(capacity) && capacity > 0,
      () => `inflights capacity must be positive, got ${capacity}`,
    );
    this.capacity = capacity;
    this.lastIndexes = new Array<number>(capacity).fill(0);
  }

  get count(): number {
    return this.countValue;
  }

  full(): boolean {
    return this.countValue === this.capacity;
  }

  /** Records a message whose last entry is `index`; indexes must increase. */
  add(index: number): void {
    assert(!this.full(), 'cannot add to a full inflights window');
    const newest = this.countValue > 0 ? this.at(this.countValue - 1) : -1;
    assert(index > newest, () => `inflight index ${index} does not increase (newest ${newest})`);
    this.lastIndexes[(this.start + this.countValue) % this.capacity] = index;
    this.countValue++;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    let freed = 0;
    while (freed < this.countValue && this.at(freed) <= index) freed++;
    this.start = (this.start + freed) % this.capacity;
    this.countValue -= freed;
    if (this.countValue === 0) this.start = 0;
  }

  /** Frees the oldest message (it is presumed lost). */
  freeFirst(): void {
    if (this.countValue === 0) return;
    this.freeLE(this.at(0));
  }

  clone(): Inflights {
    const copy = new Inflights(this.capacity);
    for (let i = 0; i < this.countValue; i++) copy.add(this.at(i));
    return copy;
  }

  reset(): void {
    this.start = 0;
    this.countValue = 0;
  }

  private at(offset: number): number {
    return this.lastIndexes[(this.start + offset) % this.capacity] as number;
  }
}
