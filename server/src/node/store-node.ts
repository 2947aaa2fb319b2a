// A store node process, assembled: the Raft runtime (LevelDB engine, multi-raft store and
// its ticker, store-to-store Raft transport, snapshot receiver, Raft service; see
// raft-runtime.ts) plus the Kv and Admin services and the TTL sweeper. A store runs in one
// of two kinds of cluster:
//   - with a Placement Driver (pd): the store gets its id from PD, registers, bootstraps
//     the cluster if it is the first (store-bootstrap.ts), finds other stores through PD,
//     reports its regions (pd-heartbeats.ts) and carries out PD's operators.
//   - static (for development and the single-region tests): every node is started with the
//     same initial member list, and the only region spans the key space with one peer per
//     initial store (peer id = store id).
import { kvpb, raftpb } from '@flotilla/proto';
import type { Store } from '../store/store.js';
import { TtlSweeper } from '../store/ttl-sweeper.js';
import type { StoreConfig } from '../store/store-config.js';
import type { DiskConfig, DiskSpace } from '../storage/disk-space.js';
import type { LevelDbEngineOptions } from '../storage/leveldb-engine.js';
import type { RegionMeta } from '../store/region-meta.js';
import { KvHandlers } from '../service/kv-handlers.js';
import type { KvLimits } from '../service/kv-limits.js';
import { KV_LIMITS_DEFAULTS } from '../service/kv-limits.js';
import { kvServiceImplementation } from '../service/kv-grpc.js';
import { adminServiceImplementation } from '../service/admin-grpc.js';
import { RaftRuntime, checkNodeIdent } from './raft-runtime.js';
import { PdClient } from '../pd-client/pd-client.js';
import { joinCluster } from '../pd-client/store-bootstrap.js';
import { StoreAddressResolver } from '../pd-client/store-address-resolver.js';
import { PdHeartbeats } from '../pd-client/pd-heartbeats.js';
import { OperatorRunner, splitForOperator } from '../pd-client/operator-runner.js';
import { pdSplitIds, reportSplit } from '../pd-client/pd-split-ids.js';
import { StalePeerCheck } from '../pd-client/stale-peer-check.js';
import {
  LOAD_SPLIT_CHECK_INTERVAL_MS,
  LoadSplitChecker,
  loadSplitStoreOf,
} from '../store/load-split-checker.js';
import { RegionTraffic } from '../store/region-traffic.js';

export const FLOTILLA_VERSION = '0.1.0';

export type ClusterMembership =
  | {
      readonly kind: 'static';
      readonly storeId: number;
      /** Every initial store's id and address (this one included). */
      readonly initialCluster: ReadonlyMap<number, string>;
      readonly clusterId?: number;
    }
  | {
      readonly kind: 'pd';
      /** PD members' host:port (one is enough; the others are learned). */
      readonly pdEndpoints: readonly string[];
      readonly storeHeartbeatIntervalMs?: number;
      readonly regionHeartbeatIntervalMs?: number;
    };

export interface StoreNodeOptions {
  readonly cluster: ClusterMembership;
  /** host:port to listen on; port 0 picks a free one (static clusters only). */
  readonly listenAddress: string;
  readonly dataDir: string;
  readonly storeConfig?: Partial<StoreConfig>;
  /** The disk reserve and its checks (storage/disk-space.ts). */
  readonly disk?: Partial<DiskConfig>;
  /** LevelDB's options (storage/leveldb-engine.ts). */
  readonly engine?: LevelDbEngineOptions;
  readonly kvLimits?: Partial<KvLimits>;
  readonly log?: (line: string) => void;
  /** Called when the store hits an unrecoverable error; the default exits the process. */
  readonly onFatal?: (error: Error) => void;
}

export class StoreNodeError extends Error {
  readonly code = 'STORE_NODE';
}

/** Defaults for PD reporting; the server configuration overrides them. */
const STORE_HEARTBEAT_INTERVAL_MS_DEFAULT = 2_000;
const REGION_HEARTBEAT_INTERVAL_MS_DEFAULT = 20_000;
/** A peer that has not heard its leader this long asks PD whether it was removed. */
const LEADER_MISSING_MS = 20_000;
const STALE_PEER_CHECK_INTERVAL_MS = 5_000;
/** How often leadership and epochs are compared with what PD was last told. */
const REGION_WATCH_INTERVAL_MS = 1_000;
/** How often the store pushes the merges whose source it leads on (merge-coordinator.ts). */
const MERGE_ADVANCE_INTERVAL_MS = 100;

/** Where the node's store id, cluster id and peers' addresses come from. */
interface Membership {
  readonly storeId: number;
  readonly clusterId: number;
  readonly resolveAddress: (storeId: number) => Promise<string>;
  readonly bootstrapRegion?: RegionMeta;
  readonly pd?: PdClient;
}

