// The live suite's history, Jepsen style: every operation is an invoke event and then one
// completion, ok, fail (it certainly did not take effect) or info (unknown: it may take
// effect at any later time, or never), stamped by one monotonic clock in one global order.
// A process whose operation ended in info never issues another one; its client carries on
// as a new process. The history converts to the shared checker's register operations.
import type { KvOperation } from '../checker/linearizability.js';

export type OpKind = 'put' | 'get';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: OpKind;
  readonly key: string;
  /** The value written (put) or read (get ok; null when absent). */
  readonly value: string | null;
  readonly timeMs: number;
  /** For a completion: the error's code, when there was one. */
  readonly error?: string;
}

/** One history holds at most this many events; a longer run is a configuration error. */
export const HISTORY_EVENTS_MAX = 2_000_000;

export class LiveHistory {
  readonly events: HistoryEvent[] = [];
  private readonly open = new Map<number, number>();
  readonly startMs = performance.now();

  invoke(process: number, f: OpKind, key: string, value: string | null): void {
    if (this.open.has(process)) throw new Error(`process ${process} invoked while an operation is open`);
    this.push({ process, type: 'invoke', f, key, value, timeMs: performance.now() - this.startMs });
    this.open.set(process, this.events.length - 1);
  }

  complete(process: number, type: Exclude<EventType, 'invoke'>, value: string | null, error?: string): void {
    const index = this.open.get(process);
    if (index === undefined) throw new Error(`process ${process} completed nothing`);
    const call = this.events[index];
    if (call === undefined) throw new Error('history: an open call is missing');
    this.open.delete(process);
    const event: HistoryEvent = {
      process,
      type,
      f: call.f,
      key: call.key,
      value,
      timeMs: performance.now() - this.startMs,
    };
    this.push(error === undefined ? event : { ...event, error });
  }

  private push(event: HistoryEvent): void {
    if (this.events.length >= HISTORY_EVENTS_MAX)
      throw new Error(`history longer than ${HISTORY_EVENTS_MAX} events`);
    this.events.push(event);
  }

  /**
   * The checker's operations: ok puts and gets close at their completion; info puts stay
   * open for ever; failed operations and reads without an answer are left out (they
   * constrain nothing). A put still open when the run ends is info.
   */
  operations(): KvOperation[] {
    const calls = new Map<number, { seq: number; event: HistoryEvent }>();
    const operations: KvOperation[] = [];
    const add = (seq: number, call: HistoryEvent, returnSeq: number, value: string | null): void => {
      if (call.f === 'put')
        operations.push({ kind: 'put', key: call.key, value: call.value ?? '', callSeq: seq, returnSeq });
      else operations.push({ kind: 'get', key: call.key, value, callSeq: seq, returnSeq });
    };
    this.events.forEach((event, seq) => {
      if (event.type === 'invoke') {
        calls.set(event.process, { seq, event });
        return;
      }
      const call = calls.get(event.process);
      if (call === undefined)
        throw new Error(`history: completion of process ${event.process} without a call`);
      calls.delete(event.process);
      if (event.type === 'ok') add(call.seq, call.event, seq, call.event.f === 'get' ? event.value : null);
      else if (event.type === 'info' && call.event.f === 'put') add(call.seq, call.event, Infinity, null);
    });
    for (const { seq, event } of calls.values()) if (event.f === 'put') add(seq, event, Infinity, null);
    return operations;
  }
}

export interface LostWrites {
  /** Acknowledged puts that the final read shows were lost. */
  readonly lost: number;
  /** Keys whose final read returned a value no put of the key wrote. */
  readonly phantomKeys: readonly string[];
}

/**
 * Counts acknowledged writes the final reads show lost: a put acknowledged before the put
 * whose value a key finally holds was invoked was overwritten legitimately; one invoked
 * after that put was acknowledged should have replaced it, so it was lost. A key that reads
 * absent at the end has lost every acknowledged put.
 */
export function countLostWrites(
  operations: readonly KvOperation[],
  finalValues: ReadonlyMap<string, string | null>,
): LostWrites {
  let lost = 0;
  const phantomKeys: string[] = [];
  for (const [key, finalValue] of finalValues) {
    const puts = operations.filter((op) => op.kind === 'put' && op.key === key);
    const acked = puts.filter((op) => op.returnSeq !== Infinity);
    if (finalValue === null) {
      lost += acked.length;
      continue;
    }
    const winner = puts.find((op) => op.value === finalValue);
    if (winner === undefined) {
      phantomKeys.push(key);
      continue;
    }
    if (winner.returnSeq === Infinity) continue;
    lost += acked.filter((op) => op.callSeq > winner.returnSeq).length;
  }
  return { lost, phantomKeys };
}
