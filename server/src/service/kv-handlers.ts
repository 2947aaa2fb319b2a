// The KV operations of a store, independent of how they arrive (unary gRPC calls or frames
// of the BatchCommands stream). Each request is validated, routed to its region (store,
// epoch and key range checked), then either proposed through Raft or served from the
// applied state after the read barrier its consistency level asks for.
import { kvpb } from '@flotilla/proto';
import type { errorpb } from '@flotilla/proto';
import { dataKey, dataRange, userKeyOf } from '../storage/keys.js';
import { compareBytes, keySuccessor } from '../storage/bytes.js';
import type { CommandResult } from '../store/command-apply.js';
import type { WriteMutation } from '../store/command-builder.js';
import { encodeCompareAndSwap, encodeReadBarrier, encodeWrite } from '../store/command-builder.js';
import type { RegionError } from '../store/region-error.js';
import { regionErrorToProto } from '../store/region-error.js';
import type { RegionMeta } from '../store/region-meta.js';
import { epochFromProto, epochMatches, regionContainsKey } from '../store/region-meta.js';
import type { RegionPeer } from '../store/region-peer.js';
import type { Store, StoreClock } from '../store/store.js';
import { liveValue } from '../store/user-value.js';
import { WireNumberError, toSafeNumber } from '../store/wire-numbers.js';
import type { KvLimits } from './kv-limits.js';
import { KvRequestError, checkCount, checkKey, checkValue, invalid, ttlMsOf } from './kv-limits.js';
import type { RequestLoad, RequestLoadObserver } from './request-load.js';
import { pointSample, writeLoad } from './request-load.js';

type Routed = { readonly peer: RegionPeer } | { readonly regionError: errorpb.RegionError };

interface ErrorFields {
  regionError?: errorpb.RegionError;
}

export class KvHandlers {
  /** Set at graceful shutdown: new requests are turned away (see beginDraining). */
  private draining = false;

  constructor(
    private readonly store: Store,
    private readonly limits: KvLimits,
    private readonly clock: StoreClock,
    /** Told of each routed request's keys and size (load-based split, PD's traffic rates). */
    private readonly onLoad?: RequestLoadObserver,
  ) {}

  /**
   * Graceful shutdown: from now on every request gets NotLeader — with the new leader as
   * hint once leadership has moved, without one while this store still leads, so clients
   * go to another store at once. Requests already accepted finish normally.
   */
  beginDraining(): void {
    this.draining = true;
  }

  async get(req: kvpb.GetRequest): Promise<kvpb.GetResponse> {
    checkKey(this.limits, req.key);
    const routed = await this.routeRead(req.context, [req.key]);
    if ('regionError' in routed)
      return { ...empty(), found: false, value: Buffer.alloc(0), regionError: routed.regionError };
    const value = liveValue(this.store.engineGet(dataKey(req.key)), this.clock.nowUnixMs());
    this.noteLoad(routed.peer, {
      kind: 'read',
      samples: [pointSample(req.key)],
      keysCount: 1,
      bytes: req.key.length + (value?.length ?? 0),
    });
    return { ...empty(), found: value !== undefined, value: Buffer.from(value ?? []) };
  }

  async batchGet(req: kvpb.BatchGetRequest): Promise<kvpb.BatchGetResponse> {
    checkCount(this.limits, req.keys.length, 'keys');
    for (const key of req.keys) checkKey(this.limits, key);
    const routed = await this.routeRead(req.context, req.keys);
    if ('regionError' in routed) return { ...empty(), pairs: [], regionError: routed.regionError };
    const now = this.clock.nowUnixMs();
    const unique = [...new Map(req.keys.map((k) => [k.toString('latin1'), k])).values()].sort(compareBytes);
    const pairs: kvpb.KvPair[] = [];
    for (const key of unique) {
      const value = liveValue(this.store.engineGet(dataKey(key)), now);
      if (value !== undefined) pairs.push({ key, value: Buffer.from(value) });
    }
    this.noteLoad(routed.peer, {
      kind: 'read',
      samples: unique.map(pointSample),
      keysCount: unique.length,
      bytes: pairs.reduce((sum, p) => sum + p.key.length + p.value.length, 0),
    });
    return { ...empty(), pairs };
  }

