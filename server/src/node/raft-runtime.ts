// The Raft machinery one process runs, whatever it serves: the LevelDB engine, the
// multi-raft Store loop and its ticker, the store-to-store Raft transport, the snapshot
// receiver, and a gRPC server carrying the Raft service. A store node adds the Kv and
// Admin services on top; a Placement Driver member runs the same machinery for its one
// meta region and adds the PD service. Where the other nodes are is asked of a function
// (static map today, PD later), never assumed.
import { createReadStream, mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SeededRandom } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import type { LevelDbEngineOptions } from '../storage/leveldb-engine.js';
import { LEVELDB_ENGINE_DEFAULTS, LevelDbEngine } from '../storage/leveldb-engine.js';
import type { DiskConfig } from '../storage/disk-space.js';
import { DiskSpace, engineHeadroomBytesFor, engineReopenBytesFor } from '../storage/disk-space.js';
import { PeerDisks } from '../store/disk/peer-disks.js';
import { diskUsageToProto } from '../store/disk/disk-usage-proto.js';
import { WriteBatch } from '../storage/engine.js';
import { storeIdentKey } from '../storage/keys.js';
import { Store } from '../store/store.js';
import type { StoreClock } from '../store/store.js';
import type { StoreConfig } from '../store/store-config.js';
import { resolveStoreConfig } from '../store/store-config.js';
import type { RegionMeta } from '../store/region-meta.js';
import type { RegionsChangedEvent, SplitIdSource } from '../store/split-ids.js';
import { bootstrapRegionIfEmpty, loadRegionPeers } from '../store/region-loader.js';
import { SNAPSHOT_INSTALL_SIZE_BYTES_MAX } from '../store/snapshot-installer.js';
import { toSafeNumber } from '../store/wire-numbers.js';
import {
  RAFT_SERVER_OPTIONS,
  RaftTransport,
  SNAPSHOT_RECEIVE_LIMITS_DEFAULT,
  SnapshotReceiver,
  coalescedHeartbeatOf,
  createRaftServiceHandlers,
  encodeRegionRaftMessage,
  systemClock,
} from '../transport/index.js';
import type { ReceivedSnapshot } from '../transport/index.js';
import { decodingChecked, withUndecodableRequestsRefused } from '../service/undecodable-request.js';

/** How long stop() lets gRPC calls in progress finish before closing their connections. */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * Where a caller adds its gRPC services. Every service goes through decodingChecked, so a
 * request that does not decode ends with INVALID_ARGUMENT rather than grpc-js's INTERNAL.
 */
export interface ServiceRegistrar {
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
}

/** What a caller may use to add its own services before the server starts listening. */
export interface RaftRuntimeParts {
  readonly store: Store;
  readonly engine: LevelDbEngine;
  readonly clock: StoreClock;
  readonly config: StoreConfig;
}

export interface RaftRuntimeOptions {
  /** This node's id in the Raft transport (the store id; for PD, the member id). */
  readonly nodeId: number;
  /** host:port to listen on; port 0 picks a free one. */
  readonly listenAddress: string;
  readonly dataDir: string;
  /** Address ("host:port") of another node; a rejection counts as a failed connect and is retried. */
  readonly resolveAddress: (nodeId: number) => Promise<string>;
  readonly storeConfig?: Partial<StoreConfig>;
  /** The disk reserve and its checks (storage/disk-space.ts); defaults: 5% of the disk, at most 1 GiB. */
  readonly disk?: Partial<DiskConfig>;
  /** LevelDB's memtable and cache (storage/leveldb-engine.ts); the disk reserve covers the memtable's flush. */
  readonly engine?: LevelDbEngineOptions;
  /** Written as this node's first region if its engine holds none yet. */
  readonly bootstrapRegion?: RegionMeta;
  /** Runs on the opened engine before the bootstrap region is written (e.g. checkNodeIdent). */
  readonly prepareEngine?: (engine: LevelDbEngine) => Promise<void>;
  /** Adds the caller's gRPC services; runs before the server listens, so none is missing when peers call. */
  readonly addServices?: (server: ServiceRegistrar, parts: RaftRuntimeParts) => void;
  /** Where split ids come from (PD); without it the store refuses to split. */
  readonly splitIds?: SplitIdSource;
  /** Told of splits once applied (reported to PD). */
  readonly onRegionsChanged?: (event: RegionsChangedEvent) => void;
  /** The store's onRegionReportDue (a region's leader has news for PD). */
  readonly onRegionReportDue?: (regionId: number) => void;
  readonly log: (line: string) => void;
  /** Called when the store loop hits an unrecoverable error. */
  readonly onFatal: (error: Error) => void;
}

