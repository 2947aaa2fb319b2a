// The cluster as the PD leader sees it: cluster id, bootstrap, stores, the region tree and
// id allocation. It lives in memory on the leader only, loaded from the meta store when this
// member becomes leader (load) and dropped when it stops being leader (unload). Every change
// that must survive a failover is written to the meta store first, then applied in memory.
// The scheduler plugs in through onRegionHeartbeat, onStoreFirstHeard and sendOperator.
import { randomBytes } from 'node:crypto';
import { metapb, pdpb } from '@flotilla/proto';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import { regionFromProto, regionToProto } from '../../../server/src/store/region-meta.js';
import { IdAllocator } from '../id-allocator.js';
import type { MetaKv, MetaMutation } from '../meta/meta-kv.js';
import {
  bootstrapKey,
  clusterIdKey,
  decodeU64Value,
  encodeU64Value,
  regionKey,
  regionKeyRange,
  storeKey,
  storeKeyRange,
} from '../meta/meta-keys.js';
import { PdRequestError, invalidArgument, notLeader } from '../pd-errors.js';
import { judgeRegionHeartbeat } from './heartbeat-rules.js';
import type { HeartbeatVerdict } from './heartbeat-rules.js';
import { HeartbeatStreams } from './heartbeat-streams.js';
import type { RegionInfo } from './region-info.js';
import { regionInfoOf } from './region-info.js';
import { REGIONS_MAX, RegionTree } from './region-tree.js';
import { STORES_MAX, StoreDirectory } from './store-directory.js';
import { SerialQueue } from './serial-queue.js';
import type { StoreInfo } from './store-directory.js';

/** Metadata changes waiting for their turn; beyond it requests fail (and are retried by callers). */
const METADATA_CHANGES_WAITING_MAX = 4096;
/** New regions one AskBatchSplit may ask for. */
export const SPLITS_PER_REQUEST_MAX = 256;

export interface PdClusterOptions {
  readonly kv: MetaKv;
  readonly nowUnixMs: () => number;
  readonly idBlockSize?: number;
  readonly log: (line: string) => void;
}

/** A region heartbeat as the service decoded it. */
export interface RegionReport {
  readonly region: RegionMeta;
  readonly leader: RegionInfo['leader'];
  readonly term: number;
  readonly downPeers: RegionInfo['downPeers'];
  readonly pendingPeers: RegionInfo['pendingPeers'];
  readonly load: RegionInfo['load'];
}

/** What the leader loaded for its term. */
interface LoadedState {
  readonly clusterId: number;
  bootstrapped: boolean;
  readonly stores: StoreDirectory;
  readonly regions: RegionTree;
}

export class PdCluster {
  private state: LoadedState | undefined;
  private readonly ids: IdAllocator;
  private readonly changes = new SerialQueue(METADATA_CHANGES_WAITING_MAX);
  /** The RegionHeartbeat streams, by store; operators are sent through them. */
  readonly streams = new HeartbeatStreams();
  /** Called after every accepted region heartbeat (the scheduler's entry point). */
  onRegionHeartbeat: ((info: RegionInfo) => void) | undefined;
  /** A store's first heartbeat since this member loaded the cluster (a new store, or a restart). */
  onStoreFirstHeard: ((storeId: number) => void) | undefined;

  constructor(private readonly options: PdClusterOptions) {
    this.ids = new IdAllocator(options.kv, options.idBlockSize);
  }

  get loaded(): boolean {
    return this.state !== undefined;
  }

  get clusterId(): number | undefined {
    return this.state?.clusterId;
  }

  /** Builds the in-memory cluster from the meta store (on becoming leader). */
  async load(): Promise<void> {
    const { kv } = this.options;
    const clusterId = await loadOrCreateClusterId(kv);
    const record = await kv.get(bootstrapKey);
    if (record !== undefined) await completeBootstrap(kv, pdpb.BootstrapRequest.decode(record));
    const stores = new StoreDirectory();
    for (const { value } of await kv.scan(storeKeyRange, STORES_MAX)) stores.put(metapb.Store.decode(value));
    const regions = new RegionTree();
    for (const { value } of await kv.scan(regionKeyRange, REGIONS_MAX)) {
      regions.put(regionInfoOf(regionFromProto(metapb.Region.decode(value))));
    }
    this.ids.reset();
    this.state = { clusterId, bootstrapped: record !== undefined, stores, regions };
    this.options.log(`cluster ${clusterId} loaded: ${stores.size} store(s), ${regions.size} region(s)`);
  }

