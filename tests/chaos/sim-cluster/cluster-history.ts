// The record of what the simulated clients asked and were told, in the form the Wing & Gong
// checker of the Raft simulator (../checker/linearizability.ts) reads: puts and gets on
// registers. The richer operations map onto them soundly (never a false alarm):
//   delete            -> a put of ABSENT;  a get that found nothing -> a get of ABSENT
//   CAS succeeded     -> a get of the expected value and a put of the new one, same interval
//   CAS failed        -> a get of the value the store says it found
//   write unknown     -> a put that may take effect at any time after its call, or never
//                        (for a CAS that over-approximates: it could only apply on a match)
//   write refused     -> nothing (a region error means it was not applied; if it was
//                        anyway, a read of its unique value finds no put and fails the check)
// Every key starts ABSENT: a synthetic put before any other event.
import type { HistoryCheckResult, KvOperation } from '../checker/linearizability.js';
import { checkHistory } from '../checker/linearizability.js';

/** The register value of an absent key (no client writes it: values are "c<client>.<n>"). */
export const ABSENT = '<absent>';

export interface ClusterHistoryCounts {
  putsOk: number;
  deletesOk: number;
  casSucceeded: number;
  casFailed: number;
  writesUnknown: number;
  writesRefused: number;
  readsOk: number;
  readsFailed: number;
}

export class ClusterHistory {
  private sequenceNext = 1;
  private readonly operationList: KvOperation[] = [];
  private readonly keys = new Set<string>();
  readonly counts: ClusterHistoryCounts = {
    putsOk: 0,
    deletesOk: 0,
    casSucceeded: 0,
    casFailed: 0,
    writesUnknown: 0,
    writesRefused: 0,
    readsOk: 0,
    readsFailed: 0,
  };

  nextSeq(): number {
    return this.sequenceNext++;
  }

  /** A put (value) or delete (null) that was acknowledged. */
  writeOk(key: string, value: string | null, callSeq: number): void {
    this.push({ kind: 'put', key, value: value ?? ABSENT, callSeq, returnSeq: this.nextSeq() });
    if (value === null) this.counts.deletesOk++;
    else this.counts.putsOk++;
  }

  /** A write whose fate the client never learned (value null: a delete). */
  writeUnknown(key: string, value: string | null, callSeq: number): void {
    this.push({ kind: 'put', key, value: value ?? ABSENT, callSeq, returnSeq: Infinity });
    this.counts.writesUnknown++;
  }

  writeRefused(): void {
    this.counts.writesRefused++;
  }

  readOk(key: string, value: string | null, callSeq: number): void {
    this.push({ kind: 'get', key, value: value ?? ABSENT, callSeq, returnSeq: this.nextSeq() });
    this.counts.readsOk++;
  }

  readFailed(): void {
    this.counts.readsFailed++;
  }

  casSucceeded(key: string, expected: string | null, newValue: string, callSeq: number): void {
    const returnSeq = this.nextSeq();
    this.push({ kind: 'get', key, value: expected ?? ABSENT, callSeq, returnSeq });
    this.push({ kind: 'put', key, value: newValue, callSeq, returnSeq });
    this.counts.casSucceeded++;
  }

  casFailed(key: string, found: string | null, callSeq: number): void {
    this.push({ kind: 'get', key, value: found ?? ABSENT, callSeq, returnSeq: this.nextSeq() });
    this.counts.casFailed++;
  }

  get operationsCount(): number {
    return this.operationList.length;
  }

  /** The operations of one key with its initial ABSENT, for printing a failing key's history. */
  operationsOf(key: string): KvOperation[] {
    return [initial(key), ...this.operationList.filter((o) => o.key === key)];
  }

  check(stepsMaxPerKey: number): HistoryCheckResult {
    const initials = [...this.keys].sort().map(initial);
    return checkHistory([...initials, ...this.operationList], stepsMaxPerKey);
  }

  private push(operation: KvOperation): void {
    this.keys.add(operation.key);
    this.operationList.push(operation);
  }
}

function initial(key: string): KvOperation {
  return { kind: 'put', key, value: ABSENT, callSeq: -2, returnSeq: -1 };
}

export function describeOperation(o: KvOperation): string {
  const ret = o.returnSeq === Infinity ? '?' : String(o.returnSeq);
  return `${o.kind} ${o.key} ${o.value ?? ABSENT} [${o.callSeq}, ${ret}]`;
}
