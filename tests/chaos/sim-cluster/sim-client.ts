// A simulated client, routing like the SDK: a region cache filled from PD, each request sent
// to the store its cache names as the region's leader, and every region error used as the
// hint it is (NotLeader names the new leader, EpochNotMatch carries the current regions,
// anything else drops the cached region so PD is asked again). One operation at a time; an
// operation retries until its deadline. Its outcome goes to the history: acknowledged, refused
// (every attempt got a region error, so nothing was applied), or unknown (an attempt may have
// reached the log: the store said its fate is unknown, or the client stopped waiting).
import { kvpb } from '@flotilla/proto';
import type { errorpb } from '@flotilla/proto';
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import {
  epochToProto,
  peerToProto,
  regionContainsKey,
  regionFromProto,
} from '../../../server/src/store/region-meta.js';
import { KvRequestError } from '../../../server/src/service/kv-limits.js';
import type { KvHandlers } from '../../../server/src/service/kv-handlers.js';
import type { SimRandom } from '../sim/prng.js';
import type { ClusterHistory } from './cluster-history.js';
import type { SimLoop } from './sim-loop.js';
import { STEPS_PER_TICK } from './sim-loop.js';
import type { SimPd } from './sim-pd.js';

export type ClientOperation =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

export interface SimClientDeps {
  readonly loop: SimLoop;
  readonly pd: SimPd;
  readonly handlersOf: (storeId: number) => KvHandlers | undefined;
  readonly history: ClusterHistory;
  readonly random: SimRandom;
  readonly readConsistency: kvpb.ReadConsistency;
  /** Ticks an operation may take, retries included. */
  readonly opTimeoutTicks: number;
  readonly trace: (line: string) => void;
  /** An answer no correct store gives (a thrown error other than a deadline): fails the run. */
  readonly onHarnessError: (error: Error) => void;
}

/** Regions a client caches; the oldest entries go first beyond it. */
const CACHED_REGIONS_MAX = 1024;
/** Server-side deadline: longer than any simulated run, so only the client's own deadline counts. */
const SERVER_DEADLINE_MS = 300_000;

interface CachedRegion {
  region: RegionMeta;
  leaderStoreId: number | undefined;
  /** Which peer to try next when the leader is unknown. */
  nextPeerIndex: number;
}

type Answer<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'timeout' };

export class SimClient {
  private readonly cache = new Map<number, CachedRegion>();
  /** The last value this client saw per key: a CAS expects it. */
  readonly lastSeen = new Map<string, string | null>();
  busy = false;
  opsCount = 0;

  constructor(
    readonly clientId: number,
    private readonly deps: SimClientDeps,
  ) {}

  /** Runs one operation to its end and records it; returns how it ended. */
  async run(op: ClientOperation): Promise<'ok' | 'refused' | 'unknown' | 'unanswered'> {
    if (this.busy) throw new Error(`client ${this.clientId} runs one operation at a time`);
    this.busy = true;
    this.opsCount++;
    const { history, loop } = this.deps;
    const callSeq = history.nextSeq();
    const deadlineStep = loop.step + this.deps.opTimeoutTicks * STEPS_PER_TICK;
    let maybeApplied = false;
    try {
      while (loop.step < deadlineStep) {
        const outcome = await this.attempt(op, deadlineStep);
        if (outcome.kind === 'retry') continue;
        if (outcome.kind === 'unknown') {
          maybeApplied = true;
          break;
        }
        this.record(op, outcome, callSeq);
        return 'ok';
      }
      if (op.kind === 'get') {
        history.readFailed();
        return 'unanswered';
      }
      this.recordUnfinishedWrite(op, maybeApplied, callSeq);
      return maybeApplied ? 'unknown' : 'refused';
    } finally {
      this.busy = false;
    }
  }