  /** Drops the in-memory cluster (on losing leadership) and ends the heartbeat streams. */
  unload(leaderHint: string): void {
    this.state = undefined;
    this.ids.reset();
    this.streams.closeAll({
      header: { clusterId: 0n, error: { type: pdpb.ErrorType.NOT_LEADER, message: leaderHint } },
      regionId: 0n,
      regionEpoch: undefined,
      targetPeer: undefined,
      operator: undefined,
    });
  }

  isBootstrapped(): boolean {
    return this.loadedState().bootstrapped;
  }

  /** Creates the cluster with its first store and region, once. */
  bootstrap(store: metapb.Store, region: RegionMeta): Promise<void> {
    validateBootstrap(store, region);
    return this.changes.run(async () => {
      const state = this.loadedState();
      const record = pdpb.BootstrapRequest.encode({
        header: undefined,
        store,
        region: regionToProto(region),
      }).finish();
      const outcome = await this.options.kv.compareAndSwap(bootstrapKey, undefined, record);
      if (!outcome.succeeded) {
        state.bootstrapped = true;
        throw new PdRequestError(pdpb.ErrorType.ALREADY_BOOTSTRAPPED, 'the cluster is already bootstrapped');
      }
      await completeBootstrap(this.options.kv, pdpb.BootstrapRequest.decode(record));
      state.stores.put(storeAsRegistered(store, undefined));
      state.regions.put(regionInfoOf(region));
      state.bootstrapped = true;
      this.options.log(`bootstrapped by store ${store.id} (${store.address}) with region ${region.id}`);
    });
  }

  allocIds(count: number): Promise<number[]> {
    this.loadedState();
    return this.ids.allocMany(count);
  }

  /** Registers a store (id from AllocId) or updates it; its state stays what PD decided. */
  putStore(store: metapb.Store): Promise<void> {
    const storeId = positiveId(store.id, 'store.id');
    if (store.address.length === 0) throw invalidArgument('store.address is empty');
    return this.changes.run(async () => {
      const state = this.bootstrappedState();
      const old = state.stores.get(storeId);
      if (old?.store.state === metapb.StoreState.TOMBSTONE) {
        throw new PdRequestError(pdpb.ErrorType.STORE_TOMBSTONE, `store ${storeId} is a tombstone`);
      }
      const clash = state.stores.findByAddress(store.address, storeId);
      if (clash !== undefined) {
        throw new PdRequestError(
          pdpb.ErrorType.INVALID_ARGUMENT,
          `address ${store.address} is already used by store ${clash.store.id}`,
        );
      }
      const registered = storeAsRegistered(store, old?.store);
      await this.options.kv.write([
        { kind: 'put', key: storeKey(storeId), value: metapb.Store.encode(registered).finish() },
      ]);
      state.stores.put(registered);
    });
  }

  /**
   * Moves a store forward in its lifecycle: Up → Offline (the scheduler then moves its
   * replicas away) → Tombstone (only once no region has a peer on it; its heartbeats are then
   * refused and its id never reused). Setting the current state again is a no-op.
   */
  setStoreState(storeId: number, next: metapb.StoreState): Promise<metapb.Store> {
    return this.changes.run(async () => {
      const state = this.bootstrappedState();
      const old = state.stores.get(storeId);
      if (old === undefined)
        throw new PdRequestError(pdpb.ErrorType.STORE_NOT_FOUND, `store ${storeId} is unknown`);
      const order = [metapb.StoreState.UP, metapb.StoreState.OFFLINE, metapb.StoreState.TOMBSTONE];
      const from = order.indexOf(old.store.state);
      const to = order.indexOf(next);
      if (to < 0) throw invalidArgument(`unknown store state ${next}`);
      if (to === from) return old.store;
      if (to < from)
        throw invalidArgument(
          `store ${storeId} is ${metapb.storeStateToJSON(old.store.state)}: states only go forward (Up, Offline, Tombstone)`,
        );
      if (next === metapb.StoreState.TOMBSTONE) {
        const replicas = state.regions
          .all()
          .filter((r) => r.region.peers.some((p) => p.storeId === storeId)).length;
        if (replicas > 0)
          throw invalidArgument(
            `store ${storeId} still holds ${replicas} replica(s); make it Offline and wait`,
          );
      }
      const updated: metapb.Store = { ...old.store, state: next };
      await this.options.kv.write([
        { kind: 'put', key: storeKey(storeId), value: metapb.Store.encode(updated).finish() },
      ]);
      state.stores.put(updated);
      this.options.log(`store ${storeId} is now ${metapb.storeStateToJSON(next)}`);
      return updated;
    });
  }

