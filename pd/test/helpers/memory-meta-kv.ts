// MetaKv in memory, with the meta store's contract (atomic writes, compare-and-swap), for
// unit tests of what PD builds on it. `failNext` makes the next operation throw, as a
// meta store whose leader just stepped down would.
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { KeyRange } from '../../../server/src/storage/engine.js';
import type { CompareAndSwapOutcome, MetaKeyValue, MetaKv, MetaMutation } from '../../src/meta/meta-kv.js';
import { MetaStoreError } from '../../src/meta/meta-kv.js';

export class MemoryMetaKv implements MetaKv {
  readonly data = new Map<string, Uint8Array>();
  writesCount = 0;
  private failures = 0;

  failNext(count = 1): void {
    this.failures = count;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.maybeFail();
    return Promise.resolve(this.data.get(hex(key)));
  }

  scan(range: KeyRange, limit: number): Promise<MetaKeyValue[]> {
    this.maybeFail();
    const out = [...this.data.entries()]
      .map(([k, value]) => ({ key: Uint8Array.from(Buffer.from(k, 'hex')), value }))
      .filter(
        ({ key }) =>
          compareBytes(key, range.start) >= 0 && (range.end === null || compareBytes(key, range.end) < 0),
      )
      .sort((a, b) => compareBytes(a.key, b.key));
    return Promise.resolve(out.slice(0, limit));
  }

  write(mutations: readonly MetaMutation[]): Promise<void> {
    this.maybeFail();
    this.writesCount++;
    for (const m of mutations) {
      if (m.kind === 'put') this.data.set(hex(m.key), Uint8Array.from(m.value));
      else this.data.delete(hex(m.key));
    }
    return Promise.resolve();
  }

  compareAndSwap(
    key: Uint8Array,
    expectedValue: Uint8Array | undefined,
    newValue: Uint8Array | undefined,
  ): Promise<CompareAndSwapOutcome> {
    this.maybeFail();
    this.writesCount++;
    const previousValue = this.data.get(hex(key));
    const matches =
      expectedValue === undefined
        ? previousValue === undefined
        : previousValue !== undefined && compareBytes(previousValue, expectedValue) === 0;
    if (matches) {
      if (newValue === undefined) this.data.delete(hex(key));
      else this.data.set(hex(key), Uint8Array.from(newValue));
    }
    return Promise.resolve({ succeeded: matches, previousValue });
  }

  private maybeFail(): void {
    if (this.failures > 0) {
      this.failures--;
      throw new MetaStoreError('NOT_LEADER', 'injected: leadership lost');
    }
  }
}

function hex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}
