// What a store tells PD, and when:
//   - a StoreHeartbeat every storeHeartbeatIntervalMs: region and leader counts, disk
//     capacity and use, snapshot activity, start time. PD judges a store down when these
//     stop.
//   - a RegionHeartbeat for every region this store leads, every
//     regionHeartbeatIntervalMs, within one watch period when a region's leadership or epoch
//     changes here, and at once (reportSoon, from the store's onRegionReportDue) when a
//     membership change applies, a peer becomes leader or a lagging learner catches up: PD
//     advances an operator only on a report that shows its step done, so each step's
//     completion goes out right away (a replica add took a whole report period per step
//     before). It carries the peers PD should worry about: down peers (not heard from by the
//     leader, with for how long) and pending peers (needing a snapshot, peer-catch-up.ts).
// The store heartbeat's answer tells PD's max-replicas, which the store's hibernation rule
// needs (store.ts setVotersWanted).
// PD's answers on the heartbeat stream are operators, handed to the OperatorRunner.
import type { pdpb } from '@flotilla/proto';
import type { Engine } from '../storage/engine.js';
import type { DiskReport } from '../storage/disk-space.js';
import { diskUsageToProto } from '../store/disk/disk-usage-proto.js';
import { dataRange } from '../storage/keys.js';
import { laggingPeerIds } from '../store/peer-catch-up.js';
import type { RegionPeer } from '../store/region-peer.js';
import { peerById, peerToProto, regionToProto } from '../store/region-meta.js';
import type { RegionTraffic } from '../store/region-traffic.js';
import type { Store } from '../store/store.js';
import type { PdClient } from './pd-client.js';
import { RegionHeartbeatStream } from './region-heartbeat-stream.js';

export interface PdHeartbeatsOptions {
  readonly pd: PdClient;
  readonly store: Store;
  readonly engine: Engine;
  /** The data directory's disk: capacity, available space, reserve and level (storage/disk-space.ts). */
  readonly disk: { report(): DiskReport };
  readonly startedAtUnixMs: number;
  readonly storeHeartbeatIntervalMs: number;
  readonly regionHeartbeatIntervalMs: number;
  /** How often leadership and epochs are compared with the last report (a cheap scan). */
  readonly regionWatchIntervalMs: number;
  /** Client traffic per region since its last report (the read and write rates PD sees). */
  readonly traffic?: RegionTraffic;
  readonly onOperator: (response: pdpb.RegionHeartbeatResponse) => void;
  readonly log: (line: string) => void;
}

/** Region reports sent per watch period at most; the rest wait for the next one. */
const REGION_REPORTS_PER_WATCH_MAX = 1024;

/** Watch periods in a row a peer must go unheard before it is reported down. */
const DOWN_AFTER_WATCH_PERIODS = 3;

/** Regions waiting for an immediate report at most; beyond it the next periods cover them. */
const REPORTS_DUE_MAX = 4096;

interface Reported {
  readonly term: number;
  readonly confVer: number;
  readonly version: number;
  readonly atMs: number;
}

export class PdHeartbeats {
  private readonly stream: RegionHeartbeatStream;
  private readonly reported = new Map<number, Reported>();
  /** When each peer (region id → peer id) was last seen active by this leader. */
  private readonly lastActiveMs = new Map<number, Map<number, number>>();
  private storeTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private storeHeartbeatInFlight = false;
  private watching = false;
  /** A watch was asked for while one ran (or is queued): run one more when it ends. */
  private watchWanted = false;
  /** Regions to report at the next watch whatever their last report (reportSoon). */
  private reportsDue = new Set<number>();
  private stopped = false;
  /** Set when PD says this store is a tombstone: it must stop serving. */
  tombstoned = false;

  constructor(private readonly options: PdHeartbeatsOptions) {
    // A new stream may lead to a new PD leader, which loaded the regions without their
    // leaders: it schedules nothing for a region until it hears from its leader, so every
    // led region is reported at once rather than at its next period.
    this.stream = new RegionHeartbeatStream(options.pd, options.onOperator, options.log, () => {
      this.reported.clear();
      this.watchSoon();
    });
  }