export class StoreNode {
  private sweepTimer: NodeJS.Timeout | undefined;
  private mergeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private heartbeats: PdHeartbeats | undefined;
  private splitCheckTimer: NodeJS.Timeout | undefined;
  private stalePeerTimer: NodeJS.Timeout | undefined;
  private loadSplitTimer: NodeJS.Timeout | undefined;
  /** Load-based split (PD clusters only). */
  loadSplit: LoadSplitChecker | undefined;

  private constructor(
    private readonly runtime: RaftRuntime,
    private readonly kvHandlers: KvHandlers,
    readonly storeId: number,
    readonly clusterId: number,
    /** The PD client (PD clusters only). */
    readonly pd: PdClient | undefined,
    /** PD operators carried out (PD clusters only). */
    readonly operators: OperatorRunner | undefined,
  ) {}

  get store(): Store {
    return this.runtime.store;
  }

  get address(): string {
    return this.runtime.address;
  }

  get config(): StoreConfig {
    return this.runtime.config;
  }

  /** The data directory's disk (how full, the reserve). */
  get disk(): DiskSpace {
    return this.runtime.disk;
  }

  /** First step of a graceful shutdown: client requests are turned away with NotLeader from now on. */
  beginShutdown(): void {
    this.kvHandlers.beginDraining();
  }

  static async start(options: StoreNodeOptions): Promise<StoreNode> {
    const log = options.log ?? ((line: string) => console.error(line));
    const limits: KvLimits = { ...KV_LIMITS_DEFAULTS, ...options.kvLimits };
    const membership = await joinMembership(options, log);
    const { storeId, clusterId, pd } = membership;
    let handlers: KvHandlers | undefined;
    // PD clusters watch each region's load: PD's hot-region scheduler reads the traffic in the
    // region heartbeats, and a region hot for long enough splits by load (split ids need PD).
    let loadSplit: LoadSplitChecker | undefined;
    const traffic = pd === undefined ? undefined : new RegionTraffic(() => Date.now());
    let runtime: RaftRuntime;
    let heartbeats: PdHeartbeats | undefined;
    try {
      runtime = await RaftRuntime.start({
        nodeId: storeId,
        listenAddress: options.listenAddress,
        dataDir: options.dataDir,
        storeConfig: options.storeConfig,
        disk: options.disk,
        engine: options.engine,
        bootstrapRegion: membership.bootstrapRegion,
        prepareEngine: (engine) => checkNodeIdent(engine, clusterId, storeId),
        resolveAddress: membership.resolveAddress,
        splitIds: pd ? pdSplitIds(pd) : undefined,
        onRegionsChanged: pd
          ? (event) => {
              // A split is reported at once; a merge reaches PD with the target's region
              // heartbeat, sent now rather than at the next watch period (its epoch changed).
              if (event.kind === 'split')
                reportSplit(pd, event.regions, (line) => log(`store ${storeId}: ${line}`));
              heartbeats?.watchSoon();
            }
          : undefined,
        onRegionReportDue: pd ? (regionId) => heartbeats?.reportSoon(regionId) : undefined,
        addServices: (server, { store, clock, config }) => {
          const checker =
            pd === undefined
              ? undefined
              : new LoadSplitChecker(
                  loadSplitStoreOf(store),
                  config,
                  () => clock.nowUnixMs(),
                  (line) => log(`store ${storeId}: ${line}`),
                );
          loadSplit = checker;
          handlers = new KvHandlers(store, limits, clock, (region, load) => {
            if (checker !== undefined) for (const sample of load.samples) checker.record(region, sample);
            traffic?.record(region.id, load.kind, load.keysCount, load.bytes);
          });
          server.addService(
            kvpb.KvService,
            kvServiceImplementation({
              handlers,
              limits,
              onInternalError: (e) => log(`kv internal error: ${String(e)}`),
            }),
          );
        },
        log,
        onFatal:
          options.onFatal ??
          ((error: Error) => {
            log(`store ${storeId}: fatal: ${error.stack ?? error.message}`);
            process.exit(70);
          }),
      });
    } catch (err) {
      pd?.close();
      throw err;
    }
    const { store, address, clock, config } = runtime;
    const startedAtMs = Date.now();
    runtime.addService(
      raftpb.AdminService,
      adminServiceImplementation({
        store,
        address,
        version: FLOTILLA_VERSION,
        clusterId,
        startedAtMs,
        nowMs: () => Date.now(),
        disk: runtime.disk,
      }),
    );
    if (handlers === undefined) throw new StoreNodeError('the runtime did not ask for the Kv service');
    let operators: OperatorRunner | undefined;
    if (pd !== undefined) {
      operators = new OperatorRunner({
        store,
        split: (regionId, epoch, keys) => splitForOperator(store, config, regionId, epoch, keys),
        log: (line) => log(`store ${storeId}: ${line}`),
      });
    }
    const node = new StoreNode(runtime, handlers, storeId, clusterId, pd, operators);
    node.loadSplit = loadSplit;
    if (pd !== undefined && operators !== undefined && options.cluster.kind === 'pd') {
      const runner = operators;
      node.heartbeats = new PdHeartbeats({
        pd,
        store,
        engine: runtime.engine,
        disk: runtime.disk,
        startedAtUnixMs: startedAtMs,
        storeHeartbeatIntervalMs:
          options.cluster.storeHeartbeatIntervalMs ?? STORE_HEARTBEAT_INTERVAL_MS_DEFAULT,
        regionHeartbeatIntervalMs:
          options.cluster.regionHeartbeatIntervalMs ?? REGION_HEARTBEAT_INTERVAL_MS_DEFAULT,
        regionWatchIntervalMs: REGION_WATCH_INTERVAL_MS,
        traffic,
        onOperator: (res) => runner.handle(res),
        log: (line) => log(`store ${storeId}: ${line}`),
      });
      node.heartbeats.start();
      heartbeats = node.heartbeats;
      const stalePeers = new StalePeerCheck({
        pd,
        store,
        leaderMissingTicks: Math.ceil(LEADER_MISSING_MS / config.tickIntervalMs),
        log: (line) => log(`store ${storeId}: ${line}`),
      });
      node.stalePeerTimer = setInterval(() => {
        stalePeers
          .checkOnce()
          .catch((err: unknown) => log(`store ${storeId}: stale peer check failed: ${String(err)}`));
      }, STALE_PEER_CHECK_INTERVAL_MS);
      // Splits need ids from PD: only a PD cluster checks region sizes.
      node.splitCheckTimer = setInterval(() => {
        store
          .checkSplits()
          .catch((err: unknown) => log(`store ${storeId}: split check failed: ${String(err)}`));
      }, config.splitCheckIntervalMs);
      const checker = loadSplit;
      node.loadSplitTimer = setInterval(() => {
        checker
          ?.checkOnce()
          .catch((err: unknown) => log(`store ${storeId}: load split check failed: ${String(err)}`));
      }, LOAD_SPLIT_CHECK_INTERVAL_MS);
    }
    // A merge a leader change interrupted, or one the target refused, ends from here.
    node.mergeTimer = setInterval(() => store.advanceMerges(), MERGE_ADVANCE_INTERVAL_MS);
    const sweeper = new TtlSweeper(store, clock);
    node.sweepTimer = setInterval(() => {
      sweeper.sweepOnce().catch((err: unknown) => log(`store ${storeId}: TTL sweep failed: ${String(err)}`));
    }, config.ttlSweepIntervalMs);
    log(
      `store ${storeId} serving on ${address} (data ${options.dataDir}, ${runtime.regionsLoadedCount} region(s)` +
        (pd ? `, PD ${pd.leaderAddress ?? '?'})` : ', static cluster)'),
    );
    return node;
  }

