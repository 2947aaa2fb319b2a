// A store node process, assembled: the LevelDB engine, the multi-raft store and its
// ticker, the store-to-store Raft transport, and one gRPC server carrying the Kv, Raft and
// Admin services. Until the Placement Driver lands, the cluster is static: every node is
// started with the same initial member list, and the first region spans the whole keyspace
// with one peer per initial store (peer id = store id).
import { createReadStream, mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SeededRandom } from '@flotilla/raft';
import { kvpb, raftpb } from '@flotilla/proto';
import { LevelDbEngine } from '../storage/leveldb-engine.js';
import { WriteBatch } from '../storage/engine.js';
import { storeIdentKey } from '../storage/keys.js';
import { Store } from '../store/store.js';
import { TtlSweeper } from '../store/ttl-sweeper.js';
import type { StoreClock } from '../store/store.js';
import type { StoreConfig } from '../store/store-config.js';
import { resolveStoreConfig } from '../store/store-config.js';
import type { RegionMeta } from '../store/region-meta.js';
import { bootstrapRegionIfEmpty, loadRegionPeers } from '../store/region-loader.js';
import { SNAPSHOT_INSTALL_SIZE_BYTES_MAX } from '../store/snapshot-installer.js';
import { toSafeNumber } from '../store/wire-numbers.js';
import { KvHandlers } from '../service/kv-handlers.js';
import type { KvLimits } from '../service/kv-limits.js';
import { KV_LIMITS_DEFAULTS } from '../service/kv-limits.js';
import { kvServiceImplementation } from '../service/kv-grpc.js';
import { adminServiceImplementation } from '../service/admin-grpc.js';
import {
  RAFT_SERVER_OPTIONS,
  RaftTransport,
  SNAPSHOT_RECEIVE_LIMITS_DEFAULT,
  SnapshotReceiver,
  createRaftServiceHandlers,
  encodeRegionRaftMessage,
  systemClock,
} from '../transport/index.js';
import type { ReceivedSnapshot } from '../transport/index.js';

export const FLOTILLA_VERSION = '0.1.0';

