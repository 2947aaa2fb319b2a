// The record of what simulated clients asked and were told: the input of the
// linearizability check. Invocations and responses are numbered from one global counter,
// which orders them exactly (several can happen within one tick).
import type { KvOperation } from './linearizability.js';

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

  readOk(key: string, value: string | null, callSeq: number, mode: 'safe' | 'lease'): void {
    this.operationList.push({ kind: 'get', key, value, callSeq, returnSeq: this.nextSeq() });
    if (mode === 'safe') this.counts.readsSafe++;
    else this.counts.readsLease++;
  }
}
