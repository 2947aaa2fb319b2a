// ReadIndex reads of one region in flight: registered under a unique context, confirmed by
// the core with the index they must wait for, served once the region has applied that
// index. Bounded; reads not yet confirmed fail when the peer stops being leader.
import type { RegionError } from './region-error.js';

type ReadWaiter = (error: RegionError | undefined) => void;

interface ConfirmedRead {
  readonly index: number;
  readonly waiter: ReadWaiter;
}

export class ReadQueue {
  private readonly unconfirmed = new Map<string, ReadWaiter>();
  /** Confirmed reads in ascending index order (the core confirms in order). */
  private confirmed: ConfirmedRead[] = [];
  private nextId = 1;
  private appliedIndex = 0;

  constructor(private readonly capacity: number) {}

  /** A fresh context for a read, or undefined when the queue is full. */
  register(waiter: ReadWaiter): Uint8Array | undefined {
    if (this.unconfirmed.size + this.confirmed.length >= this.capacity) return undefined;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, this.nextId++);
    this.unconfirmed.set(key(ctx), waiter);
    return ctx;
  }

  /** The core confirmed leadership for the read with `ctx` at commit index `index`. */
  confirm(ctx: Uint8Array, index: number): void {
    const k = key(ctx);
    const waiter = this.unconfirmed.get(k);
    if (waiter === undefined) return;
    this.unconfirmed.delete(k);
    if (index <= this.appliedIndex) {
      waiter(undefined);
      return;
    }
    const last = this.confirmed.at(-1);
    if (last !== undefined && last.index > index) {
      const at = this.confirmed.findIndex((r) => r.index > index);
      this.confirmed.splice(at, 0, { index, waiter });
    } else {
      this.confirmed.push({ index, waiter });
    }
  }

  fail(ctx: Uint8Array, error: RegionError): void {
    const k = key(ctx);
    const waiter = this.unconfirmed.get(k);
    if (waiter === undefined) return;
    this.unconfirmed.delete(k);
    waiter(error);
  }

  /** The region applied up to `index`: serve every read waiting for it. */
  markApplied(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
    let served = 0;
    while (
      served < this.confirmed.length &&
      (this.confirmed[served] as ConfirmedRead).index <= this.appliedIndex
    )
      served++;
    if (served === 0) return;
    const ready = this.confirmed.splice(0, served);
    for (const r of ready) r.waiter(undefined);
  }

  setAppliedIndex(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
  }

  /** Reads the core has not confirmed can no longer be (leadership lost). */
  failUnconfirmed(error: RegionError): void {
    const waiters = [...this.unconfirmed.values()];
    this.unconfirmed.clear();
    for (const w of waiters) w(error);
  }

  failAll(error: RegionError): void {
    this.failUnconfirmed(error);
    const confirmed = this.confirmed;
    this.confirmed = [];
    for (const r of confirmed) r.waiter(error);
  }

  get size(): number {
    return this.unconfirmed.size + this.confirmed.length;
  }
}

function key(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}
