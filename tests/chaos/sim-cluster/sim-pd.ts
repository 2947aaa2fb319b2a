// The Placement Driver of the simulated cluster: the real PdCluster (one member, over an
// in-memory meta store) and the real Scheduler (replica checker, leader and region
// balancers, operator controller), its balancing interval driven by the simulation's clock.
// The gRPC layers on both sides are replaced by direct calls in process: stores report the
// regions they lead (as pd-heartbeats.ts builds reports) and their stats, ask PD for split
// ids and report applied splits; operators come back through each store's heartbeat stream
// sink, one step later, to the store's real OperatorRunner. PD itself never fails here
// (its own replication is tested elsewhere); its links to the stores are reliable.
import { metapb, pdpb } from '@flotilla/proto';
import type { RegionInfo } from '../../../pd/src/cluster/region-info.js';
import type { RegionReport } from '../../../pd/src/cluster/pd-cluster.js';
import { PdCluster } from '../../../pd/src/cluster/pd-cluster.js';
import { REGIONS_MAX } from '../../../pd/src/cluster/region-tree.js';
import { PdRequestError } from '../../../pd/src/pd-errors.js';
import type { ScheduleConfig } from '../../../pd/src/schedule/schedule-config.js';
import { Scheduler } from '../../../pd/src/schedule/scheduler.js';
import { MemoryMetaKv } from '../../../pd/test/helpers/memory-meta-kv.js';
import { dataRange } from '../../../server/src/storage/keys.js';
import type { RegionPeer } from '../../../server/src/store/region-peer.js';
import type { PeerMeta, RegionMeta } from '../../../server/src/store/region-meta.js';
import { peerById } from '../../../server/src/store/region-meta.js';
import type { SplitIdSource } from '../../../server/src/store/split-ids.js';
import type { Store } from '../../../server/src/store/store.js';
import type { SimLoop } from './sim-loop.js';

/** Heartbeat watch periods a peer must go unheard before its leader reports it down (as pd-heartbeats.ts). */
const DOWN_AFTER_WATCH_PERIODS = 3;

export interface SimPdOptions {
  readonly loop: SimLoop;
  readonly schedule: Partial<ScheduleConfig>;
  /** Ticks between a leader's periodic reports of a region (changes are reported at the next watch). */
  readonly regionHeartbeatTicks: number;
  readonly log: (line: string) => void;
}

export interface PdCounters {
  regionReports: number;
  staleReports: number;
  splitReports: number;
  operatorsSent: number;
}

/** The sink a store's heartbeat stream ends in: operators for that store's runner. */
export type OperatorSink = (response: pdpb.RegionHeartbeatResponse) => void;

interface Reported {
  readonly term: number;
  readonly confVer: number;
  readonly version: number;
  readonly atTick: number;
}

export class SimPd {
  readonly kv = new MemoryMetaKv();
  readonly cluster: PdCluster;
  readonly scheduler: Scheduler;
  readonly counters: PdCounters = { regionReports: 0, staleReports: 0, splitReports: 0, operatorsSent: 0 };
  /** Requests PD refused for a reason other than a stale report (a bug on one side or the other). */
  readonly errors: Error[] = [];
  /** Per store: what its leader regions last reported, and when each peer was last seen active. */
  private readonly reported = new Map<number, Map<number, Reported>>();
  private readonly lastActiveTick = new Map<number, Map<number, Map<number, number>>>();

  constructor(private readonly options: SimPdOptions) {
    const { loop } = options;
    this.cluster = new PdCluster({ kv: this.kv, nowUnixMs: () => loop.nowUnixMs(), log: options.log });
    this.scheduler = new Scheduler({
      cluster: this.cluster,
      config: options.schedule,
      nowUnixMs: () => loop.nowUnixMs(),
      log: options.log,
      every: (intervalMs, fn) => loop.every(intervalMs, fn),
    });
  }

  /** Loads the (empty) cluster, bootstraps it with the first store's one-voter region, registers the others. */
  async bootstrap(storeIds: readonly number[]): Promise<RegionMeta> {
    await this.cluster.load();
    const [regionId, peerId] = await this.cluster.allocIds(2);
    const firstStoreId = storeIds[0];
    if (regionId === undefined || peerId === undefined || firstStoreId === undefined)
      throw new Error('bootstrap: no ids or no stores');
    const region: RegionMeta = {
      id: regionId,
      startKey: new Uint8Array(0),
      endKey: new Uint8Array(0),
      epoch: { confVer: 1, version: 1 },
      peers: [{ id: peerId, storeId: firstStoreId, role: 'voter' }],
    };
    await this.cluster.bootstrap(storeMeta(firstStoreId), region);
    for (const storeId of storeIds.slice(1)) await this.cluster.putStore(storeMeta(storeId));
    this.scheduler.start();
    return region;
  }

  /** A store (re)started: its heartbeat stream opens, operators for it go to `sink`. */
  attachStore(storeId: number, sink: OperatorSink): void {
    const { loop } = this.options;
    this.reported.set(storeId, new Map());
    this.lastActiveTick.set(storeId, new Map());
    this.cluster.streams.attach(storeId, {
      write: (response, done) => {
        this.counters.operatorsSent++;
        loop.after(1, () => {
          done();
          sink(response);
        });
      },
      end: () => undefined,
    });
  }

  /** A store went down: its stream breaks. */
  detachStore(storeId: number): void {
    this.reported.delete(storeId);
    this.lastActiveTick.delete(storeId);
    // Ending the stream by attaching a sink that drops everything, as a broken connection would.
    this.cluster.streams.attach(storeId, { write: (_response, done) => done(), end: () => undefined });
  }

