// Recent Raft log entries of one region kept in memory, bounded in bytes, so replicating
// to followers that are close behind does not read the engine. Contiguous by index.
import type { Entry } from '@flotilla/raft';

export class EntryCache {
  private entries: Entry[] = [];
  private sizeBytes = 0;

  constructor(private readonly sizeBytesMax: number) {
    if (!Number.isSafeInteger(sizeBytesMax) || sizeBytesMax < 0) {
      throw new RangeError(`entry cache size must be a non-negative integer, got ${sizeBytesMax}`);
    }
  }

  get(index: number): Entry | undefined {
    const first = this.entries[0];
    if (first === undefined) return undefined;
    return this.entries[index - first.index];
  }

  /** Adds entries that follow on from (or overwrite a suffix of) the cached run. */
  append(entries: readonly Entry[]): void {
    const head = entries[0];
    if (head === undefined) return;
    const first = this.entries[0];
    if (first === undefined || head.index < first.index || head.index > first.index + this.entries.length) {
      this.clear();
    } else {
      const keep = head.index - first.index;
      for (const dropped of this.entries.splice(keep)) this.sizeBytes -= dropped.data.length;
    }
    for (const entry of entries) {
      this.entries.push(entry);
      this.sizeBytes += entry.data.length;
    }
    this.evict();
  }

  /** Drops entries with index <= `index`. */
  compactTo(index: number): void {
    const first = this.entries[0];
    if (first === undefined || index < first.index) return;
    for (const dropped of this.entries.splice(0, index - first.index + 1))
      this.sizeBytes -= dropped.data.length;
  }

  clear(): void {
    this.entries = [];
    this.sizeBytes = 0;
  }

  get cachedSizeBytes(): number {
    return this.sizeBytes;
  }

  get count(): number {
    return this.entries.length;
  }

  private evict(): void {
    let drop = 0;
    while (this.sizeBytes > this.sizeBytesMax && drop < this.entries.length) {
      this.sizeBytes -= (this.entries[drop] as Entry).data.length;
      drop++;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}
