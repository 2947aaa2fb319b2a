// The write side of one apply round: operations go into the round's WriteBatch and into an
// overlay, so a command later in the same round (a compare-and-swap after a put, a delete
// range after a write) sees the effects of the commands before it.
import type { Engine, KeyRange } from '../storage/engine.js';
import { WriteBatch } from '../storage/engine.js';
import { compareBytes, keySuccessor } from '../storage/bytes.js';

/** Keys fetched per engine call while deleting a range. */
const DELETE_RANGE_PAGE_KEYS = 1024;

function overlayKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export class ApplyWriter {
  readonly batch = new WriteBatch();
  private readonly overlay = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();

  constructor(private readonly engine: Engine) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const pending = this.overlay.get(overlayKey(key));
    if (pending !== undefined) return pending.value ?? undefined;
    return this.engine.getSync(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.batch.put(key, value);
    this.overlay.set(overlayKey(key), { key, value });
  }

  delete(key: Uint8Array): void {
    this.batch.delete(key);
    this.overlay.set(overlayKey(key), { key, value: null });
  }

  /**
   * Deletes every key in range (engine keys and keys written earlier this round); returns
   * how many. Bounded by the region: a range never spans more than one region, and regions
   * split at a configured size.
   */
  async deleteRange(range: KeyRange): Promise<number> {
    let deleted = 0;
    const inRange = (key: Uint8Array): boolean =>
      compareBytes(key, range.start) >= 0 && (range.end === null || compareBytes(key, range.end) < 0);
    for (const pending of [...this.overlay.values()]) {
      if (pending.value !== null && inRange(pending.key)) {
        this.delete(pending.key);
        deleted++;
      }
    }
    let start = range.start;
    for (;;) {
      const page = await this.engine.scan(
        { start, end: range.end },
        { limit: DELETE_RANGE_PAGE_KEYS, keysOnly: true },
      );
      for (const { key } of page) {
        if (this.overlay.get(overlayKey(key))?.value === null) continue;
        this.delete(key);
        deleted++;
      }
      const last = page.at(-1);
      if (page.length < DELETE_RANGE_PAGE_KEYS || last === undefined) return deleted;
      start = keySuccessor(last.key);
    }
  }
}