  getStore(storeId: number): StoreInfo {
    const info = this.bootstrappedState().stores.get(storeId);
    if (info === undefined)
      throw new PdRequestError(pdpb.ErrorType.STORE_NOT_FOUND, `store ${storeId} is not registered`);
    return info;
  }

  getAllStores(excludeTombstones: boolean): StoreInfo[] {
    const all = this.bootstrappedState().stores.all();
    return excludeTombstones ? all.filter((s) => s.store.state !== metapb.StoreState.TOMBSTONE) : all;
  }

  storeHeartbeat(stats: pdpb.StoreStats): void {
    const storeId = positiveId(stats.storeId, 'stats.storeId');
    const info = this.getStore(storeId);
    if (info.store.state === metapb.StoreState.TOMBSTONE) {
      throw new PdRequestError(pdpb.ErrorType.STORE_TOMBSTONE, `store ${storeId} is a tombstone`);
    }
    const firstHeard = info.heartbeatAtUnixMs === 0;
    this.bootstrappedState().stores.recordHeartbeat(storeId, stats, this.options.nowUnixMs());
    const before = info.stats?.diskUsage ?? metapb.DiskUsage.NORMAL;
    if (stats.diskUsage !== before) this.options.log(diskChangeLine(storeId, stats));
    if (firstHeard) this.onStoreFirstHeard?.(storeId);
  }

  /** Applies a region heartbeat; STALE_REGION when the report is older than what PD knows. */
  async regionHeartbeat(report: RegionReport): Promise<RegionInfo> {
    const state = this.bootstrappedState();
    const info: RegionInfo = { ...report, heartbeatAtUnixMs: this.options.nowUnixMs() };
    const verdict = judge(state, report);
    if (verdict.kind === 'accept' && !verdict.persist) {
      state.regions.replaceInPlace(info);
    } else {
      await this.changes.run(async () => {
        // Judged again in turn: an earlier change may have made this report stale.
        const again = judge(state, report);
        if (again.kind === 'stale') throw new PdRequestError(pdpb.ErrorType.STALE_REGION, again.reason);
        await this.persistRegions(state, [info]);
      });
    }
    this.onRegionHeartbeat?.(info);
    return info;
  }

  /** Ids for splitting `region` into `splitCount` more regions: one region id and one id per peer each. */
  async askBatchSplit(region: RegionMeta, splitCount: number): Promise<pdpb.SplitId[]> {
    if (!Number.isSafeInteger(splitCount) || splitCount < 1 || splitCount > SPLITS_PER_REQUEST_MAX) {
      throw invalidArgument(`split_count must be in [1, ${SPLITS_PER_REQUEST_MAX}], got ${splitCount}`);
    }
    const state = this.bootstrappedState();
    const known = state.regions.getById(region.id);
    if (known === undefined)
      throw new PdRequestError(pdpb.ErrorType.REGION_NOT_FOUND, `region ${region.id} is unknown`);
    const verdict = judgeRegionHeartbeat(known, [], { region, term: known.term });
    if (verdict.kind === 'stale') throw new PdRequestError(pdpb.ErrorType.STALE_REGION, verdict.reason);
    const perSplit = 1 + region.peers.length;
    const ids = await this.ids.allocMany(perSplit * splitCount);
    const out: pdpb.SplitId[] = [];
    for (let i = 0; i < splitCount; i++) {
      const chunk = ids.slice(i * perSplit, (i + 1) * perSplit);
      out.push({ newRegionId: BigInt(chunk[0] as number), newPeerIds: chunk.slice(1).map(BigInt) });
    }
    return out;
  }