  private recordUnfinishedWrite(op: ClientOperation, maybeApplied: boolean, callSeq: number): void {
    const { history } = this.deps;
    if (!maybeApplied) return history.writeRefused();
    switch (op.kind) {
      case 'put':
      case 'cas':
        return history.writeUnknown(op.key, op.value, callSeq);
      case 'delete':
        return history.writeUnknown(op.key, null, callSeq);
      case 'get':
        throw new Error('a read has no write to record');
    }
  }

  private record(
    op: ClientOperation,
    outcome: { kind: 'done'; found: string | null; succeeded: boolean },
    callSeq: number,
  ): void {
    const { history } = this.deps;
    switch (op.kind) {
      case 'put':
        this.lastSeen.set(op.key, op.value);
        return history.writeOk(op.key, op.value, callSeq);
      case 'delete':
        this.lastSeen.set(op.key, null);
        return history.writeOk(op.key, null, callSeq);
      case 'get':
        this.lastSeen.set(op.key, outcome.found);
        return history.readOk(op.key, outcome.found, callSeq);
      case 'cas':
        if (outcome.succeeded) {
          this.lastSeen.set(op.key, op.value);
          return history.casSucceeded(op.key, op.expected, op.value, callSeq);
        }
        this.lastSeen.set(op.key, outcome.found);
        return history.casFailed(op.key, outcome.found, callSeq);
    }
  }

  /** One request to one store. */
  private async attempt(
    op: ClientOperation,
    deadlineStep: number,
  ): Promise<
    { kind: 'retry' } | { kind: 'unknown' } | { kind: 'done'; found: string | null; succeeded: boolean }
  > {
    const { loop } = this.deps;
    const key = Buffer.from(op.key);
    const cached = this.route(key);
    if (cached === undefined) {
      await loop.sleep(STEPS_PER_TICK);
      return { kind: 'retry' };
    }
    const storeId = this.targetStore(cached);
    const handlers = storeId === undefined ? undefined : this.deps.handlersOf(storeId);
    if (handlers === undefined || storeId === undefined) {
      // The store is down: as a failed connection, try the next peer.
      cached.leaderStoreId = undefined;
      cached.nextPeerIndex++;
      await loop.sleep(STEPS_PER_TICK);
      return { kind: 'retry' };
    }
    const peer = cached.region.peers.find((p) => p.storeId === storeId);
    const context: kvpb.Context = {
      regionId: BigInt(cached.region.id),
      regionEpoch: epochToProto(cached.region.epoch),
      peer: peer === undefined ? undefined : peerToProto(peer),
      readConsistency: this.deps.readConsistency,
      deadlineMs: SERVER_DEADLINE_MS,
    };
    const answer = await this.raceDeadline(this.send(handlers, op, key, context), deadlineStep);
    if (answer.kind === 'timeout') return op.kind === 'get' ? { kind: 'retry' } : { kind: 'unknown' };
    if (answer.kind === 'error') {
      const error = answer.error;
      if (error instanceof KvRequestError && error.code === kvpb.KeyErrorCode.DEADLINE_EXCEEDED)
        return op.kind === 'get' ? { kind: 'retry' } : { kind: 'unknown' };
      this.deps.onHarnessError(error instanceof Error ? error : new Error(String(error)));
      return { kind: 'unknown' };
    }
    const response = answer.value;
    if (response.regionError !== undefined) {
      await this.onRegionError(cached, response.regionError);
      return { kind: 'retry' };
    }
    return { kind: 'done', found: response.found, succeeded: response.succeeded };
  }