  async scan(req: kvpb.ScanRequest): Promise<kvpb.ScanResponse> {
    if (req.limit < 1 || req.limit > this.limits.scanLimitMax) {
      throw invalid(`scan limit must be in [1, ${this.limits.scanLimitMax}], got ${req.limit}`);
    }
    if (req.endKey.length > 0 && compareBytes(req.startKey, req.endKey) >= 0) {
      throw invalid('scan startKey must be below endKey');
    }
    const routed = await this.routeRead(req.context, [req.startKey]);
    if ('regionError' in routed)
      return { ...empty(), pairs: [], hasMore: false, regionError: routed.regionError };
    const region = routed.peer.region;
    const end = clampEnd(req.endKey, region.endKey);
    const range = dataRange(req.startKey, end);
    const pairs: kvpb.KvPair[] = [];
    const now = this.clock.nowUnixMs();
    // Page through the range until `limit` live pairs plus one (to know whether more
    // follow) are found; expired keys are skipped.
    let hasMore = false;
    let cursor = range;
    for (let page = 0; page < SCAN_PAGES_MAX && !hasMore; page++) {
      const kvs = await this.store.engineScan(cursor, { limit: req.limit + 1, reverse: req.reverse });
      for (const kv of kvs) {
        const value = liveValue(kv.value, now);
        if (value === undefined) continue;
        if (pairs.length === req.limit) {
          hasMore = true;
          break;
        }
        pairs.push({
          key: Buffer.from(userKeyOf(kv.key)),
          value: req.keyOnly ? Buffer.alloc(0) : Buffer.from(value),
        });
      }
      const last = kvs.at(-1);
      if (kvs.length <= req.limit || last === undefined) break;
      cursor = req.reverse
        ? { start: cursor.start, end: last.key }
        : { start: keySuccessor(last.key), end: cursor.end };
    }
    this.noteLoad(routed.peer, {
      kind: 'read',
      samples: [{ startKey: req.startKey, endKey: end }],
      keysCount: pairs.length,
      bytes: pairs.reduce((sum, p) => sum + p.key.length + p.value.length, 0),
    });
    return { ...empty(), pairs, hasMore };
  }

  put(req: kvpb.PutRequest): Promise<kvpb.PutResponse> {
    checkKey(this.limits, req.key);
    checkValue(this.limits, req.key, req.value);
    return this.write(
      req.context,
      [req.key],
      [{ kind: 'put', key: req.key, value: req.value, ttlMs: ttlMsOf(req.ttlMs) }],
    );
  }

  delete(req: kvpb.DeleteRequest): Promise<kvpb.DeleteResponse> {
    checkKey(this.limits, req.key);
    return this.write(req.context, [req.key], [{ kind: 'delete', key: req.key }]);
  }

  /**
   * An empty start is the region's start and an empty end its end (kvpb.proto). The start is
   * filled in here, from the region the request was routed to: the command carries the
   * routed epoch, so it is refused at apply if a split or merge moved the start meanwhile.
   */
  deleteRange(req: kvpb.DeleteRangeRequest): Promise<kvpb.DeleteRangeResponse> {
    if (req.startKey.length > 0) checkKey(this.limits, req.startKey, 'startKey');
    if (req.endKey.length > 0) checkKey(this.limits, req.endKey, 'endKey');
    if (req.endKey.length > 0 && compareBytes(req.startKey, req.endKey) >= 0) {
      throw invalid('deleteRange startKey must be below endKey');
    }
    return this.write(req.context, req.startKey.length > 0 ? [req.startKey] : [], (region) => {
      const startKey = req.startKey.length > 0 ? req.startKey : region.startKey;
      // [region start, end) is empty when end is at or before the region: the client's
      // region cache is wrong about this region's range.
      if (req.endKey.length > 0 && compareBytes(startKey, req.endKey) >= 0)
        return { kind: 'keyNotInRegion', key: req.endKey, region };
      return [{ kind: 'deleteRange', startKey, endKey: req.endKey }];
    });
  }

  batchWrite(req: kvpb.BatchWriteRequest): Promise<kvpb.BatchWriteResponse> {
    checkCount(this.limits, req.mutations.length, 'mutations');
    const mutations: WriteMutation[] = req.mutations.map((m, i) => {
      switch (m.op?.$case) {
        case 'put':
          checkKey(this.limits, m.op.put.key, `mutations[${i}].key`);
          checkValue(this.limits, m.op.put.key, m.op.put.value);
          return { kind: 'put', key: m.op.put.key, value: m.op.put.value, ttlMs: ttlMsOf(m.op.put.ttlMs) };
        case 'delete':
          checkKey(this.limits, m.op.delete.key, `mutations[${i}].key`);
          return { kind: 'delete', key: m.op.delete.key };
        case undefined:
          throw invalid(`mutations[${i}] has no operation`);
      }
    });
    const keys = mutations.map((m) => (m.kind === 'deleteRange' ? m.startKey : m.key));
    return this.write(req.context, keys, mutations);
  }