  /** Stops serving, finishes the round in progress and closes the database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.mergeTimer);
    clearInterval(this.splitCheckTimer);
    clearInterval(this.stalePeerTimer);
    clearInterval(this.loadSplitTimer);
    this.heartbeats?.stop();
    await this.runtime.stop();
    this.pd?.close();
  }
}

/** Store id, cluster id and address lookup: from the static list, or from PD (joining the cluster). */
async function joinMembership(options: StoreNodeOptions, log: (line: string) => void): Promise<Membership> {
  const cluster = options.cluster;
  if (cluster.kind === 'static') {
    if (!cluster.initialCluster.has(cluster.storeId)) {
      throw new StoreNodeError(
        `store ${cluster.storeId} is not in the initial cluster (${[...cluster.initialCluster.keys()].join(', ')})`,
      );
    }
    const addresses = new Map(cluster.initialCluster);
    return {
      storeId: cluster.storeId,
      clusterId: cluster.clusterId ?? 1,
      bootstrapRegion: firstRegion([...cluster.initialCluster.keys()]),
      resolveAddress: (storeId) => {
        const address = addresses.get(storeId);
        return address
          ? Promise.resolve(address)
          : Promise.reject(new StoreNodeError(`no address known for store ${storeId}`));
      },
    };
  }
  const pd = new PdClient({ endpoints: cluster.pdEndpoints, log: (line) => log(`pd client: ${line}`) });
  try {
    const identity = await joinCluster({
      pd,
      dataDir: options.dataDir,
      address: options.listenAddress,
      version: FLOTILLA_VERSION,
      log,
    });
    const resolver = new StoreAddressResolver(pd);
    return { ...identity, pd, resolveAddress: (storeId) => resolver.resolve(storeId) };
  } catch (err) {
    pd.close();
    throw err;
  }
}

export function firstRegion(storeIds: readonly number[]): RegionMeta {
  return {
    id: 1,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 1, version: 1 },
    peers: [...storeIds]
      .sort((a, b) => a - b)
      .map((storeId) => ({ id: storeId, storeId, role: 'voter' as const })),
  };
}
