// Several stores in one process over MemoryEngines, connected by an in-memory outbox that
// delivers each flush on the next macrotask (heartbeats coalesced per destination store and
// expanded by the receiving store, as over gRPC; store liveness pings likewise) (and streams snapshots store to store, the
// way the gRPC transport does: the whole body read, then handed to the receiving store). Time advances only when the test ticks, so
// tests await conditions tick by tick instead of sleeping.
import type { ConfChange, ConfChangeSingle, RandomSource } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import { SeededRandom } from '@flotilla/raft';
import { MemoryEngine } from '../../../src/storage/memory-engine.js';
import { Store } from '../../../src/store/store.js';
import type { HeartbeatRecord, RaftEnvelope, RaftOutbox } from '../../../src/store/store.js';
import { coalescedHeartbeatOf } from '../../../src/transport/raft-message-codec.js';
import { resolveStoreConfig } from '../../../src/store/store-config.js';
import type { StoreConfig } from '../../../src/store/store-config.js';
import type { PeerMeta, RegionMeta } from '../../../src/store/region-meta.js';
import { peerToProto } from '../../../src/store/region-meta.js';
import type { CommandResult } from '../../../src/store/command-apply.js';
import { encodeWrite } from '../../../src/store/command-builder.js';
import { dataKey } from '../../../src/storage/keys.js';
import { liveValue } from '../../../src/store/user-value.js';
import { bootstrapRegionIfEmpty, loadRegionPeers } from '../../../src/store/region-loader.js';
import type { RegionPeer } from '../../../src/store/region-peer.js';
import type { RegionsChangedEvent, SplitIdSource } from '../../../src/store/split-ids.js';
import type { StoreDisk } from '../../../src/store/disk/disk-guard.js';

/** Split ids from counters, as PD would hand them out (unique in the cluster). */
export class CountingSplitIds implements SplitIdSource {
  nextRegionId = 1000;
  nextPeerId = 10_000;
  asksCount = 0;

  askBatchSplit(
    region: RegionMeta,
    splitCount: number,
  ): Promise<Array<{ newRegionId: number; newPeerIds: number[] }>> {
    this.asksCount++;
    return Promise.resolve(
      Array.from({ length: splitCount }, () => ({
        newRegionId: this.nextRegionId++,
        newPeerIds: region.peers.map(() => this.nextPeerId++),
      })),
    );
  }
}

export interface MemoryClusterOptions {
  /** Stores holding the first region (default: all). */
  readonly regionStoreIds?: readonly number[];
  /** Stores get no split id source (as without a placement driver). */
  readonly withoutSplitIds?: boolean;
  /**
   * Each store's disk (store/disk/disk-guard.ts); every store sees the others' levels as
   * their frames would tell them. Default: no disk, never full.
   */
  readonly diskOf?: (storeId: number) => StoreDisk | undefined;
}

export class MemoryCluster {
  readonly engines = new Map<number, MemoryEngine>();
  readonly stores = new Map<number, Store>();
  readonly configs = new Map<number, StoreConfig>();
  private readonly isolated = new Set<number>();
  /** Stores that never receive quiesce notices (a follower that keeps missing them). */
  readonly quiesceNoticesDroppedTo = new Set<number>();
  readonly fatalErrors: Error[] = [];
  snapshotsTransferredCount = 0;
  /** Raft messages and coalesced heartbeats handed to the network (pings aside), all stores. */
  messagesSentCount = 0;
  heartbeatsSentCount = 0;
  pingsSentCount = 0;
  readonly splitIds = new CountingSplitIds();
  /** Region changes every store reported, by store. */
  readonly regionEvents: Array<{ storeId: number; event: RegionsChangedEvent }> = [];
  /** Regions whose leader had news for PD (Store onRegionReportDue), by store, in order. */
  readonly reportsDue: Array<{ storeId: number; regionId: number }> = [];
  private readonly regionStoreIds: readonly number[];
  private readonly withoutSplitIds: boolean;
  private readonly diskOf: ((storeId: number) => StoreDisk | undefined) | undefined;

  constructor(
    readonly storeIds: readonly number[],
    private readonly seed = 1,
    private readonly configOverrides: Partial<StoreConfig> = {},
    options: MemoryClusterOptions = {},
  ) {
    this.regionStoreIds = options.regionStoreIds ?? storeIds;
    this.withoutSplitIds = options.withoutSplitIds ?? false;
    this.diskOf = options.diskOf;
  }