  splitIds(): SplitIdSource {
    return {
      askBatchSplit: async (region, splitCount) => {
        const ids = await this.cluster.askBatchSplit(region, splitCount);
        return ids.map((id) => ({
          newRegionId: Number(id.newRegionId),
          newPeerIds: id.newPeerIds.map(Number),
        }));
      },
    };
  }

  /** A store applied a split: tell PD (a refused report is repaired by later heartbeats). */
  reportSplit(regions: readonly RegionMeta[]): void {
    this.counters.splitReports++;
    this.cluster.reportBatchSplit(regions).catch((error: unknown) => this.refused(error));
  }

  storeHeartbeat(store: Store): void {
    const regions = store.allRegions();
    const leaderCount = regions.filter((p) => p.node.basicStatus().role === 'leader').length;
    this.cluster.storeHeartbeat({
      storeId: BigInt(store.storeId),
      regionCount: regions.length,
      leaderCount,
      capacityBytes: 0n,
      availableBytes: 0n,
      usedBytes: 0n,
      sendingSnapshotCount: 0,
      receivingSnapshotCount: 0,
      applyingSnapshotCount: 0,
      isBusy: false,
      startTimeUnixMs: 0n,
      intervalMs: 0,
      writtenBytes: 0n,
      writtenKeys: 0n,
      readBytes: 0n,
      readKeys: 0n,
      diskUsage: metapb.DiskUsage.NORMAL,
      reservedBytes: 0n,
    });
    // As the store heartbeat's answer tells a real store (pd-heartbeats.ts).
    store.setVotersWanted(this.scheduler.config.maxReplicas);
  }

  /** One watch period of a store: reports the regions it leads whose state changed or whose period is up. */
  async watchRegions(store: Store): Promise<void> {
    const reported = this.reported.get(store.storeId);
    const active = this.lastActiveTick.get(store.storeId);
    if (reported === undefined || active === undefined) return;
    const tick = this.options.loop.tick;
    const led = new Set<number>();
    for (const peer of store.allRegions()) {
      const status = peer.node.basicStatus();
      if (status.role !== 'leader' || !peer.initialized) continue;
      led.add(peer.regionId);
      sampleActivity(active, peer, tick);
      const last = reported.get(peer.regionId);
      const epoch = peer.region.epoch;
      const due =
        last === undefined ||
        last.term !== status.term ||
        last.confVer !== epoch.confVer ||
        last.version !== epoch.version ||
        tick - last.atTick >= this.options.regionHeartbeatTicks;
      if (!due) continue;
      const report = await this.regionReport(store, peer, status.term, active.get(peer.regionId), tick);
      if (report === undefined) continue;
      reported.set(peer.regionId, { term: status.term, ...epoch, atTick: tick });
      this.counters.regionReports++;
      await this.cluster.regionHeartbeat(report).catch((error: unknown) => this.refused(error));
    }
    for (const regionId of reported.keys()) if (!led.has(regionId)) reported.delete(regionId);
    for (const regionId of active.keys()) if (!led.has(regionId)) active.delete(regionId);
  }

  allRegions(): RegionInfo[] {
    return this.cluster.scanRegions(new Uint8Array(0), new Uint8Array(0), REGIONS_MAX);
  }

  stop(): void {
    this.scheduler.stop();
  }

  private async regionReport(
    store: Store,
    peer: RegionPeer,
    term: number,
    active: Map<number, number> | undefined,
    tick: number,
  ): Promise<RegionReport | undefined> {
    const region = peer.region;
    const self = peerById(region, peer.peerId);
    if (self === undefined) return undefined;
    const downAfterTicks = DOWN_AFTER_WATCH_PERIODS * this.options.regionHeartbeatTicks;
    const downPeers: Array<{ peer: PeerMeta; downMs: number }> = [];
    const pendingPeers: PeerMeta[] = [];
    for (const progress of peer.node.status().progress) {
      const meta = peerById(region, progress.id);
      if (meta === undefined || progress.id === peer.peerId) continue;
      const silentTicks = tick - (active?.get(progress.id) ?? tick);
      if (silentTicks >= downAfterTicks) downPeers.push({ peer: meta, downMs: silentTicks * 10 });
      if (progress.state === 'snapshot' || progress.match < peer.storage.truncatedIndex)
        pendingPeers.push(meta);
    }
    const sizeBytes = await store.approximateSizeBytes(dataRange(region.startKey, region.endKey));
    return {
      region,
      leader: self,
      term,
      downPeers,
      pendingPeers,
      load: {
        approximateSizeBytes: sizeBytes,
        approximateKeys: 0,
        intervalMs: 0,
        writtenBytes: 0,
        writtenKeys: 0,
        readBytes: 0,
        readKeys: 0,
      },
    };
  }

  private refused(error: unknown): void {
    if (error instanceof PdRequestError && error.type === pdpb.ErrorType.STALE_REGION) {
      this.counters.staleReports++;
      return;
    }
    this.errors.push(error instanceof Error ? error : new Error(String(error)));
  }
}

function sampleActivity(active: Map<number, Map<number, number>>, peer: RegionPeer, tick: number): void {
  let seen = active.get(peer.regionId);
  if (seen === undefined) active.set(peer.regionId, (seen = new Map()));
  for (const progress of peer.node.status().progress) {
    if (progress.recentActive || !seen.has(progress.id)) seen.set(progress.id, tick);
  }
}

export function storeMeta(storeId: number): metapb.Store {
  return {
    id: BigInt(storeId),
    address: `sim-store-${storeId}:20160`,
    labels: [],
    state: metapb.StoreState.UP,
    version: 'sim',
    statusAddress: '',
  };
}