export class RaftRuntime {
  private stopped = false;

  private constructor(
    readonly store: Store,
    readonly engine: LevelDbEngine,
    readonly transport: RaftTransport,
    readonly server: grpc.Server,
    /** The address actually bound (the port resolved when 0 was asked for). */
    readonly address: string,
    readonly config: StoreConfig,
    readonly clock: StoreClock,
    private readonly ticker: NodeJS.Timeout,
    /** Regions loaded at start. */
    readonly regionsLoadedCount: number,
    /** The data directory's disk: how full, and the reserve. */
    readonly disk: DiskSpace,
  ) {}

  /** Adds a service after start (see ServiceRegistrar). */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    registrarOf(this.server).addService(service, implementation);
  }

  static async start(options: RaftRuntimeOptions): Promise<RaftRuntime> {
    const config = resolveStoreConfig({ ...options.storeConfig, storeId: options.nodeId });
    mkdirSync(options.dataDir, { recursive: true });
    // Before the engine: on a full disk the placeholder goes, so that LevelDB can open.
    const engineOptions = options.engine ?? {};
    const writeBufferBytes =
      engineOptions.writeBufferSizeBytes ?? LEVELDB_ENGINE_DEFAULTS.writeBufferSizeBytes;
    const disk = await DiskSpace.open(
      options.dataDir,
      {
        ...options.disk,
        engineHeadroomBytes: engineHeadroomBytesFor(writeBufferBytes),
        engineReopenBytes: engineReopenBytesFor(writeBufferBytes),
      },
      (line) => options.log(`store ${options.nodeId}: ${line}`),
    );
    const engine = await LevelDbEngine.open(join(options.dataDir, 'db'), engineOptions);
    // A filling disk: the memtable goes to a table file now, while there is room, so that a
    // store killed on the full disk reopens without converting a large log (which needs room).
    disk.onUsageChange((usage) => {
      if (usage === 'normal') return;
      engine
        .flushMemtable()
        .catch((err: unknown) =>
          options.log(
            `store ${options.nodeId}: disk ${usage}: memtable flush failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
    });
    try {
      await options.prepareEngine?.(engine);
      if (options.bootstrapRegion !== undefined)
        await bootstrapRegionIfEmpty(engine, options.bootstrapRegion, options.nodeId);
    } catch (err) {
      await engine.close();
      throw err;
    }
    // The transport reports unreachable peers to the store, which is created after it.
    const storeRef: { current?: Store } = {};
    const peerDisks = new PeerDisks();
    const transport = new RaftTransport({
      storeId: options.nodeId,
      localDiskUsage: () => diskUsageToProto(disk.usage),
      resolveAddress: options.resolveAddress,
      onUnreachable: (storeId, regionIds, cause) =>
        storeRef.current?.reportUnreachable(storeId, regionIds, cause),
    });
    const clock: StoreClock = { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) };
    const store = new Store({
      config,
      engine,
      clock,
      onFatal: options.onFatal,
      disk,
      peerDisks,
      log: options.log,
      splitIds: options.splitIds,
      onRegionsChanged: options.onRegionsChanged,
      onRegionReportDue: options.onRegionReportDue,
      outbox: {
        send: (toStoreId, envelope) => {
          // Heartbeats travel compact, coalesced per destination store (CoalescedHeartbeat).
          const heartbeat = coalescedHeartbeatOf(envelope);
          if (heartbeat !== undefined) return transport.sendHeartbeat(toStoreId, heartbeat);
          return transport.send(toStoreId, encodeRegionRaftMessage(envelope));
        },
        flush: () => transport.flush(),
        sendStoreHeartbeat: (toStoreId) => transport.ping(toStoreId),
        sendSnapshot: async (toStoreId, envelope, data, totalSizeBytes) => {
          await transport.sendSnapshot(toStoreId, encodeRegionRaftMessage(envelope), data, totalSizeBytes);
        },
      },
    });
    storeRef.current = store;
    const snapshotReceiver = new SnapshotReceiver({
      storeId: options.nodeId,
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

    const server = new grpc.Server(withUndecodableRequestsRefused(RAFT_SERVER_OPTIONS));
    const registrar = registrarOf(server);
    options.addServices?.(registrar, { store, engine, clock, config });
    registrar.addService(
      raftpb.RaftService,
      createRaftServiceHandlers({
        storeId: options.nodeId,
        onMessages: (_fromStoreId, messages) => store.deliver(messages),
        onHeartbeats: (fromStoreId, heartbeats) => store.deliverHeartbeats(fromStoreId, heartbeats),
        onHeard: (fromStoreId, fromDiskUsage) => {
          peerDisks.note(fromStoreId, fromDiskUsage);
          store.noteStoreHeard(fromStoreId);
        },
        snapshotReceiver,
      }),
    );
    let port: number;
    try {
      port = await bindServer(server, options.listenAddress);
    } catch (err) {
      transport.close();
      await store.stop();
      await engine.close();
      throw err;
    }
    const host = options.listenAddress.slice(0, options.listenAddress.lastIndexOf(':'));
    const ticker = setInterval(() => store.tick(), config.tickIntervalMs);
    disk.start();
    return new RaftRuntime(
      store,
      engine,
      transport,
      server,
      `${host}:${port}`,
      config,
      clock,
      ticker,
      peers.length,
      disk,
    );
  }

  /** Stops serving, finishes the round in progress and closes the database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    this.disk.stop();
    this.transport.close();
    await this.store.stop();
    // Other nodes keep their Raft streams to us open: give calls in progress a moment, then cut.
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

export class NodeIdentError extends Error {
  readonly code = 'NODE_IDENT';
}

/** A data directory belongs to one node of one cluster, forever. */
export async function checkNodeIdent(
  engine: LevelDbEngine,
  clusterId: number,
  nodeId: number,
): Promise<void> {
  const existing = engine.getSync(storeIdentKey);
  if (existing === undefined) {
    const ident = raftpb.StoreIdent.encode({
      clusterId: BigInt(clusterId),
      storeId: BigInt(nodeId),
    }).finish();
    await engine.write(new WriteBatch().put(storeIdentKey, ident), { sync: true });
    return;
  }
  const ident = raftpb.StoreIdent.decode(existing);
  const storedNode = toSafeNumber(ident.storeId, 'storeIdent.storeId');
  const storedCluster = toSafeNumber(ident.clusterId, 'storeIdent.clusterId');
  if (storedNode !== nodeId || storedCluster !== clusterId) {
    throw new NodeIdentError(
      `data directory belongs to store ${storedNode} of cluster ${storedCluster}, not store ${nodeId} of cluster ${clusterId}`,
    );
  }
}

/** Streams the verified file into the store (which installs it in one batch), then deletes it. */
async function installReceivedSnapshot(store: Store, received: ReceivedSnapshot): Promise<void> {
  try {
    await store.receiveSnapshot(received.message, fileChunks(received.filePath));
  } finally {
    // Installed (or refused): the file is of no further use. One left by a crash is a
    // partial file to the receiver and removed at the next start.
    await unlink(received.filePath).catch(() => undefined);
  }
}

/**
 * The file's bytes, opened only when the store starts reading: a snapshot the store refuses
 * before reading (stale, not for us) must not leave a stream that opens a deleted file and
 * fails with an unhandled 'error' event.
 */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path);
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } finally {
    stream.destroy();
  }
}

function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}

function registrarOf(server: grpc.Server): ServiceRegistrar {
  return {
    addService: (service, implementation) => server.addService(decodingChecked(service), implementation),
  };
}