  async compareAndSwap(req: kvpb.CompareAndSwapRequest): Promise<kvpb.CompareAndSwapResponse> {
    checkKey(this.limits, req.key);
    if (req.expected === undefined) throw invalid('compareAndSwap needs expectedValue or expectedAbsent');
    if (req.update === undefined) throw invalid('compareAndSwap needs newValue or delete');
    if (req.update.$case === 'newValue') checkValue(this.limits, req.key, req.update.newValue);
    const ttlMs = ttlMsOf(req.ttlMs);
    const routed = this.route(req.context, [req.key]);
    const failed = { ...empty(), succeeded: false, previousFound: false, previousValue: Buffer.alloc(0) };
    if ('regionError' in routed) return { ...failed, regionError: routed.regionError };
    const newValueBytes = req.update.$case === 'newValue' ? req.update.newValue.length : 0;
    this.noteLoad(routed.peer, {
      kind: 'write',
      samples: [pointSample(req.key)],
      keysCount: 1,
      bytes: req.key.length + newValueBytes,
    });
    const data = encodeCompareAndSwap(this.origin(routed.peer), {
      key: req.key,
      expectedValue: req.expected.$case === 'expectedValue' ? req.expected.expectedValue : undefined,
      newValue: req.update.$case === 'newValue' ? req.update.newValue : undefined,
      ttlMs,
    });
    const result = await this.propose(routed.peer, data, req.context);
    if (result.kind === 'regionError') return { ...failed, regionError: regionErrorToProto(result.error) };
    if (result.kind !== 'compareAndSwap') throw new Error(`compare-and-swap applied as ${result.kind}`);
    return {
      ...empty(),
      succeeded: result.succeeded,
      previousFound: result.previousValue !== undefined,
      previousValue: Buffer.from(result.previousValue ?? []),
    };
  }

  /** Routes by `keys`, then proposes the mutations (given, or built for the routed region). */
  private async write(
    context: kvpb.Context | undefined,
    keys: readonly Uint8Array[],
    mutationsOrBuild: WriteMutation[] | ((region: RegionMeta) => WriteMutation[] | RegionError),
  ): Promise<ErrorFields> {
    const routed = this.route(context, keys);
    if ('regionError' in routed) return { ...empty(), regionError: routed.regionError };
    const mutations =
      typeof mutationsOrBuild === 'function' ? mutationsOrBuild(routed.peer.region) : mutationsOrBuild;
    if (!Array.isArray(mutations)) return { ...empty(), regionError: regionErrorToProto(mutations) };
    this.noteLoad(routed.peer, writeLoad(mutations, routed.peer.region.endKey));
    const result = await this.propose(routed.peer, encodeWrite(this.origin(routed.peer), mutations), context);
    if (result.kind === 'regionError') return { ...empty(), regionError: regionErrorToProto(result.error) };
    return empty();
  }

  private noteLoad(peer: RegionPeer, load: RequestLoad): void {
    this.onLoad?.(peer.region, load);
  }

  private origin(peer: RegionPeer): { region: RegionMeta; peerId: number; nowUnixMs: number } {
    return { region: peer.region, peerId: peer.peerId, nowUnixMs: this.clock.nowUnixMs() };
  }

  private propose(
    peer: RegionPeer,
    data: Uint8Array,
    context: kvpb.Context | undefined,
  ): Promise<CommandResult> {
    return withDeadline(this.store.propose(peer.regionId, data), this.deadlineMs(context)).then((result) => {
      // In the log, fate unknown: the same answer as a deadline, so no client retries it blindly.
      if (result.kind === 'outcomeUnknown')
        throw new KvRequestError(kvpb.KeyErrorCode.DEADLINE_EXCEEDED, result.reason);
      return result;
    });
  }

  /** Checks store, region, epoch and keys; for reads also waits for the barrier the consistency level needs. */
  private async routeRead(context: kvpb.Context | undefined, keys: readonly Uint8Array[]): Promise<Routed> {
    const routed = this.route(context, keys);
    if ('regionError' in routed) return routed;
    const { peer } = routed;
    const versionRouted = peer.region.epoch.version;
    const error = await withDeadline(
      this.readBarrier(peer, context?.readConsistency ?? kvpb.ReadConsistency.LINEARIZABLE),
      this.deadlineMs(context),
    );
    if (error) return { regionError: regionErrorToProto(error) };
    // A split applied while the read waited: keys now in a new region may already hold
    // writes this peer's barrier does not cover.
    if (this.store.region(peer.regionId) !== peer || peer.region.epoch.version !== versionRouted)
      return { regionError: regionErrorToProto(this.store.epochNotMatch(peer, versionRouted)) };
    return routed;
  }