/** How long stop() lets gRPC calls in progress finish before closing their connections. */
const SHUTDOWN_GRACE_MS = 1000;

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
  private ticker: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    readonly store: Store,
    readonly address: string,
    private readonly server: grpc.Server,
    private readonly transport: RaftTransport,
    private readonly engine: LevelDbEngine,
    readonly config: StoreConfig,
    private readonly kvHandlers: KvHandlers,
  ) {}

  /** First step of a graceful shutdown: client requests are turned away with NotLeader from now on. */
  beginShutdown(): void {
    this.kvHandlers.beginDraining();
  }

  static async start(options: StoreNodeOptions): Promise<StoreNode> {
    const log = options.log ?? ((line: string) => console.error(line));
    const config = resolveStoreConfig({ ...options.storeConfig, storeId: options.storeId });
    const limits: KvLimits = { ...KV_LIMITS_DEFAULTS, ...options.kvLimits };
    const clusterId = options.clusterId ?? 1;
    if (!options.initialCluster.has(options.storeId)) {
      throw new StoreNodeError(
        `store ${options.storeId} is not in the initial cluster (${[...options.initialCluster.keys()].join(', ')})`,
      );
    }
    mkdirSync(options.dataDir, { recursive: true });
    const engine = await LevelDbEngine.open(join(options.dataDir, 'db'));
    try {
      await checkStoreIdent(engine, clusterId, options.storeId);
      await bootstrapRegionIfEmpty(engine, firstRegion([...options.initialCluster.keys()]), options.storeId);
    } catch (err) {
      await engine.close();
      throw err;
    }
    const addresses = new Map(options.initialCluster);
    // The transport reports unreachable peers to the store, which is created after it.
    const storeRef: { current?: Store } = {};
    const transport = new RaftTransport({
      storeId: options.storeId,
      resolveAddress: (storeId) => {
        const address = addresses.get(storeId);
        return address
          ? Promise.resolve(address)
          : Promise.reject(new StoreNodeError(`no address known for store ${storeId}`));
      },
      onUnreachable: (storeId, regionIds) => storeRef.current?.reportUnreachable(storeId, regionIds),
    });
    const clock: StoreClock = { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) };
    const onFatal =
      options.onFatal ??
      ((error: Error) => {
        log(`store ${options.storeId}: fatal: ${error.stack ?? error.message}`);
        process.exit(70);
      });
    const store = new Store({
      config,
      engine,
      clock,
      onFatal,
      outbox: {
        send: (toStoreId, envelope) => transport.send(toStoreId, encodeRegionRaftMessage(envelope)),
        flush: () => transport.flush(),
        sendSnapshot: async (toStoreId, envelope, data, totalSizeBytes) => {
          await transport.sendSnapshot(toStoreId, encodeRegionRaftMessage(envelope), data, totalSizeBytes);
        },
      },
    });
    storeRef.current = store;
    const snapshotReceiver = new SnapshotReceiver({
      storeId: options.storeId,
      directory: join(options.dataDir, 'snap'),
      onSnapshot: (received) => installReceivedSnapshot(store, received),
      clock: systemClock,
      limits: { ...SNAPSHOT_RECEIVE_LIMITS_DEFAULT, snapshotSizeBytesMax: SNAPSHOT_INSTALL_SIZE_BYTES_MAX },
    });
    await snapshotReceiver.removeStalePartialFiles();
    const peers = await loadRegionPeers({
      engine,
      config,
      randomFor: () => new SeededRandom(randomInt(1, 2 ** 31)),
      requestSnapshot: (regionId) => store.requestSnapshot(regionId),
    });
    for (const peer of peers) store.addRegion(peer);

    const server = new grpc.Server(RAFT_SERVER_OPTIONS);
    const handlers = new KvHandlers(store, limits, clock);
    server.addService(
      kvpb.KvService,
      kvServiceImplementation({
        handlers,
        limits,
        onInternalError: (e) => log(`kv internal error: ${String(e)}`),
      }),
    );
    server.addService(
      raftpb.RaftService,
      createRaftServiceHandlers({
        storeId: options.storeId,
        onMessages: (_fromStoreId, messages) => store.deliver(messages),
        snapshotReceiver,
      }),
    );
    const port = await bindServer(server, options.listenAddress);
    const host = options.listenAddress.slice(0, options.listenAddress.lastIndexOf(':'));
    const address = `${host}:${port}`;
    server.addService(
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
    const node = new StoreNode(store, address, server, transport, engine, config, handlers);
    node.ticker = setInterval(() => store.tick(), config.tickIntervalMs);
    const sweeper = new TtlSweeper(store, clock);
    node.sweepTimer = setInterval(() => {
      sweeper
        .sweepOnce()
        .catch((err: unknown) => log(`store ${options.storeId}: TTL sweep failed: ${String(err)}`));
    }, config.ttlSweepIntervalMs);
    log(
      `store ${options.storeId} serving on ${address} (data ${options.dataDir}, ${peers.length} region(s))`,
    );
    return node;
  }

  /** Stops serving, finishes the round in progress and closes the database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    clearInterval(this.sweepTimer);
    this.transport.close();
    await this.store.stop();
    // Other stores keep their Raft streams to us open: give calls in progress a moment, then cut.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await this.engine.close();
  }
}

/** Streams the verified file into the store (which installs it in one batch), then deletes it. */
async function installReceivedSnapshot(store: Store, received: ReceivedSnapshot): Promise<void> {
  try {
    await store.receiveSnapshot(received.message, createReadStream(received.filePath));
  } finally {
    // Installed (or refused): the file is of no further use. One left by a crash is a
    // partial file to the receiver and removed at the next start.
    await unlink(received.filePath).catch(() => undefined);
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

/** A data directory belongs to one store of one cluster, forever. */
async function checkStoreIdent(engine: LevelDbEngine, clusterId: number, storeId: number): Promise<void> {
  const existing = engine.getSync(storeIdentKey);
  if (existing === undefined) {
    const ident = raftpb.StoreIdent.encode({
      clusterId: BigInt(clusterId),
      storeId: BigInt(storeId),
    }).finish();
    await engine.write(new WriteBatch().put(storeIdentKey, ident), { sync: true });
    return;
  }
  const ident = raftpb.StoreIdent.decode(existing);
  const storedStore = toSafeNumber(ident.storeId, 'storeIdent.storeId');
  const storedCluster = toSafeNumber(ident.clusterId, 'storeIdent.clusterId');
  if (storedStore !== storeId || storedCluster !== clusterId) {
    throw new StoreNodeError(
      `data directory belongs to store ${storedStore} of cluster ${storedCluster}, not store ${storeId} of cluster ${clusterId}`,
    );
  }
}

function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}