  private send(
    handlers: KvHandlers,
    op: ClientOperation,
    key: Buffer,
    context: kvpb.Context,
  ): Promise<{ regionError: errorpb.RegionError | undefined; found: string | null; succeeded: boolean }> {
    switch (op.kind) {
      case 'put':
        return handlers
          .put({ context, key, value: Buffer.from(op.value) })
          .then((r) => ({ regionError: r.regionError, found: null, succeeded: true }));
      case 'delete':
        return handlers
          .delete({ context, key })
          .then((r) => ({ regionError: r.regionError, found: null, succeeded: true }));
      case 'get':
        return handlers.get({ context, key }).then((r) => ({
          regionError: r.regionError,
          found: r.found ? Buffer.from(r.value).toString() : null,
          succeeded: true,
        }));
      case 'cas':
        return handlers
          .compareAndSwap({
            context,
            key,
            expected:
              op.expected === null
                ? { $case: 'expectedAbsent', expectedAbsent: {} }
                : { $case: 'expectedValue', expectedValue: Buffer.from(op.expected) },
            update: { $case: 'newValue', newValue: Buffer.from(op.value) },
          })
          .then((r) => ({
            regionError: r.regionError,
            found: r.previousFound ? Buffer.from(r.previousValue).toString() : null,
            succeeded: r.succeeded,
          }));
    }
  }

  private raceDeadline<T>(promise: Promise<T>, deadlineStep: number): Promise<Answer<T>> {
    const { loop } = this.deps;
    return new Promise((resolve) => {
      promise.then(
        (value) => resolve({ kind: 'value', value }),
        (error: unknown) => resolve({ kind: 'error', error }),
      );
      loop.after(Math.max(1, deadlineStep - loop.step), () => resolve({ kind: 'timeout' }));
    });
  }

  private async onRegionError(cached: CachedRegion, error: errorpb.RegionError): Promise<void> {
    const { loop } = this.deps;
    const detail = error.error;
    switch (detail?.$case) {
      case 'notLeader': {
        const hint = detail.notLeader.leader;
        const hinted = hint === undefined ? undefined : Number(hint.storeId);
        if (hinted !== undefined && cached.region.peers.some((p) => p.storeId === hinted)) {
          cached.leaderStoreId = hinted;
        } else {
          cached.leaderStoreId = undefined;
          cached.nextPeerIndex++;
          await loop.sleep(STEPS_PER_TICK);
        }
        return;
      }
      case 'epochNotMatch': {
        this.cache.delete(cached.region.id);
        for (const region of detail.epochNotMatch.currentRegions)
          this.remember(regionFromProto(region), undefined);
        return;
      }
      case 'serverIsBusy':
        await loop.sleep(STEPS_PER_TICK);
        return;
      default:
        // RegionNotFound, KeyNotInRegion, StoreNotMatch, StaleCommand...: ask PD again.
        this.cache.delete(cached.region.id);
        await loop.sleep(STEPS_PER_TICK);
    }
  }

  private route(key: Uint8Array): CachedRegion | undefined {
    for (const cached of this.cache.values()) if (regionContainsKey(cached.region, key)) return cached;
    const info = this.deps.pd.cluster.getRegionByKey(key);
    if (info === undefined) return undefined;
    return this.remember(info.region, info.leader?.storeId);
  }

  /** Caches a region, dropping the cached ones it overlaps (they are older or newer; the next error tells). */
  private remember(region: RegionMeta, leaderStoreId: number | undefined): CachedRegion {
    for (const [id, cached] of this.cache) if (overlaps(cached.region, region)) this.cache.delete(id);
    while (this.cache.size >= CACHED_REGIONS_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    const entry: CachedRegion = { region, leaderStoreId, nextPeerIndex: this.deps.random.nextInt(8) };
    this.cache.set(region.id, entry);
    return entry;
  }

  private targetStore(cached: CachedRegion): number | undefined {
    if (cached.leaderStoreId !== undefined) return cached.leaderStoreId;
    const peers = cached.region.peers;
    return peers.length === 0 ? undefined : peers[cached.nextPeerIndex % peers.length]?.storeId;
  }
}

function overlaps(a: RegionMeta, b: RegionMeta): boolean {
  const aBeforeB = a.endKey.length > 0 && compareBytes(a.endKey, b.startKey) <= 0;
  const bBeforeA = b.endKey.length > 0 && compareBytes(b.endKey, a.startKey) <= 0;
  return !aBeforeB && !bBeforeA;
}