  private async readBarrier(
    peer: RegionPeer,
    consistency: kvpb.ReadConsistency,
  ): Promise<RegionError | undefined> {
    switch (consistency) {
      case kvpb.ReadConsistency.STALE:
        return undefined;
      case kvpb.ReadConsistency.LINEARIZABLE:
      case kvpb.ReadConsistency.LEASE:
        // Client reads go to the leader; the SDK follows the NotLeader hint.
        if (peer.node.basicStatus().role !== 'leader') return peer.notLeader();
        return this.store.readBarrier(
          peer.regionId,
          consistency === kvpb.ReadConsistency.LEASE ? 'lease' : 'safe',
        );
      case kvpb.ReadConsistency.LOG: {
        const result = await this.store.propose(peer.regionId, encodeReadBarrier(this.origin(peer)));
        if (result.kind === 'regionError') return result.error;
        // The barrier must have applied here; anything else (e.g. the store stopping) is no read.
        if (result.kind !== 'readBarrier')
          return { kind: 'serverIsBusy', reason: `read barrier ended as ${result.kind}`, backoffMs: 0 };
        return undefined;
      }
      default:
        throw invalid(`unknown read consistency ${consistency}`);
    }
  }

  private route(context: kvpb.Context | undefined, keys: readonly Uint8Array[]): Routed {
    if (context === undefined) throw invalid('request has no context (regionId, regionEpoch)');
    const regionId = wireChecked(() => toSafeNumber(context.regionId, 'context.regionId'));
    const peer = this.store.region(regionId);
    // An uninitialized peer (created by a message, waiting for its snapshot) holds no range yet.
    if (peer === undefined || !peer.initialized)
      return { regionError: regionErrorToProto({ kind: 'regionNotFound', regionId }) };
    const requestPeer = context.peer;
    const requestStoreId = requestPeer
      ? wireChecked(() => toSafeNumber(requestPeer.storeId, 'context.peer.storeId'))
      : 0;
    if (requestStoreId !== 0 && requestStoreId !== this.store.storeId) {
      return {
        regionError: regionErrorToProto({
          kind: 'storeNotMatch',
          requestStoreId,
          actualStoreId: this.store.storeId,
        }),
      };
    }
    if (this.draining) return { regionError: regionErrorToProto(this.drainingRefusal(peer)) };
    const region = peer.region;
    const epoch = wireChecked(() => epochFromProto(context.regionEpoch, 'context.regionEpoch'));
    // The client's cache must match the region exactly (range: version; members: confVer),
    // so that its next request goes to the right region and the right stores.
    if (!epochMatches(region.epoch, epoch))
      return { regionError: regionErrorToProto(this.store.epochNotMatch(peer, epoch.version)) };
    // A frozen merge source serves nothing: after the merge its keys are the target's.
    if (peer.mergeState !== null) return { regionError: regionErrorToProto(peer.merging()) };
    for (const key of keys) {
      if (!regionContainsKey(region, key))
        return { regionError: regionErrorToProto({ kind: 'keyNotInRegion', key, region }) };
    }
    return { peer };
  }

  private drainingRefusal(peer: RegionPeer): RegionError {
    const refusal = peer.notLeader();
    if (refusal.kind === 'notLeader' && refusal.leader?.id === peer.peerId)
      return { ...refusal, leader: undefined };
    return refusal;
  }

  private deadlineMs(context: kvpb.Context | undefined): number {
    const requested = context?.deadlineMs ?? 0;
    if (requested === 0) return this.limits.defaultDeadlineMs;
    return Math.min(requested, this.limits.deadlineMsMax);
  }
}

/** Pages one Scan may read while skipping expired keys (bounds the work of one request). */
const SCAN_PAGES_MAX = 64;

function empty(): { regionError: undefined; keyError: undefined } {
  return { regionError: undefined, keyError: undefined };
}

/** The smaller of a requested end key and a region's end key; empty means unbounded. */
function clampEnd(requested: Uint8Array, regionEnd: Uint8Array): Uint8Array {
  if (regionEnd.length === 0) return requested;
  if (requested.length === 0 || compareBytes(requested, regionEnd) > 0) return regionEnd;
  return requested;
}

/** Runs a wire-number conversion; a number out of range is the caller's INVALID_ARGUMENT, not a bug. */
function wireChecked<T>(convert: () => T): T {
  try {
    return convert();
  } catch (err) {
    if (err instanceof WireNumberError) throw invalid(err.message);
    throw err;
  }
}

/** Rejects with DEADLINE_EXCEEDED if `promise` has not settled within `deadlineMs`. */
function withDeadline<T>(promise: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new KvRequestError(
            kvpb.KeyErrorCode.DEADLINE_EXCEEDED,
            `no result within the ${deadlineMs} ms deadline`,
          ),
        ),
      deadlineMs,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