  static firstRegion(storeIds: readonly number[]): RegionMeta {
    return {
      id: 1,
      startKey: new Uint8Array(0),
      endKey: new Uint8Array(0),
      epoch: { confVer: 1, version: 1 },
      peers: storeIds.map((storeId) => ({ id: storeId, storeId, role: 'voter' as const })),
    };
  }

  async start(): Promise<void> {
    for (const id of this.storeIds) await this.startStore(id, true);
  }

  async startStore(storeId: number, bootstrap: boolean): Promise<Store> {
    let engine = this.engines.get(storeId);
    if (engine === undefined) {
      engine = new MemoryEngine();
      this.engines.set(storeId, engine);
    }
    const config = resolveStoreConfig({ storeId, ...this.configOverrides });
    this.configs.set(storeId, config);
    if (bootstrap && this.regionStoreIds.includes(storeId))
      await bootstrapRegionIfEmpty(engine, MemoryCluster.firstRegion(this.regionStoreIds), storeId);
    const random = (regionId: number): RandomSource =>
      new SeededRandom(this.seed * 7919 + storeId * 104729 + regionId);
    const store = new Store({
      config,
      engine,
      clock: { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) },
      outbox: this.outboxFor(storeId),
      onFatal: (error) => this.fatalErrors.push(error),
      ...(this.withoutSplitIds ? {} : { splitIds: this.splitIds }),
      onRegionsChanged: (event) => this.regionEvents.push({ storeId, event }),
      onRegionReportDue: (regionId) => this.reportsDue.push({ storeId, regionId }),
      randomFor: random,
      ...(this.diskOf === undefined
        ? {}
        : {
            disk: this.diskOf(storeId),
            peerDisks: { usageOf: (id: number) => this.diskOf?.(id)?.usage ?? 'normal' },
          }),
    });
    const peers = await loadRegionPeers({
      engine,
      config,
      randomFor: random,
      requestSnapshot: (regionId) => store.requestSnapshot(regionId),
    });
    for (const peer of peers) store.addRegion(peer);
    this.stores.set(storeId, store);
    this.isolated.delete(storeId);
    return store;
  }

  private outboxFor(fromStoreId: number): RaftOutbox {
    let queued: Array<[number, RaftEnvelope]> = [];
    let heartbeats: Array<[number, HeartbeatRecord]> = [];
    return {
      send: (to, env) => {
        const heartbeat = coalescedHeartbeatOf(env);
        if (heartbeat !== undefined) {
          heartbeats.push([to, heartbeat]);
          this.heartbeatsSentCount++;
        } else {
          queued.push([to, env]);
          this.messagesSentCount++;
        }
        return true;
      },
      flush: () => {
        const batch = queued;
        const heartbeatBatch = heartbeats;
        queued = [];
        heartbeats = [];
        setImmediate(() => {
          if (this.isolated.has(fromStoreId)) return;
          const byStore = new Map<number, RaftEnvelope[]>();
          for (const [to, env] of batch) {
            if (this.isolated.has(to)) continue;
            byStore.set(to, [...(byStore.get(to) ?? []), env]);
          }
          const heartbeatsByStore = new Map<number, HeartbeatRecord[]>();
          for (const [to, record] of heartbeatBatch) {
            if (this.isolated.has(to)) continue;
            if (record.quiesce && this.quiesceNoticesDroppedTo.has(to)) continue;
            heartbeatsByStore.set(to, [...(heartbeatsByStore.get(to) ?? []), record]);
          }
          for (const [to, envs] of byStore) this.stores.get(to)?.deliver(envs);
          for (const [to, records] of heartbeatsByStore)
            this.stores.get(to)?.deliverHeartbeats(fromStoreId, records);
        });
      },
      sendStoreHeartbeat: (to) => {
        this.pingsSentCount++;
        setImmediate(() => {
          if (this.isolated.has(fromStoreId) || this.isolated.has(to)) return;
          this.stores.get(to)?.noteStoreHeard(fromStoreId);
        });
      },
      sendSnapshot: (to, env, data, totalSizeBytes) =>
        this.transferSnapshot(fromStoreId, to, env, data, totalSizeBytes),
    };
  }

  private async transferSnapshot(
    from: number,
    to: number,
    env: RaftEnvelope,
    data: AsyncIterable<Uint8Array>,
    totalSizeBytes: number,
  ): Promise<void> {
    const chunks: Uint8Array[] = [];
    let sizeBytes = 0;
    for await (const chunk of data) {
      chunks.push(chunk);
      sizeBytes += chunk.length;
    }
    if (sizeBytes !== totalSizeBytes)
      throw new Error(`snapshot source gave ${sizeBytes} of ${totalSizeBytes} bytes`);
    await settle(1);
    const store = this.stores.get(to);
    if (store === undefined || this.isolated.has(from) || this.isolated.has(to))
      throw new Error(`store ${to} unreachable from ${from}`);
    this.snapshotsTransferredCount++;
    await store.receiveSnapshot(env, chunksOf(chunks));
  }

  /** Cuts a store off the network both ways. */
  isolate(storeId: number): void {
    this.isolated.add(storeId);
  }

  /** Reconnects an isolated store. */
  heal(storeId: number): void {
    this.isolated.delete(storeId);
  }

  /** Stops a store's loop and cuts it off, as a crash would (its engine keeps what was written). */
  async crash(storeId: number): Promise<void> {
    this.isolate(storeId);
    await this.stores.get(storeId)?.stop();
    this.stores.delete(storeId);
  }

  live(): Store[] {
    return [...this.stores.entries()].filter(([id]) => !this.isolated.has(id)).map(([, s]) => s);
  }

  /** Ticks every live store until `done` holds, letting messages flow between ticks. */
  async tickUntil(done: () => boolean, ticksMax = 2000): Promise<void> {
    for (let t = 0; t < ticksMax; t++) {
      if (done()) return;
      for (const store of this.stores.values()) store.tick();
      await settle();
    }
    if (!done()) throw new Error(`condition not reached within ${ticksMax} ticks`);
  }

  leaderOf(regionId: number): { store: Store; peer: RegionPeer } | undefined {
    for (const store of this.live()) {
      const peer = store.region(regionId);
      if (peer && peer.node.status().role === 'leader') return { store, peer };
    }
    return undefined;
  }

  /** Awaits a store promise while ticking the cluster (time only moves when ticked). */
  async ticking<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    let value: T | undefined;
    void promise.then((v) => {
      done = true;
      value = v;
    });
    await this.tickUntil(() => done);
    return value as T;
  }

  /** The live store leading the region that holds `key`, if any. */
  leaderOfKey(key: Uint8Array): { store: Store; peer: RegionPeer } | undefined {
    for (const store of this.live()) {
      const peer = store.regionForKey(key);
      if (peer && peer.node.status().role === 'leader') return { store, peer };
    }
    return undefined;
  }

  async waitForLeader(regionId: number): Promise<{ store: Store; peer: RegionPeer }> {
    await this.tickUntil(() => this.leaderOf(regionId) !== undefined);
    return this.leaderOf(regionId) as { store: Store; peer: RegionPeer };
  }

  async stopAll(): Promise<void> {
    for (const store of this.stores.values()) await store.stop();
  }
}