  /** Records the regions a split produced (also learned from their heartbeats if this report is lost). */
  reportBatchSplit(regions: readonly RegionMeta[]): Promise<void> {
    if (regions.length < 2)
      throw invalidArgument(`a split report needs at least 2 regions, got ${regions.length}`);
    for (let i = 1; i < regions.length; i++) {
      const prev = regions[i - 1] as RegionMeta;
      const next = regions[i] as RegionMeta;
      if (Buffer.compare(prev.endKey, next.startKey) !== 0) {
        throw invalidArgument(`regions ${prev.id} and ${next.id} of the split report are not adjacent`);
      }
    }
    return this.changes.run(async () => {
      const state = this.bootstrappedState();
      const accepted: RegionInfo[] = [];
      for (const region of regions) {
        const known = state.regions.getById(region.id);
        const others = state.regions
          .overlaps(region)
          .filter((o) => !regions.some((r) => r.id === o.region.id));
        const verdict = judgeRegionHeartbeat(known, others, { region, term: known?.term ?? 0 });
        if (verdict.kind === 'stale') {
          this.options.log(`split report: ${verdict.reason}; skipped`);
          continue;
        }
        accepted.push(known === undefined ? regionInfoOf(region) : { ...known, region });
      }
      await this.persistRegions(state, accepted);
    });
  }

  getRegionByKey(key: Uint8Array): RegionInfo | undefined {
    return this.bootstrappedState().regions.getByKey(key);
  }

  getPrevRegion(key: Uint8Array): RegionInfo | undefined {
    return this.bootstrappedState().regions.getPrev(key);
  }

  getRegionById(regionId: number): RegionInfo | undefined {
    return this.bootstrappedState().regions.getById(regionId);
  }

  scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    return this.bootstrappedState().regions.scan(startKey, endKey, limit);
  }

  /**
   * Sends an operator to the leader of `regionId` on its store's heartbeat stream. Returns
   * false when the region, its leader or its stream is unknown, or the stream is full.
   */
  sendOperator(regionId: number, operator: pdpb.RegionHeartbeatResponse['operator']): boolean {
    const state = this.state;
    const info = state?.regions.getById(regionId);
    if (state === undefined || info?.leader === undefined) return false;
    return this.streams.send(info.leader.storeId, {
      header: { clusterId: BigInt(state.clusterId), error: undefined },
      regionId: BigInt(regionId),
      regionEpoch: { confVer: BigInt(info.region.epoch.confVer), version: BigInt(info.region.epoch.version) },
      targetPeer: {
        id: BigInt(info.leader.id),
        storeId: BigInt(info.leader.storeId),
        role: metapb.PeerRole.VOTER,
      },
      operator,
    });
  }

  /** Writes the regions and deletes those they overlap, in one write; then updates the tree. */
  private async persistRegions(state: LoadedState, infos: readonly RegionInfo[]): Promise<void> {
    if (infos.length === 0) return;
    const ids = new Set(infos.map((i) => i.region.id));
    const mutations: MetaMutation[] = [];
    for (const info of infos) {
      for (const old of state.regions.overlaps(info.region)) {
        if (!ids.has(old.region.id)) mutations.push({ kind: 'delete', key: regionKey(old.region.id) });
      }
      mutations.push({
        kind: 'put',
        key: regionKey(info.region.id),
        value: metapb.Region.encode(regionToProto(info.region)).finish(),
      });
    }
    await this.options.kv.write(mutations);
    for (const info of infos) {
      for (const old of state.regions.put(info)) {
        this.options.log(
          `region ${old.region.id} replaced by region ${info.region.id} (epoch version ${info.region.epoch.version})`,
        );
      }
    }
  }

  private loadedState(): LoadedState {
    if (this.state === undefined) throw notLeader('this PD member is not serving as leader');
    return this.state;
  }

  private bootstrappedState(): LoadedState {
    const state = this.loadedState();
    if (!state.bootstrapped)
      throw new PdRequestError(pdpb.ErrorType.NOT_BOOTSTRAPPED, 'the cluster is not bootstrapped');
    return state;
  }
}

