// The record of what simulated clients asked and were told: the input of the
// linearizability check. Invocations and responses are numbered from one global counter,
// which orders them exactly (several can happen within one tick).
import type { KvOperation } from '../checker/linearizability.js';

export interface HistoryCounts {
  putsOk: number;
  putsUnknown: number;
  readsSafe: number;
  readsLease: number;
  /** Local reads at any replica: recorded for the summary, NOT checked for linearizability. */
  readsStale: number;
  /** Operations abandoned before any node accepted them (they cannot have taken effect). */
  rejected: number;
  /** Reads that timed out or whose node crashed (a read with no answer constrains nothing). */
  readsLost: number;
}

export class History {
  private sequenceNext = 1;
  private readonly operationList: KvOperation[] = [];
  private readonly staleReads: { key: string; value: string | null; seq: number }[] = [];
  readonly counts: HistoryCounts = {
    putsOk: 0,
    putsUnknown: 0,
    readsSafe: 0,
    readsLease: 0,
    readsStale: 0,
    rejected: 0,
    readsLost: 0,
  };

  /** The next position in the global event order. */
  nextSeq(): number {
    return this.sequenceNext++;
  }

  get operations(): readonly KvOperation[] {
    return this.operationList;
  }

  putOk(key: string, value: string, callSeq: number): void {
    this.operationList.push({ kind: 'put', key, value, callSeq, returnSeq: this.nextSeq() });
    this.counts.putsOk++;
  }

  /** The put may have taken effect at any time after its call, or never. */
  putUnknown(key: string, value: string, callSeq: number): void {
    this.operationList.push({ kind: 'put', key, value, callSeq, returnSeq: Infinity });
    this.counts.putsUnknown++;
  }

  /** A local read at a replica; `seq` orders it among the other events. */
  readStale(key: string, value: string | null): void {
    this.staleReads.push({ key, value, seq: this.nextSeq() });
    this.counts.readsStale++;
  }

  /**
   * Stale reads need not be linearizable, but a replica can only hold what some client wrote:
   * each must return null or a value a put of the same key had been invoked with before.
   * Returns a description of the first read that breaks this, or null.
   */
  checkStaleReads(): string | null {
    const puts = new Map<string, { key: string; callSeq: number }>();
    for (const operation of this.operationList) {
      if (operation.kind === 'put')
        puts.set(operation.value, { key: operation.key, callSeq: operation.callSeq });
    }
    for (const read of this.staleReads) {
      if (read.value === null) continue;
      const written = puts.get(read.value);
      if (written === undefined || written.key !== read.key || written.callSeq > read.seq) {
        return `a stale read of ${read.key} returned '${read.value}', which no earlier put of ${read.key} wrote`;
      }
    }
    return null;
  }

  readOk(key: string, value: string | null, callSeq: number, mode: 'safe' | 'lease'): void {
    this.operationList.push({ kind: 'get', key, value, callSeq, returnSeq: this.nextSeq() });
    if (mode === 'safe') this.counts.readsSafe++;
    else this.counts.readsLease++;
  }
}