async function* chunksOf(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

/** Proposes a put of `key` to the region holding it, on its current leader (ticking until one exists). */
export async function putKey(c: MemoryCluster, key: string, value: string): Promise<CommandResult> {
  const k = new TextEncoder().encode(key);
  await c.tickUntil(() => c.leaderOfKey(k) !== undefined);
  const { store, peer } = c.leaderOfKey(k) as { store: Store; peer: RegionPeer };
  const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
    { kind: 'put', key: k, value: new TextEncoder().encode(value) },
  ]);
  return c.ticking(store.propose(peer.region.id, data));
}

/** The live value of `key` in a store's engine, read directly (no request path). */
export function localGet(c: MemoryCluster, storeId: number, key: string): string | undefined {
  const bytes = liveValue(
    c.engines.get(storeId)?.getSync(dataKey(new TextEncoder().encode(key))),
    Date.now(),
  );
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** Lets queued rounds and message deliveries run (a few macrotask turns). */
export async function settle(turns = 4): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A single-peer membership change as the store proposes it (the command in the context). */
export function changePeer(type: ConfChangeSingle['type'], peer: PeerMeta): ConfChange {
  const changeType = {
    addVoter: raftpb.ConfChangeType.ADD_VOTER,
    addLearner: raftpb.ConfChangeType.ADD_LEARNER,
    removeNode: raftpb.ConfChangeType.REMOVE_NODE,
  }[type];
  const context = raftpb.RaftCommand.encode({
    command: { $case: 'changePeer', changePeer: { changes: [{ changeType, peer: peerToProto(peer) }] } },
  }).finish();
  return { transition: 'auto', changes: [{ type, nodeId: peer.id }], context };
}