/** "store 3 disk ALMOST_FULL (1.2 MiB available of 24.0 MiB, reserve 2.0 MiB): ...". */
export function diskChangeLine(storeId: number, stats: pdpb.StoreStats): string {
  const mib = (v: bigint): string => `${(Number(v) / (1024 * 1024)).toFixed(1)} MiB`;
  const level = metapb.diskUsageToJSON(stats.diskUsage).replace(/^DISK_USAGE_/, '');
  const space = `${mib(stats.availableBytes)} available of ${mib(stats.capacityBytes)}, reserve ${mib(stats.reservedBytes)}`;
  const what =
    stats.diskUsage === metapb.DiskUsage.NORMAL
      ? 'PD places data on it again'
      : 'PD places no data or leaders on it and moves its leaders and regions away';
  return `store ${storeId} disk ${level} (${space}): ${what}`;
}

function judge(state: LoadedState, report: { region: RegionMeta; term: number }): HeartbeatVerdict {
  return judgeRegionHeartbeat(
    state.regions.getById(report.region.id),
    state.regions.overlaps(report.region),
    report,
  );
}

/** The cluster id, created by the first leader and agreed on by CAS. */
async function loadOrCreateClusterId(kv: MetaKv): Promise<number> {
  const existing = await kv.get(clusterIdKey);
  if (existing !== undefined) return decodeU64Value(existing, 'cluster id');
  const outcome = await kv.compareAndSwap(clusterIdKey, undefined, encodeU64Value(newClusterId()));
  const value = outcome.succeeded ? await kv.get(clusterIdKey) : outcome.previousValue;
  if (value === undefined) throw new Error('cluster id missing right after it was set');
  return decodeU64Value(value, 'cluster id');
}

/** A random non-zero id that fits a JavaScript safe integer (every id here is a number). */
export function newClusterId(): number {
  const value = randomBytes(8).readBigUInt64BE() & BigInt(Number.MAX_SAFE_INTEGER);
  return value === 0n ? 1 : Number(value);
}

/**
 * Writes the store and region a bootstrap record names, if not yet done. The record is the
 * CAS-won marker; a leader that died between the CAS and this write is finished by the next.
 * The store key doubles as "done": stores are never deleted, while the region may later be
 * replaced by its splits.
 */
async function completeBootstrap(kv: MetaKv, record: pdpb.BootstrapRequest): Promise<void> {
  if (record.store === undefined || record.region === undefined)
    throw new Error('bootstrap record is incomplete');
  const storeId = Number(record.store.id);
  if ((await kv.get(storeKey(storeId))) !== undefined) return;
  await kv.write([
    {
      kind: 'put',
      key: storeKey(storeId),
      value: metapb.Store.encode(storeAsRegistered(record.store, undefined)).finish(),
    },
    {
      kind: 'put',
      key: regionKey(Number(record.region.id)),
      value: metapb.Region.encode(record.region).finish(),
    },
  ]);
}

function storeAsRegistered(store: metapb.Store, old: metapb.Store | undefined): metapb.Store {
  return { ...store, state: old?.state ?? metapb.StoreState.UP };
}

function validateBootstrap(store: metapb.Store, region: RegionMeta): void {
  const storeId = positiveId(store.id, 'store.id');
  if (store.address.length === 0) throw invalidArgument('store.address is empty');
  if (region.id <= 0) throw invalidArgument('region.id must be positive');
  if (region.startKey.length !== 0 || region.endKey.length !== 0) {
    throw invalidArgument('the first region must span the whole key space (empty start and end keys)');
  }
  if (region.peers.length !== 1 || region.peers[0]?.storeId !== storeId) {
    throw invalidArgument(`the first region must have exactly one peer, on store ${storeId}`);
  }
  if ((region.peers[0]?.id ?? 0) <= 0) throw invalidArgument('the first peer id must be positive');
}

export function positiveId(value: bigint, field: string): number {
  if (value <= 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(`${field} must be in [1, 2^53 - 1], got ${value}`);
  }
  return Number(value);
}