  start(): void {
    this.stream.start();
    this.storeTimer = setInterval(
      () => void this.sendStoreHeartbeat(),
      this.options.storeHeartbeatIntervalMs,
    );
    this.watchTimer = setInterval(() => void this.watchRegions(), this.options.regionWatchIntervalMs);
    void this.sendStoreHeartbeat();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.storeTimer);
    clearInterval(this.watchTimer);
    this.stream.close();
  }

  /**
   * Compares leadership and epochs with the last reports soon instead of at the next watch
   * period: called when a split or merge applies here, so PD (and through it the clients
   * that find the old region gone) learns of the new ranges within a moment.
   */
  watchSoon(): void {
    if (this.stopped || this.watchWanted) return;
    this.watchWanted = true;
    if (!this.watching) setImmediate(() => void this.watchRegions());
  }

  /** Reports the region at the next watch (run soon), if this store leads it. */
  reportSoon(regionId: number): void {
    if (this.stopped) return;
    if (this.reportsDue.size < REPORTS_DUE_MAX) this.reportsDue.add(regionId);
    this.watchSoon();
  }

  get streamCounters(): RegionHeartbeatStream['counters'] {
    return this.stream.counters;
  }

  private async sendStoreHeartbeat(): Promise<void> {
    if (this.storeHeartbeatInFlight || this.stopped) return;
    this.storeHeartbeatInFlight = true;
    try {
      const res = await this.options.pd.storeHeartbeat(await this.storeStats());
      if (res.header?.error !== undefined && !this.tombstoned) {
        this.tombstoned = true;
        this.options.log(`PD: ${res.header.error.message}`);
      }
      if (res.header?.error === undefined) this.options.store.setVotersWanted(res.maxReplicas);
    } catch (err) {
      this.options.log(`store heartbeat failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.storeHeartbeatInFlight = false;
    }
  }

  private async storeStats(): Promise<pdpb.StoreStats> {
    const { store } = this.options;
    const regions = store.allRegions();
    let leaderCount = 0;
    for (const peer of regions) if (peer.node.basicStatus().role === 'leader') leaderCount++;
    const disk = this.options.disk.report();
    const usedBytes = await this.options.engine.approximateSizeBytes(
      dataRange(new Uint8Array(0), new Uint8Array(0)),
    );
    const traffic = this.options.traffic?.takeStoreTotals();
    return {
      storeId: BigInt(store.storeId),
      regionCount: regions.length,
      leaderCount,
      capacityBytes: BigInt(disk.capacityBytes),
      availableBytes: BigInt(disk.availableBytes),
      usedBytes: BigInt(usedBytes),
      sendingSnapshotCount: 0,
      receivingSnapshotCount: 0,
      applyingSnapshotCount: 0,
      isBusy: false,
      startTimeUnixMs: BigInt(this.options.startedAtUnixMs),
      intervalMs: traffic?.intervalMs ?? this.options.storeHeartbeatIntervalMs,
      writtenBytes: BigInt(traffic?.writtenBytes ?? 0),
      writtenKeys: BigInt(traffic?.writtenKeys ?? 0),
      readBytes: BigInt(traffic?.readBytes ?? 0),
      readKeys: BigInt(traffic?.readKeys ?? 0),
      diskUsage: diskUsageToProto(disk.usage),
      reservedBytes: BigInt(disk.reservedBytes),
    };
  }

  /** Reports the leader regions whose leadership or epoch changed, or whose period is up. */
  private async watchRegions(): Promise<void> {
    if (this.watching || this.stopped || !this.stream.isOpen) return;
    this.watching = true;
    this.watchWanted = false;
    const forced = this.reportsDue;
    this.reportsDue = new Set();
    try {
      const now = Date.now();
      let sent = 0;
      const led = new Set<number>();
      for (const peer of this.options.store.allRegions()) {
        const status = peer.node.basicStatus();
        if (status.role !== 'leader') continue;
        led.add(peer.regionId);
        this.sampleActivity(peer, now);
        const last = this.reported.get(peer.regionId);
        const epoch = peer.region.epoch;
        const due =
          forced.has(peer.regionId) ||
          last === undefined ||
          last.term !== status.term ||
          last.confVer !== epoch.confVer ||
          last.version !== epoch.version ||
          now - last.atMs >= this.options.regionHeartbeatIntervalMs;
        if (!due || sent >= REGION_REPORTS_PER_WATCH_MAX) continue;
        const report = await this.regionReport(peer, status.term, now);
        if (report === undefined || !this.stream.send(report)) continue;
        sent++;
        this.reported.set(peer.regionId, { term: status.term, ...epoch, atMs: now });
      }
      // Forget regions we no longer lead: a later leadership is reported afresh.
      for (const regionId of this.reported.keys()) if (!led.has(regionId)) this.reported.delete(regionId);
      for (const regionId of this.lastActiveMs.keys())
        if (!led.has(regionId)) this.lastActiveMs.delete(regionId);
      this.options.traffic?.retainOnly(led);
    } finally {
      this.watching = false;
      if (this.watchWanted) setImmediate(() => void this.watchRegions());
    }
  }

  /**
   * Notes which peers the leader heard from since its last check-quorum reset. The core
   * clears the flag every election timeout, so one sample proves little; a peer counts as
   * down only after DOWN_AFTER_WATCH_PERIODS samples in a row without it. A sleeping leader
   * (hibernation.ts) does not tick, so its flags are frozen as of its last round: its peers
   * count as active while this store hears from their stores (store liveness), the same
   * evidence that keeps the region asleep.
   */
  private sampleActivity(peer: RegionPeer, nowMs: number): void {
    let active = this.lastActiveMs.get(peer.regionId);
    if (active === undefined) {
      active = new Map();
      this.lastActiveMs.set(peer.regionId, active);
    }
    const { store } = this.options;
    const asleep = peer.hibernation.asleep;
    for (const progress of peer.node.status().progress) {
      const storeId = peerById(peer.region, progress.id)?.storeId;
      const heard = asleep && storeId !== undefined && !store.peerStoreSuspected(storeId);
      if (progress.recentActive || heard || !active.has(progress.id)) active.set(progress.id, nowMs);
    }
  }

  private async regionReport(
    peer: RegionPeer,
    term: number,
    nowMs: number,
  ): Promise<Omit<pdpb.RegionHeartbeatRequest, 'header'> | undefined> {
    const region = peer.region;
    const self = peerById(region, peer.peerId);
    if (self === undefined) return undefined;
    const status = peer.node.status();
    const active = this.lastActiveMs.get(region.id);
    const downAfterMs = DOWN_AFTER_WATCH_PERIODS * this.options.regionWatchIntervalMs;
    const downPeers: pdpb.PeerStats[] = [];
    for (const progress of status.progress) {
      const meta = peerById(region, progress.id);
      if (meta === undefined || progress.id === peer.peerId) continue;
      const silentMs = nowMs - (active?.get(progress.id) ?? nowMs);
      if (silentMs >= downAfterMs) downPeers.push({ peer: peerToProto(meta), downMs: BigInt(silentMs) });
    }
    const pendingPeers = laggingPeerIds(status, peer.storage.truncatedIndex).flatMap((id) => {
      const meta = peerById(region, id);
      return meta === undefined ? [] : [peerToProto(meta)];
    });
    const sizeBytes = await this.options.engine.approximateSizeBytes(
      dataRange(region.startKey, region.endKey),
    );
    const traffic = this.options.traffic?.take(region.id);
    return {
      region: regionToProto(region),
      leader: peerToProto(self),
      term: BigInt(term),
      downPeers,
      pendingPeers,
      approximateSizeBytes: BigInt(sizeBytes),
      approximateKeys: 0n,
      intervalMs: traffic?.intervalMs ?? this.options.regionHeartbeatIntervalMs,
      writtenBytes: BigInt(traffic?.writtenBytes ?? 0),
      writtenKeys: BigInt(traffic?.writtenKeys ?? 0),
      readBytes: BigInt(traffic?.readBytes ?? 0),
      readKeys: BigInt(traffic?.readKeys ?? 0),
    };
  }
}
