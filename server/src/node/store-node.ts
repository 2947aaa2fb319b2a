// A store node process, assembled: the Raft runtime (LevelDB engine, multi-raft store and
// its ticker, store-to-store Raft transport, snapshot receiver, Raft service; see
// raft-runtime.ts) plus the Kv and Admin services and the TTL sweeper. Until the Placement Driver lands, the cluster is static: every node is
// started with the same initial member list, and the first region spans the whole keyspace
// with one peer per initial store (peer id = store id).
import { kvpb, raftpb } from '@flotilla/proto';
import type { Store } from '../store/store.js';
import { TtlSweeper } from '../store/ttl-sweeper.js';
import type { StoreConfig } from '../store/store-config.js';
import type { RegionMeta } from '../store/region-meta.js';
import { KvHandlers } from '../service/kv-handlers.js';
import type { KvLimits } from '../service/kv-limits.js';
import { KV_LIMITS_DEFAULTS } from '../service/kv-limits.js';
import { kvServiceImplementation } from '../service/kv-grpc.js';
import { adminServiceImplementation } from '../service/admin-grpc.js';
import { RaftRuntime, checkNodeIdent } from './raft-runtime.js';

export const FLOTILLA_VERSION = '0.1.0';

export interface StoreNodeOptions {
  readonly storeId: number;
  /** host:port to listen on; port 0 picks a free one. */
  readonly listenAddress: string;
  readonly dataDir: string;
  /** Every initial store's id and address (this one included). */
  readonly initialCluster: ReadonlyMap<number, string>;
  readonly clusterId?: number;
  readonly storeConfig?: Partial<StoreConfig>;
  readonly kvLimits?: Partial<KvLimits>;
  readonly log?: (line: string) => void;
  /** Called when the store hits an unrecoverable error; the default exits the process. */
  readonly onFatal?: (error: Error) => void;
}

export class StoreNodeError extends Error {
  readonly code = 'STORE_NODE';
}

export class StoreNode {
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly runtime: RaftRuntime,
    private readonly kvHandlers: KvHandlers,
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

  /** First step of a graceful shutdown: client requests are turned away with NotLeader from now on. */
  beginShutdown(): void {
    this.kvHandlers.beginDraining();
  }

  static async start(options: StoreNodeOptions): Promise<StoreNode> {
    const log = options.log ?? ((line: string) => console.error(line));
    const limits: KvLimits = { ...KV_LIMITS_DEFAULTS, ...options.kvLimits };
    const clusterId = options.clusterId ?? 1;
    if (!options.initialCluster.has(options.storeId)) {
      throw new StoreNodeError(
        `store ${options.storeId} is not in the initial cluster (${[...options.initialCluster.keys()].join(', ')})`,
      );
    }
    const addresses = new Map(options.initialCluster);
    let handlers: KvHandlers | undefined;
    const runtime = await RaftRuntime.start({
      nodeId: options.storeId,
      listenAddress: options.listenAddress,
      dataDir: options.dataDir,
      storeConfig: options.storeConfig,
      bootstrapRegion: firstRegion([...options.initialCluster.keys()]),
      prepareEngine: (engine) => checkNodeIdent(engine, clusterId, options.storeId),
      resolveAddress: (storeId) => {
        const address = addresses.get(storeId);
        return address
          ? Promise.resolve(address)
          : Promise.reject(new StoreNodeError(`no address known for store ${storeId}`));
      },
      addServices: (server, { store, clock }) => {
        handlers = new KvHandlers(store, limits, clock);
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
          log(`store ${options.storeId}: fatal: ${error.stack ?? error.message}`);
          process.exit(70);
        }),
    });
    const { store, address, clock, config } = runtime;
    runtime.server.addService(
      raftpb.AdminService,
      adminServiceImplementation({
        store,
        address,
        version: FLOTILLA_VERSION,
        clusterId,
        startedAtMs: Date.now(),
        nowMs: () => Date.now(),
      }),
    );
    if (handlers === undefined) throw new StoreNodeError('the runtime did not ask for the Kv service');
    const node = new StoreNode(runtime, handlers);
    const sweeper = new TtlSweeper(store, clock);
    node.sweepTimer = setInterval(() => {
      sweeper
        .sweepOnce()
        .catch((err: unknown) => log(`store ${options.storeId}: TTL sweep failed: ${String(err)}`));
    }, config.ttlSweepIntervalMs);
    log(
      `store ${options.storeId} serving on ${address} (data ${options.dataDir}, ${runtime.regionsLoadedCount} region(s))`,
    );
    return node;
  }

  /** Stops serving, finishes the round in progress and closes the database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweepTimer);
    await this.runtime.stop();
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
