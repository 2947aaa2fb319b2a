// Shared fixtures of the transport tests: grpc servers on 127.0.0.1, wire messages,
// a manually driven clock, and event-based waiting with generous bounds (no sleeps).
import { EventEmitter } from 'node:events';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import { RAFT_SERVER_OPTIONS } from '../../src/transport/batch-limits.js';
import type { Clock, TimerHandle } from '../../src/transport/clock.js';
import { encodeRegionRaftMessage } from '../../src/transport/raft-message-codec.js';
import type { RegionRaftMessage } from '../../src/transport/raft-message-codec.js';

/** Upper bound of any single wait in these tests; generous for a busy 2-core machine. */
export const WAIT_MS_MAX = 20_000;

export interface RunningServer {
  readonly server: grpc.Server;
  readonly port: number;
  stop(): void;
}

export async function startServer(
  handlers: raftpb.RaftServer | grpc.UntypedServiceImplementation,
  port = 0,
): Promise<RunningServer> {
  const server = new grpc.Server(RAFT_SERVER_OPTIONS);
  server.addService(raftpb.RaftService, handlers);
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  return { server, port: boundPort, stop: () => server.forceShutdown() };
}

/** Rejects after WAIT_MS_MAX with a message saying what never happened. */
export function within<T>(what: string, promise: Promise<T>, timeoutMs = WAIT_MS_MAX): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects what a test server receives and wakes waiters when a condition becomes true. */
export class Recorder<T> {
  readonly items: T[] = [];
  private readonly events = new EventEmitter();

  push(item: T): void {
    this.items.push(item);
    this.events.emit('changed');
  }

  /** Resolves once `predicate(items)` holds (checked now and after every push). */
  until(what: string, predicate: (items: readonly T[]) => boolean): Promise<readonly T[]> {
    return within(
      what,
      new Promise((resolve) => {
        const check = (): void => {
          if (!predicate(this.items)) return;
          this.events.off('changed', check);
          resolve(this.items);
        };
        this.events.on('changed', check);
        check();
      }),
    );
  }
}

/** A wire 'app' message for `regionId` from store 1 to `toStoreId`, tagged by `seq` in its context. */
export function wireMessage(
  regionId: number,
  seq: number,
  toStoreId = 2,
  entryBytes = 0,
): raftpb.RaftMessage {
  const m: RegionRaftMessage = {
    regionId,
    fromPeer: { id: regionId * 10 + 1, storeId: 1, role: 'voter' },
    toPeer: { id: regionId * 10 + toStoreId, storeId: toStoreId, role: 'voter' },
    regionEpoch: { confVer: 1, version: 1 },
    message: {
      type: 'app',
      to: regionId * 10 + toStoreId,
      from: regionId * 10 + 1,
      term: 1,
      logTerm: 1,
      index: seq,
      entries:
        entryBytes > 0 ? [{ term: 1, index: seq + 1, type: 'normal', data: new Uint8Array(entryBytes) }] : [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new TextEncoder().encode(`seq-${seq}`),
    },
    isTombstone: false,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
  };
  return encodeRegionRaftMessage(m);
}

export function seqOf(m: RegionRaftMessage): number {
  return Number(new TextDecoder().decode(m.message.context).slice('seq-'.length));
}

interface ManualTimer {
  readonly dueMs: number;
  readonly callback: () => void;
}

/** A clock that only moves when the test says so; `pendingTimers` lets a test await an armed timer. */
export class ManualClock implements Clock {
  private now = 0;
  private readonly timers = new Set<ManualTimer>();
  private readonly events = new EventEmitter();

  nowMs(): number {
    return this.now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { dueMs: this.now + delayMs, callback };
    this.timers.add(timer);
    this.events.emit('armed');
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as ManualTimer);
  }

  get pendingTimerCount(): number {
    return this.timers.size;
  }

  /** Resolves once at least one timer is armed. */
  timerArmed(what: string): Promise<void> {
    return within(
      what,
      new Promise<void>((resolve) => {
        if (this.timers.size > 0) return resolve();
        this.events.once('armed', () => resolve());
      }),
    );
  }

  /** Moves time forward and fires every timer that came due, earliest first. */
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.timers].filter((t) => t.dueMs <= this.now).sort((a, b) => a.dueMs - b.dueMs);
    for (const timer of due) {
      if (!this.timers.delete(timer)) continue;
      timer.callback();
    }
  }
}
