// A store: the regions this node holds a peer of, driven by one loop. Each round
//   1. steps every region with input (ticks, Raft messages, proposals, reads),
//   2. collects every Ready,
//   3. puts ALL their log entries and hard states, and the data of ALL their newly
//      committed entries, into ONE write batch, written once (fsynced if any region needs it),
//   4. sends the messages of all regions (the transport coalesces them per store),
//   5. completes proposals and reads, and advances every node.
// Rounds never overlap: input that arrives during a round waits in bounded mailboxes for
// the next one. That is what lets storage state be updated as the batch is built.
// Snapshots and log compaction also ride on rounds: a received snapshot is installed into
// the round's batch before its region steps (snapshot-installer.ts), each region compacts
// its log in the batch after applying (log-compaction.ts), and outbound 'snap' messages
// leave over the snapshot stream (snapshot-shipper.ts) with data the generator streams
// from an engine view (snapshot-generator.ts).
//
// Multi-Raft: the store keeps its initialized regions indexed by range (region-range-index.ts).
// A split (region-split.ts) is applied inside a round like any command; the new regions'
// state goes into the same batch, and their peers are created once it is durable. If the
// parent's local peer led it, the new peers campaign at once. That is lease-safe: our leader
// applies the split in the same round it commits it, before any follower learns of the
// commit, so no follower can create a new region (and elect a leader for part of the
// parent's range) while this leader still serves lease reads on the parent's whole range.
// A message for an unknown region may create an uninitialized peer (peer-creation.ts) that
// a snapshot initializes; a peer removed from its region is destroyed after the round
// (peer-destroyer.ts). Periodic split checks live in split-checker.ts.
//
// Ticks (tick-clock.ts) are logical time that cannot outrun the loop: the ticker only makes a
// tick due, and each round hands every awake region at most ticksPerRoundMax of them, so
// timeouts stay a fixed number of rounds however long rounds get under load.
//
// Hibernation (hibernation.ts): only regions in the awake set get ticks, so the cost of a
// tick is O(awake regions). An idle leader quiesces its region and leaves the set; so does a
// follower that takes its leader's quiesce notice. Peer store liveness (store-liveness.ts)
// wakes the regions whose leader's store falls silent. Heartbeats travel as compact records
// (deliverHeartbeats), coalesced per destination store by the transport.
import type { ConfChange, HardState, Message, RandomSource, RawNode, Ready } from '@flotilla/raft';
import { SeededRandom } from '@flotilla/raft';
import type { Engine, KeyRange, KeyValue, ScanOptions, WriteBatch } from '../storage/engine.js';
import { raftHardStateKey } from '../storage/keys.js';
import { compareBytes } from '../storage/bytes.js';
import { decodeHardState } from '../storage/raft-state-codec.js';
import { ApplyWriter } from './apply-writer.js';
import { compactionIndex } from './log-compaction.js';
import { SnapshotGenerator } from './snapshot-generator.js';
import type { PendingInstall } from './snapshot-installer.js';
import {
  checkSnapshotHeader,
  installPending,
  readSnapshotData,
  SnapshotRejectedError,
} from './snapshot-installer.js';
import { SnapshotShipper } from './snapshot-shipper.js';
import type { CommandResult } from './command-apply.js';
import type {
  AppliedMerge,
  AppliedSplit,
  ApplyContext,
  Completion,
  MailboxItem,
  RefusedMerge,
} from './region-peer.js';
import type { RegionPeer } from './region-peer.js';
import type { RegionError } from './region-error.js';
import type { PeerMeta, RegionEpoch, RegionMeta } from './region-meta.js';
import { epochFromProto, epochMatches, peerById } from './region-meta.js';
import { decodeCommand } from './command-apply.js';
import type { StoreConfig } from './store-config.js';
import type { LoadRegionsOptions } from './region-loader.js';
import { createRegionPeer, createUninitializedPeer } from './region-loader.js';
import type { RegionRange } from './region-range-index.js';
import { RegionRangeIndex } from './region-range-index.js';
import { peerCreationRefusal } from './peer-creation.js';
import { destroyBatch, removeRaftState } from './peer-destroyer.js';
import type { MergeOutcome } from './merge-coordinator.js';
import { MergeCoordinator } from './merge-coordinator.js';
import type { MergeCatchUp } from './region-merge.js';
import { mergeCatchUpMessage } from './region-merge.js';
import { readTombstone } from './peer-tombstone.js';
import type { SplitOutcome } from './region-split.js';
import { checkSplitKeys, checkSplitPoints, encodeSplit, writeInitialRegionState } from './region-split.js';
import type { RegionsChangedEvent, SplitIdSource } from './split-ids.js';
import { SplitChecker } from './split-checker.js';
import {
  followerAcceptsNotice,
  followerSettled,
  isNoticeResponse,
  leaderLogQuiescent,
  leaderNudge,
  membershipSettled,
  quiesceNotice,
} from './hibernation.js';
import { laggingLearnersCount } from './peer-catch-up.js';
import { StoreLiveness } from './store-liveness.js';
import { TickClock } from './tick-clock.js';
import { WakePacer } from './wake-pacer.js';
import type { StoreDisk } from './disk/disk-guard.js';
import type { DiskUsage } from '../storage/disk-space.js';
import { diskFullRefusal, dropsOnFullDisk } from './disk/disk-guard.js';
import { DurableWriter, StoppedWhileDiskFullError } from './disk/durable-write.js';
import type { PeerStoresView } from './disk/leader-handoff.js';
import { HANDOFFS_PER_INTERVAL_MAX, handoffTarget, withholdsCampaign } from './disk/leader-handoff.js';

/** A Raft message between two peers of a region, with what the receiving store needs to route it. */
export interface RaftEnvelope {
  readonly regionId: number;
  readonly fromPeer: PeerMeta;
  readonly toPeer: PeerMeta;
  readonly regionEpoch: RegionEpoch;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  readonly message: Message;
  /** Tells the receiving peer it was removed from the region. */
  readonly isTombstone: boolean;
  /** A heartbeat that is a quiesce notice (hibernation.ts); absent means false. */
  readonly quiesce?: boolean;
}

/**
 * One region's heartbeat or heartbeat response as it crosses the network coalesced with
 * the others between two stores: the receiving store fills in peers, epoch and range.
 */
export interface HeartbeatRecord {
  readonly regionId: number;
  readonly fromPeerId: number;
  readonly toPeerId: number;
  readonly term: number;
  readonly commit: number;
  readonly context: Uint8Array;
  readonly quiesce: boolean;
  readonly isResponse: boolean;
}

/** Where a store's outbound Raft messages go (the gRPC transport, or the simulator's network). */
export interface RaftOutbox {
  /** Queues a message; must not block. Returns false if it was dropped. */
  send(toStoreId: number, envelope: RaftEnvelope): boolean;
  /** Sends everything queued this round (coalesced per destination store). */
  flush(): void;
  /**
   * Tells `toStoreId` this store is alive even if no region has anything to say (an empty
   * frame when nothing else is queued). Called every storePingIntervalTicks while regions
   * hibernate; an outbox without it makes quiesced regions wake on false suspicions.
   */
  sendStoreHeartbeat?(toStoreId: number): void;
  /**
   * Streams a 'snap' message with its data (exactly totalSizeBytes); resolves once the
   * receiving store took it, rejects if the transfer failed. Must not block the caller.
   */
  sendSnapshot(
    toStoreId: number,
    envelope: RaftEnvelope,
    data: AsyncIterable<Uint8Array>,
    totalSizeBytes: number,
  ): Promise<void>;
}

/** Injected time and scheduling, so the simulator can run stores without real timers. */
export interface StoreClock {
  nowUnixMs(): number;
  /** Runs `fn` soon, after the current call stack (setImmediate in production). */
  defer(fn: () => void): void;
}

export interface StoreDeps {
  readonly config: StoreConfig;
  readonly engine: Engine;
  readonly outbox: RaftOutbox;
  readonly clock: StoreClock;
  /** Called when the loop hits an error it cannot recover from (the process should exit). */
  readonly onFatal: (error: Error) => void;
  /** Ids for splits (the Placement Driver); without it splitRegion refuses. */
  readonly splitIds?: SplitIdSource;
  /** Told after a split is durable and its new peers exist (to report it to PD). */
  readonly onRegionsChanged?: (event: RegionsChangedEvent) => void;
  /**
   * Told after a round in which the local leader of a region got news for PD: a membership
   * change applied, it became leader, or a lagging learner caught up (peer-catch-up.ts). PD
   * advances its operators on reports, so each step's completion is reported at once.
   */
  readonly onRegionReportDue?: (regionId: number) => void;
  /** Seeds the election jitter of peers the store creates (split, uninitialized); default: seeded by store and region id. */
  readonly randomFor?: (regionId: number) => RandomSource;
  /** Resolves after `ms` (a merge waiting for its source's log to replicate); default: a real timer. */
  readonly sleepMs?: (ms: number) => Promise<void>;
  /** How full the data directory's disk is (disk/disk-guard.ts); without it the disk is never full. */
  readonly disk?: StoreDisk;
  /** How full the other stores' disks are, as their frames say (disk/peer-disks.ts). */
  readonly peerDisks?: { usageOf(storeId: number): DiskUsage };
  /** Lines for the operator (a write waiting for disk space); default: stderr. */
  readonly log?: (line: string) => void;
}

/** First pause of a round's write after an ENOSPC, and the longest (disk/durable-write.ts). */
const NO_SPACE_PAUSE_MS = 100;
const NO_SPACE_PAUSE_MS_MAX = 2000;

/** Regions an EpochNotMatch lists at most (the client asks PD for the rest). */
export const EPOCH_NOT_MATCH_REGIONS_MAX = 64;

export interface StoreStats {
  readonly roundsCount: number;
  readonly syncedWritesCount: number;
  readonly writesCount: number;
  readonly droppedRaftMessagesCount: number;
  readonly snapshotsSentCount: number;
  readonly snapshotSendFailuresCount: number;
  readonly snapshotsInstalledCount: number;
  readonly snapshotGenerationFailuresCount: number;
  readonly logCompactionsCount: number;
  readonly splitsCount: number;
  readonly splitChecksCount: number;
  /** Merges this store applied as a target replica. */
  readonly mergesCount: number;
  /** Target peers whose apply waits for their merge source to catch up. */
  readonly mergeWaitingTargetsCount: number;
  readonly uninitializedPeersCount: number;
  readonly peersCreatedCount: number;
  readonly peersDestroyedCount: number;
  /** Regions getting ticks (not quiesced). */
  readonly awakeRegionsCount: number;
  readonly regionsQuiescedCount: number;
  readonly regionsWokenCount: number;
  readonly suspectedStoresCount: number;
  /** Quiesced regions a store suspicion still has to wake (wake-pacer.ts). */
  readonly pendingWakeUpsCount: number;
  /** Raft ticks the rounds handed out (tick-clock.ts), and tick intervals lost to slow rounds. */
  readonly ticksDeliveredCount: number;
  readonly ticksLostCount: number;
  /** Leaderships this store asked to move because its disk is not normal (disk/leader-handoff.ts). */
  readonly leaderHandoffsCount: number;
}

/** Ticks between two scans of all regions for the stores holding their peers (liveness, pings). */
const PEER_STORES_REFRESH_TICKS = 100;

/** A region a split applied this round will create on this store once the batch is durable. */
interface SplitCreation {
  readonly region: RegionMeta;
  readonly peerId: number;
  /** An uninitialized peer of the region the split replaces. */
  readonly replacing: RegionPeer | undefined;
}

interface StagedSplit {
  readonly parent: RegionPeer;
  readonly split: AppliedSplit;
  readonly creations: SplitCreation[];
}

/** A merge a target peer applied this round: the local source peer leaves once the batch is durable. */
interface StagedMerge {
  readonly target: RegionPeer;
  readonly merge: AppliedMerge;
  readonly source: RegionPeer;
}

export class Store {
  private readonly regions = new Map<number, RegionPeer>();
  private readonly busy = new Set<RegionPeer>();
  /** Regions that get ticks: every present region but the quiesced ones. */
  private readonly awake = new Set<RegionPeer>();
  private readonly liveness: StoreLiveness;
  private readonly tickClock: TickClock;
  private readonly wakePacer: WakePacer;
  private regionsQuiescedCount = 0;
  private regionsWokenCount = 0;
  /** Voters PD keeps per region (its max-replicas; 0: not told): other counts keep a region awake. */
  private votersWanted = 0;
  private running = false;
  private scheduled = false;
  private stopped = false;
  private roundsCount = 0;
  /** Store ticks since the disk stopped being normal (the hand-off runs once per election timeout). */
  private diskHandoffTicks = 0;
  private leaderHandoffsCount = 0;
  /** When (diskHandoffTicks) each region was last asked to hand off; cleared once the disk is normal. */
  private readonly handoffAskedAtTick = new Map<number, number>();
  private writesCount = 0;
  private syncedWritesCount = 0;
  private droppedRaftMessagesCount = 0;
  private roundDone: Array<() => void> = [];
  private snapshotsInstalledCount = 0;
  /** Received snapshots the running round is installing (answered when it ends, or fails). */
  private roundInstalls: PendingInstall[] = [];
  private snapshotGenerationFailuresCount = 0;
  private logCompactionsCount = 0;
  private readonly generator: SnapshotGenerator;
  private readonly shipper: SnapshotShipper;
  /** Initialized regions by key range (disjoint). */
  private readonly rangeIndex = new RegionRangeIndex();
  /** Ids of regions whose local peer is uninitialized. */
  private readonly uninitialized = new Set<number>();
  /** Peers to destroy at the end of the current (or next) round. */
  private readonly toDestroy = new Set<RegionPeer>();
  private splitsCount = 0;
  private peersCreatedCount = 0;
  private peersDestroyedCount = 0;
  private readonly splitChecker: SplitChecker;
  private mergesCount = 0;
  /** Target peers whose apply waits for their merge source (region-peer.ts ApplyBacklog). */
  private readonly mergeWaiting = new Set<RegionPeer>();
  private readonly mergeCoordinator: MergeCoordinator;
  /** Writes round batches, waiting out a full disk (disk/durable-write.ts). */
  readonly durableWriter: DurableWriter;
  private readonly applyContext: ApplyContext = {
    mergeSourceReady: (sourceRegionId, prepareIndex, catchUp) =>
      this.mergeSourceReady(sourceRegionId, prepareIndex, catchUp),
  };

  constructor(private readonly deps: StoreDeps) {
    this.splitChecker = new SplitChecker(this, deps.config);
    const sleepMs = deps.sleepMs ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.mergeCoordinator = new MergeCoordinator(this, {
      nowUnixMs: () => deps.clock.nowUnixMs(),
      sleepMs,
    });
    this.durableWriter = new DurableWriter({
      storeId: deps.config.storeId,
      engine: deps.engine,
      disk: deps.disk,
      sleepMs,
      stopping: () => this.stopped,
      log: (line) => (deps.log ?? console.error)(`store ${deps.config.storeId}: ${line}`),
      noSpacePauseMs: NO_SPACE_PAUSE_MS,
      noSpacePauseMsMax: NO_SPACE_PAUSE_MS_MAX,
    });
    this.liveness = new StoreLiveness(deps.config.storeId, deps.config.storeSuspectAfterTicks);
    this.tickClock = newTickClock(deps.config);
    this.wakePacer = new WakePacer(deps.config.wakeRegionsPerTickMax);
    this.generator = new SnapshotGenerator({
      engine: deps.engine,
      onGenerated: (regionId, snapshot) => {
        const peer = this.regions.get(regionId);
        if (peer === undefined) return;
        peer.offerGeneratedSnapshot(snapshot);
        this.markBusy(peer);
      },
      onFailed: () => this.snapshotGenerationFailuresCount++,
    });
    this.shipper = new SnapshotShipper({
      generator: this.generator,
      outbox: deps.outbox,
      onStatus: (regionId, toPeerId, ok) => {
        const peer = this.regions.get(regionId);
        if (peer === undefined) return;
        peer.noteSnapshotStatus(toPeerId, ok);
        this.markBusy(peer);
      },
    });
  }

  get storeId(): number {
    return this.deps.config.storeId;
  }

  addRegion(peer: RegionPeer): void {
    if (this.regions.has(peer.regionId))
      throw new Error(`region ${peer.regionId} already on store ${this.storeId}`);
    if (peer.initialized) this.rangeIndex.upsert(peer.region);
    else this.uninitialized.add(peer.regionId);
    this.regions.set(peer.regionId, peer);
    if (peer.hibernation.asleep) throw new Error(`region ${peer.regionId}: added asleep`);
    this.awake.add(peer);
    if (this.hibernating) for (const p of peer.region.peers) this.liveness.expect(p.storeId);
    this.markBusy(peer);
  }

  private get hibernating(): boolean {
    return this.deps.config.hibernateRegions;
  }

  /**
   * PD's max-replicas, from its store heartbeat answers: a leader whose region has another
   * voter count (or a learner) does not quiesce it (hibernation.ts membershipSettled).
   */
  setVotersWanted(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`setVotersWanted: bad count ${count}`);
    this.votersWanted = count;
  }

  /** Whether this store suspects `storeId` down (store liveness; never without hibernation). */
  peerStoreSuspected(storeId: number): boolean {
    return this.hibernating && this.liveness.isSuspected(storeId);
  }

  /** The local peer of a region (initialized or not: check peer.initialized before serving). */
  region(regionId: number): RegionPeer | undefined {
    return this.regions.get(regionId);
  }

  /** The initialized local region holding `key`, if any. */
  regionForKey(key: Uint8Array): RegionPeer | undefined {
    const range = this.rangeIndex.regionForKey(key);
    return range === undefined ? undefined : this.regions.get(range.id);
  }

  /** Initialized local regions overlapping [startKey, endKey) (empty endKey = unbounded), in key order. */
  regionsOverlapping(startKey: Uint8Array, endKey: Uint8Array): RegionMeta[] {
    return this.rangeIndex.overlapping(startKey, endKey).flatMap((r) => {
      const peer = this.regions.get(r.id);
      return peer === undefined ? [] : [peer.region];
    });
  }

  /**
   * EpochNotMatch for a request that named `requestedVersion` of the peer's region: the
   * local regions now covering the range the region had then (the region itself first).
   */
  epochNotMatch(peer: RegionPeer, requestedVersion: number): RegionError {
    const range = peer.rangeAtVersion(requestedVersion);
    const others = this.regionsOverlapping(range.startKey, range.endKey).filter(
      (r) => r.id !== peer.regionId,
    );
    return {
      kind: 'epochNotMatch',
      currentRegions: [peer.region, ...others].slice(0, EPOCH_NOT_MATCH_REGIONS_MAX),
    };
  }

  allRegions(): RegionPeer[] {
    return [...this.regions.values()];
  }

  /**
   * A tick interval elapsed (the ticker calls this every tickIntervalMs): the next round gives
   * every awake region a tick (deliverTicks). Store liveness counts these calls, so a stall
   * of this store's own event loop (one late call) is not taken for silence of its peers.
   */
  tick(): void {
    if (this.stopped) return;
    // Nothing to tick while every region sleeps: no tick is due, none is lost.
    if (this.awake.size > 0) {
      this.tickClock.elapsed();
      for (const peer of this.awake) this.busy.add(peer);
    }
    if (this.hibernating) this.tickLiveness();
    this.maybeHandOffLeaders();
    if (this.busy.size > 0) this.schedule();
  }

  /**
   * On a disk that is not normal, once per election timeout, the regions led here are asked
   * to move their leadership to a voter with room (disk/leader-handoff.ts).
   */
  private maybeHandOffLeaders(): void {
    const disk = this.deps.disk;
    if (disk === undefined || disk.usage === 'normal') {
      this.diskHandoffTicks = 0;
      this.handoffAskedAtTick.clear();
      return;
    }
    if (this.diskHandoffTicks++ % this.deps.config.electionTimeoutTicks !== 0) return;
    let asked = 0;
    for (const peer of this.regions.values()) {
      if (asked >= HANDOFFS_PER_INTERVAL_MAX) break;
      if (this.handOffLeadership(peer)) asked++;
    }
  }

  /** Asks the region's local leader to transfer to a voter with room; true if a transfer is under way. */
  private handOffLeadership(peer: RegionPeer): boolean {
    if (!peer.initialized || peer.node.basicStatus().role !== 'leader') return false;
    const status = peer.node.status();
    const matchOf = (peerId: number): number => status.progress.find((p) => p.id === peerId)?.match ?? 0;
    const target = handoffTarget(peer.region.peers, this.storeId, this.peerStores, matchOf);
    if (target === undefined) return false;
    if (status.leadTransferee === target.id) return true;
    // Asked lately (the transfer is queued, or the core is still catching the target up).
    const askedAt = this.handoffAskedAtTick.get(peer.regionId);
    if (askedAt !== undefined && this.diskHandoffTicks - askedAt < this.deps.config.electionTimeoutTicks)
      return true;
    if (this.transferLeader(peer.regionId, target.id) !== undefined) return false;
    this.handoffAskedAtTick.set(peer.regionId, this.diskHandoffTicks);
    this.leaderHandoffsCount++;
    (this.deps.log ?? console.error)(
      `store ${this.storeId}: disk ${this.deps.disk?.usage ?? 'normal'}: region ${peer.regionId}'s leadership goes to store ${target.storeId}`,
    );
    return true;
  }

  /** The other stores as the disk rules see them: their frames' disk levels, and liveness. */
  private readonly peerStores: PeerStoresView = {
    usageOf: (storeId) => this.deps.peerDisks?.usageOf(storeId) ?? 'normal',
    isSuspected: (storeId) => this.peerStoreSuspected(storeId),
  };

  /** Suspects silent peer stores (waking the regions they lead), pings the peer stores. */
  private tickLiveness(): void {
    const liveness = this.liveness;
    for (const storeId of liveness.tick()) this.wakeRegionsLedFrom(storeId);
    this.wakePaced();
    if (liveness.tickCount % PEER_STORES_REFRESH_TICKS === 0) {
      for (const peer of this.regions.values()) for (const p of peer.region.peers) liveness.expect(p.storeId);
    }
    const outbox = this.deps.outbox;
    if (outbox.sendStoreHeartbeat === undefined) return;
    if (liveness.tickCount % this.deps.config.storePingIntervalTicks !== 0) return;
    for (const storeId of liveness.stores()) outbox.sendStoreHeartbeat(storeId);
  }

  /** A frame from `storeId` arrived (the transport calls this for every frame, pings included). */
  noteStoreHeard(storeId: number): void {
    if (this.hibernating) this.heardFrom(storeId);
  }

  /** Any frame from `storeId` proves it alive: if it was suspected, the wake-ups still queued for it are dropped. */
  private heardFrom(storeId: number): void {
    if (this.liveness.heard(storeId)) this.wakePacer.cancel(storeId);
  }

  /** The quiesced regions whose leader is on `storeId` (suspected down) wake up (paced), to campaign if it is gone. */
  private wakeRegionsLedFrom(storeId: number): void {
    const regionIds: number[] = [];
    for (const peer of this.regions.values()) {
      if (!peer.hibernation.asleep) continue;
      const leader = peerById(peer.region, peer.node.basicStatus().leaderId);
      if (leader === undefined || leader.storeId === storeId) regionIds.push(peer.regionId);
    }
    this.wakePacer.schedule(storeId, regionIds);
    this.wakePaced();
  }

  /** Every quiesced region with a peer on `storeId` wakes up, paced (the store was reported unreachable). */
  private wakeRegionsWithPeerOn(storeId: number): void {
    const regionIds: number[] = [];
    for (const peer of this.regions.values()) {
      if (peer.hibernation.asleep && peer.region.peers.some((p) => p.storeId === storeId))
        regionIds.push(peer.regionId);
    }
    this.wakePacer.schedule(storeId, regionIds);
    this.wakePaced();
  }

  /** Wakes this tick's share of the regions queued by suspicions (wake-pacer.ts). */
  private wakePaced(): void {
    if (this.wakePacer.pendingWakeUpsCount === 0) return;
    let nudged = false;
    for (const regionId of this.wakePacer.take()) {
      const peer = this.regions.get(regionId);
      if (peer !== undefined && peer.hibernation.asleep) {
        nudged = this.wake(peer) || nudged;
        this.markBusyAsleep(peer);
      }
    }
    if (nudged) this.deps.outbox.flush();
  }

  /**
   * Back into the awake set (ticks resume at the next tick). A follower woken by anything but
   * its leader nudges the leader (a response with an empty context, which wakes it): if the
   * leader's store is alive, its heartbeats resume before the follower times out, and a
   * false suspicion or a stray message costs no election. Returns whether a nudge was queued.
   */
  private wake(peer: RegionPeer, byPeerId = 0): boolean {
    if (!peer.hibernation.asleep) return false;
    peer.hibernation.wake(this.deps.config.electionTimeoutTicks);
    this.awake.add(peer);
    this.regionsWokenCount++;
    const status = peer.node.basicStatus();
    if (status.role !== 'follower' || status.leaderId === 0 || status.leaderId === byPeerId) return false;
    const self = peerById(peer.region, peer.peerId);
    const leader = peerById(peer.region, status.leaderId);
    if (self === undefined || leader === undefined) return false;
    const { region } = peer;
    return this.deps.outbox.send(leader.storeId, {
      regionId: region.id,
      fromPeer: self,
      toPeer: leader,
      regionEpoch: region.epoch,
      startKey: region.startKey,
      endKey: region.endKey,
      message: leaderNudge(self.id, leader.id, status.term),
      isTombstone: false,
    });
  }

  private putToSleep(peer: RegionPeer): void {
    peer.hibernation.sleep();
    this.awake.delete(peer);
    this.regionsQuiescedCount++;
  }

  /** Inbound Raft messages from other stores; never blocks, drops what cannot be queued. */
  deliver(envelopes: readonly RaftEnvelope[]): void {
    for (const env of envelopes) {
      if (this.hibernating) this.heardFrom(env.fromPeer.storeId);
      if (!this.deliverOne(env)) this.droppedRaftMessagesCount++;
    }
  }

  /**
   * Inbound coalesced heartbeats and responses from `fromStoreId`: each is expanded into
   * the Raft message it stands for, with the peers, epoch and range of the local region
   * (a heartbeat for a region this store does not hold is dropped: Raft retransmits, and
   * the leader's appends create missing peers).
   */
  deliverHeartbeats(fromStoreId: number, records: readonly HeartbeatRecord[]): void {
    if (this.hibernating) this.heardFrom(fromStoreId);
    for (const record of records) {
      const env = this.expandHeartbeat(fromStoreId, record);
      if (env === undefined || !this.deliverOne(env)) this.droppedRaftMessagesCount++;
    }
  }

  private expandHeartbeat(fromStoreId: number, record: HeartbeatRecord): RaftEnvelope | undefined {
    const peer = this.regions.get(record.regionId);
    if (peer === undefined || peer.peerId !== record.toPeerId) return undefined;
    const { region } = peer;
    const member = peerById(region, record.fromPeerId);
    const fromPeer = member ?? { id: record.fromPeerId, storeId: fromStoreId, role: 'voter' as const };
    if (fromPeer.storeId !== fromStoreId) return undefined;
    if (member === undefined && record.isResponse && peer.initialized) {
      // A full response would carry the sender's older epoch and get it told (deliverOne);
      // a follower that answers us without being a member was removed: tell it likewise.
      this.tellRemoved(peer, fromPeer);
      return undefined;
    }
    const message: Message = {
      type: record.isResponse ? 'heartbeatResp' : 'heartbeat',
      to: record.toPeerId,
      from: record.fromPeerId,
      term: record.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: record.commit,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: record.context,
    };
    return {
      regionId: region.id,
      fromPeer,
      toPeer: peerById(region, peer.peerId) ?? { id: peer.peerId, storeId: this.storeId, role: 'voter' },
      regionEpoch: region.epoch,
      startKey: region.startKey,
      endKey: region.endKey,
      message,
      isTombstone: false,
      quiesce: record.quiesce && !record.isResponse,
    };
  }

  /** Routes one message to its peer (creating or destroying peers as it tells); false if dropped. */
  private deliverOne(env: RaftEnvelope): boolean {
    // A snapshot travels only with its data, through receiveSnapshot.
    if (this.stopped || env.toPeer.storeId !== this.storeId || env.message.type === 'snap') return false;
    const peer = this.regions.get(env.regionId) ?? this.maybeCreatePeer(env);
    if (peer === undefined) return false;
    const newerEpoch = env.regionEpoch.confVer > peer.region.epoch.confVer;
    if (env.toPeer.id !== peer.peerId) {
      // A newer peer of the region lives on this store now: ours was removed without learning it.
      if (env.toPeer.id > peer.peerId && (!peer.initialized || newerEpoch)) this.requestDestroy(peer);
      return false;
    }
    if (env.isTombstone) {
      if (!peer.initialized || newerEpoch) this.requestDestroy(peer);
      return true;
    }
    const stale = env.regionEpoch.confVer < peer.region.epoch.confVer;
    if (peer.initialized && stale && peerById(peer.region, env.fromPeer.id) === undefined) {
      this.tellRemoved(peer, env.fromPeer);
      return false;
    }
    peer.learnPeer(env.fromPeer);
    // Not persistable now: unacked, the leader resends once the disk has room.
    if (dropsOnFullDisk(this.deps.disk, env.message)) return false;
    const wakes = this.messageWakes(peer, env);
    if (!peer.enqueueRaftMessage(env.message)) return false;
    if (wakes) this.markBusy(peer, env.message.from);
    else this.markBusyAsleep(peer);
    return true;
  }

  /**
   * Whether a message for `peer` wakes it (hibernation.ts): all do, except a quiesce notice
   * the follower takes (recorded on the peer for this round), and a late response to a
   * regular heartbeat reaching a sleeping leader.
   */
  private messageWakes(peer: RegionPeer, env: RaftEnvelope): boolean {
    if (!this.hibernating || !peer.initialized) return true;
    const m = env.message;
    const hib = peer.hibernation;
    if (env.quiesce === true) {
      if (!followerAcceptsNotice(peer.node.basicStatus(), m)) return true;
      hib.noticeFromPeerId = m.from;
      hib.noticeTerm = m.term;
      return false;
    }
    if (hib.asleep && m.type === 'heartbeatResp' && !isNoticeResponse(m)) {
      const status = peer.node.basicStatus();
      return status.role !== 'leader' || status.term !== m.term;
    }
    return true;
  }

  /** A peer removed from the region (it is not in our newer membership) is still talking: tell it. */
  private tellRemoved(peer: RegionPeer, removed: PeerMeta): void {
    const self = peerById(peer.region, peer.peerId);
    if (self === undefined) return;
    const message: Message = {
      type: 'heartbeat',
      to: removed.id,
      from: self.id,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
    };
    const { region } = peer;
    this.deps.outbox.send(removed.storeId, {
      regionId: region.id,
      fromPeer: self,
      toPeer: removed,
      regionEpoch: region.epoch,
      startKey: region.startKey,
      endKey: region.endKey,
      message,
      isTombstone: true,
    });
    this.deps.outbox.flush();
  }

  /** An uninitialized peer for a message to a region this store does not hold, if one may be created. */
  private maybeCreatePeer(env: RaftEnvelope): RegionPeer | undefined {
    const refusal = peerCreationRefusal(env, {
      storeId: this.storeId,
      engine: this.deps.engine,
      rangeIndex: this.rangeIndex,
      uninitializedPeersCount: this.uninitialized.size,
      uninitializedPeersMax: this.deps.config.uninitializedPeersMax,
    });
    if (refusal !== undefined) return undefined;
    const peer = createUninitializedPeer(env.regionId, env.toPeer, env.fromPeer, this.loadOptions());
    this.addRegion(peer);
    this.peersCreatedCount++;
    return peer;
  }

  private loadOptions(): LoadRegionsOptions {
    const storeId = this.storeId;
    return {
      engine: this.deps.engine,
      config: this.deps.config,
      randomFor:
        this.deps.randomFor ??
        ((regionId) => new SeededRandom(((storeId * 1_000_003) ^ regionId) >>> 0 || 1)),
      requestSnapshot: (regionId) => this.requestSnapshot(regionId),
    };
  }

  /**
   * PD says the region moved on without this peer: destroy it, as a tombstone message would.
   * `evidence` is what PD showed: a newer membership of the region without the peer, or no
   * such region and newer regions over its range (merged away). Returns whether it was
   * scheduled.
   *
   * A frozen merge source goes too on the first kind: a frozen region takes no membership
   * change, so a newer membership proves the region served again after this peer's
   * PrepareMerge, i.e. that merge was rolled back and can complete nowhere (unless a local
   * target's apply waits for this source, which then keeps it). Merged away, it stays while
   * a local target may still absorb it by log: a peer of the target, or a local region over
   * the target's range as PrepareMerge recorded it (which may yet split into the target).
   * Without either it is an orphan: it blocks the creation of the target's peer here (their
   * ranges overlap), and that peer's snapshot brings the source's data back.
   */
  destroyStalePeer(regionId: number, peerId: number, evidence: 'newerMembership' | 'mergedAway'): boolean {
    const peer = this.regions.get(regionId);
    if (peer === undefined || peer.peerId !== peerId || peer.node.basicStatus().role === 'leader')
      return false;
    const merge = peer.mergeState;
    if (merge !== null) {
      if (this.mergeTargetAwaits(regionId)) return false;
      if (evidence === 'mergedAway' && !this.orphanedMergeSource(regionId, merge.target)) return false;
      this.destroyStale(peer);
      return true;
    }
    this.requestDestroy(peer);
    return true;
  }

  /** Whether no local peer could absorb a frozen source by log (see destroyStalePeer). */
  private orphanedMergeSource(sourceRegionId: number, target: RegionMeta): boolean {
    if (this.regions.has(target.id)) return false;
    const overlaps = this.rangeIndex.overlapping(target.startKey, target.endKey);
    return overlaps.every((range) => range.id === sourceRegionId);
  }

  private mergeTargetAwaits(sourceRegionId: number): boolean {
    for (const target of this.mergeWaiting) if (target.awaitedMergeSourceId === sourceRegionId) return true;
    return false;
  }

  /**
   * The local regions overlapping a snapshot of `regionId` that it proves stale, if all of
   * them are: each is older (lower version) and the snapshot's region holds its start key. A
   * region keeps its leftmost range as long as it lives (a split hands out the right parts, a
   * merge as target only grows it), so another, newer region holding its start key means it
   * was merged away (a merge this store missed; a frozen source whose target can no longer
   * catch up by log). None if any overlap is newer or begins before the snapshot's range.
   */
  private staleOverlaps(regionId: number, snapshotRegion: RegionMeta): RegionPeer[] {
    const out: RegionPeer[] = [];
    for (const range of this.rangeIndex.overlapping(snapshotRegion.startKey, snapshotRegion.endKey)) {
      if (range.id === regionId) continue;
      const peer = this.regions.get(range.id);
      if (peer === undefined) return [];
      const holdsStart = compareBytes(snapshotRegion.startKey, peer.region.startKey) <= 0;
      if (!holdsStart || peer.region.epoch.version >= snapshotRegion.epoch.version) return [];
      out.push(peer);
    }
    return out;
  }

  /** Destroys a peer a newer region's snapshot proved stale, a frozen merge source included. */
  private destroyStale(peer: RegionPeer): void {
    peer.mergeState = null;
    this.requestDestroy(peer);
  }

  private requestDestroy(peer: RegionPeer): void {
    // A merge source leaves only through its target's CommitMerge (which keeps its data) or
    // serves again after a rollback: destroying it would delete data the target takes over.
    if (peer.mergeState !== null) return;
    peer.destroyRequested = true;
    this.toDestroy.add(peer);
    this.markBusy(peer);
  }

  /**
   * The Raft core of a region needs a snapshot (PeerStorage.snapshot()): generate one in
   * the background unless a fit one exists; the region gets it in a later round.
   */
  requestSnapshot(regionId: number): void {
    const peer = this.regions.get(regionId);
    if (peer !== undefined) this.generator.request(regionId, peer.storage.snapshotFloorIndex);
  }

  /**
   * A snapshot from the region's leader, complete and checked by the transport: verifies
   * it against the local peer and its descriptor, then installs it in the region's next
   * round. Resolves once that round is durable; rejects (the sender reports a failed
   * snapshot) if it is not for us, stale, corrupt, or one is already waiting.
   */
  async receiveSnapshot(envelope: RaftEnvelope, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.stopped) throw new SnapshotRejectedError(envelope.regionId, 'store is stopping');
    const disk = this.deps.disk;
    if (disk !== undefined && disk.usage !== 'normal')
      throw new SnapshotRejectedError(envelope.regionId, `disk ${disk.usage}: ${disk.describe()}`);
    if (envelope.toPeer.storeId === this.storeId && !this.regions.has(envelope.regionId))
      this.maybeCreatePeer(envelope);
    const descriptor = checkSnapshotHeader(envelope, this.regions.get(envelope.regionId));
    const overlap = this.overlapOfOthers(envelope.regionId, descriptor.region);
    if (overlap !== undefined) {
      const stale = this.staleOverlaps(envelope.regionId, descriptor.region);
      for (const peer of stale) this.destroyStale(peer);
      throw new SnapshotRejectedError(
        envelope.regionId,
        stale.length > 0
          ? `its range overlaps local region(s) ${stale.map((p) => p.regionId).join(', ')} of older versions (merged into it elsewhere): removing them first`
          : `its range overlaps local region ${overlap}`,
      );
    }
    // Not newer than what the peer applied: the core will only answer with its commit index.
    const stale = descriptor.index <= (this.regions.get(envelope.regionId)?.storage.appliedIndex ?? 0);
    const records = stale ? [] : await readSnapshotData(descriptor, data);
    const peer = this.regions.get(envelope.regionId);
    if (peer === undefined || this.stopped)
      throw new SnapshotRejectedError(envelope.regionId, 'region left the store');
    await new Promise<void>((resolve, reject) => {
      const pending: PendingInstall = {
        envelope,
        descriptor,
        records,
        done: (error) => (error ? reject(error) : resolve()),
      };
      if (!peer.offerSnapshotInstall(pending))
        return reject(new SnapshotRejectedError(envelope.regionId, 'another snapshot is waiting'));
      this.markBusy(peer);
    });
  }

  /** An initialized local region other than `regionId` overlapping `range` (its id), if any. */
  private overlapOfOthers(regionId: number, range: RegionRange): number | undefined {
    return this.rangeIndex.overlapping(range.startKey, range.endKey).find((r) => r.id !== regionId)?.id;
  }

  /**
   * Proposes an encoded RaftCommand to a region; resolves once applied (or refused). An
   * EpochNotMatch lists the local regions now covering the range the command's epoch names.
   */
  propose(regionId: number, data: Uint8Array): Promise<CommandResult> {
    return new Promise((resolve) => {
      const peer = this.regions.get(regionId);
      const waiter = (result: CommandResult): void => {
        const stale = result.kind === 'regionError' && result.error.kind === 'epochNotMatch';
        if (!stale || peer === undefined) return resolve(result);
        // Rare path: the version the command was built against tells which range the proposer saw.
        const version = epochFromProto(decodeCommand(data).header?.regionEpoch, 'header.regionEpoch').version;
        resolve({ kind: 'regionError', error: this.epochNotMatch(peer, version) });
      };
      const error = this.diskRefusal(peer, data) ?? this.enqueue(regionId, { kind: 'propose', data, waiter });
      if (error) resolve({ kind: 'regionError', error });
    });
  }

  /**
   * DiskFull if the proposal adds data and this store, or too many of the region's voters,
   * lack space; ServerIsBusy instead when this store lacks it but the leadership can move to
   * a voter with room (the hand-off starts now, and the client's retry finds the new leader).
   */
  private diskRefusal(peer: RegionPeer | undefined, data: Uint8Array): RegionError | undefined {
    if (peer === undefined || (this.deps.disk === undefined && this.deps.peerDisks === undefined))
      return undefined;
    // Not the leader: the proposal path answers NotLeader, which sends the client to it.
    if (peer.node.basicStatus().role !== 'leader') return undefined;
    const voters = peer.region.peers.filter((p) => p.role !== 'learner').map((p) => p.storeId);
    const refusal = diskFullRefusal(this.deps.disk, this.peerStores.usageOf, voters, data, this.storeId);
    const selfFull = (this.deps.disk?.usage ?? 'normal') !== 'normal';
    if (refusal === undefined || !selfFull || !this.handOffLeadership(peer)) return refusal;
    return {
      kind: 'serverIsBusy',
      reason: `disk full on store ${this.storeId}: leadership is moving to a store with room`,
      backoffMs: this.deps.config.busyBackoffMs,
    };
  }

  /**
   * Splits a region at `splitKeys` (strictly ascending, strictly inside it): on the leader,
   * asks `ids` for the new regions' ids, proposes the split and resolves once it is applied
   * here, with the resulting regions in key order (the original, leftmost, first).
   */
  async splitRegion(
    regionId: number,
    epoch: RegionEpoch,
    splitKeys: readonly Uint8Array[],
    ids: SplitIdSource | undefined = this.deps.splitIds,
  ): Promise<SplitOutcome> {
    if (ids === undefined)
      return { kind: 'rejected', reason: 'splits need a placement driver (no split id source configured)' };
    const peer = this.regions.get(regionId);
    if (peer === undefined || !peer.initialized)
      return { kind: 'regionError', error: { kind: 'regionNotFound', regionId } };
    if (!epochMatches(peer.region.epoch, epoch))
      return { kind: 'regionError', error: this.epochNotMatch(peer, epoch.version) };
    if (peer.node.basicStatus().role !== 'leader') return { kind: 'regionError', error: peer.notLeader() };
    const region = peer.region;
    const keysProblem = checkSplitKeys(region, splitKeys);
    if (keysProblem !== undefined) return { kind: 'rejected', reason: keysProblem };
    let allocated: Array<{ newRegionId: number; newPeerIds: number[] }>;
    try {
      allocated = await ids.askBatchSplit(region, splitKeys.length);
    } catch (err) {
      const reason = `split ids unavailable: ${err instanceof Error ? err.message : String(err)}`;
      return {
        kind: 'regionError',
        error: { kind: 'serverIsBusy', reason, backoffMs: this.deps.config.busyBackoffMs },
      };
    }
    if (allocated.length !== splitKeys.length)
      return {
        kind: 'rejected',
        reason: `asked ids for ${splitKeys.length} regions, got ${allocated.length}`,
      };
    const points = splitKeys.map((splitKey, i) => ({
      splitKey,
      ...(allocated[i] as (typeof allocated)[number]),
    }));
    const pointsProblem = checkSplitPoints(region, points);
    if (pointsProblem !== undefined) return { kind: 'rejected', reason: pointsProblem };
    const data = encodeSplit({ region, peerId: peer.peerId, nowUnixMs: this.deps.clock.nowUnixMs() }, points);
    const result = await this.propose(regionId, data);
    switch (result.kind) {
      case 'split':
        return { kind: 'split', regions: [...result.regions] };
      case 'regionError':
      case 'rejected':
        return result;
      case 'outcomeUnknown':
        // The split may still apply: the caller looks at the region's epoch again.
        return {
          kind: 'regionError',
          error: { kind: 'serverIsBusy', reason: result.reason, backoffMs: this.deps.config.busyBackoffMs },
        };
      default:
        throw new Error(`region ${regionId}: split command applied as ${result.kind}`);
    }
  }

  /**
   * One pass of the split checker over the regions this store leads (the node calls it every
   * splitCheckIntervalMs); splits those grown past the configured size or key count.
   */
  checkSplits(): Promise<void> {
    return this.splitChecker.checkOnce();
  }

  /** Approximate bytes of the engine keys in `range`. */
  approximateSizeBytes(range: KeyRange): Promise<number> {
    return this.deps.engine.approximateSizeBytes(range);
  }

  /** Waits until a linearizable ('safe') or lease read may be served from the region's applied state. */
  readBarrier(regionId: number, mode: 'safe' | 'lease'): Promise<RegionError | undefined> {
    return new Promise((resolve) => {
      const error = this.enqueue(regionId, { kind: 'read', mode, waiter: resolve });
      if (error) resolve(error);
    });
  }

  proposeConfChange(regionId: number, cc: ConfChange): Promise<CommandResult> {
    return new Promise((resolve) => {
      const error = this.enqueue(regionId, { kind: 'confChange', cc, waiter: resolve });
      if (error) resolve({ kind: 'regionError', error });
    });
  }

  /**
   * Starts an election for the region's local peer in the next round, as the new regions of
   * a split do: for bootstrapping many regions at once without every replica timing out.
   */
  campaign(regionId: number): RegionError | undefined {
    return this.enqueue(regionId, { kind: 'campaign' });
  }

  transferLeader(regionId: number, toPeerId: number): RegionError | undefined {
    return this.enqueue(regionId, { kind: 'transferLeader', toPeerId });
  }

  /**
   * The transport could not deliver to `storeId`: tell each region's Raft node its peer there
   * is unreachable. Only frames lost with a broken stream make the store suspected (waking the
   * quiesced regions with a peer there); a full send queue is this store's congestion, and
   * waking thousands of regions for it would only add to the load.
   */
  reportUnreachable(
    storeId: number,
    regionIds: readonly number[],
    cause: 'queueFull' | 'streamLost' = 'streamLost',
  ): void {
    for (const regionId of regionIds) {
      const peer = this.regions.get(regionId);
      const target = peer?.region.peers.find((p) => p.storeId === storeId);
      if (peer === undefined || target === undefined) continue;
      this.enqueue(regionId, { kind: 'unreachable', peerId: target.id });
    }
    if (this.hibernating && cause === 'streamLost' && this.liveness.suspect(storeId))
      this.wakeRegionsWithPeerOn(storeId);
  }

  private enqueue(regionId: number, item: MailboxItem): RegionError | undefined {
    if (this.stopped)
      return { kind: 'serverIsBusy', reason: 'store is stopping', backoffMs: this.deps.config.busyBackoffMs };
    const peer = this.regions.get(regionId);
    if (peer === undefined || !peer.initialized) return { kind: 'regionNotFound', regionId };
    const error = peer.enqueue(item);
    if (error === undefined) this.markBusy(peer);
    return error;
  }

  /** Input for the peer: it wakes (if quiesced) and runs in the next round. */
  private markBusy(peer: RegionPeer, byPeerId = 0): void {
    if (this.wake(peer, byPeerId)) this.deps.outbox.flush();
    this.busy.add(peer);
    this.schedule();
  }

  /** Input that does not end the peer's sleep (a quiesce notice, a late heartbeat response). */
  private markBusyAsleep(peer: RegionPeer): void {
    this.busy.add(peer);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    this.deps.clock.defer(() => {
      this.scheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.busy.size > 0 && !this.stopped) await this.round();
    } catch (err) {
      this.stopped = true;
      const error = err instanceof Error ? err : new Error(String(err));
      if (error instanceof StoppedWhileDiskFullError) {
        // stop() fails what waits; the round's batch was never written, so nothing of it counts.
        for (const pending of this.roundInstalls) pending.done(error);
        this.roundInstalls = [];
        return;
      }
      // The senders of snapshots this round was installing learn that it failed.
      for (const pending of this.roundInstalls) pending.done(error);
      this.roundInstalls = [];
      this.deps.onFatal(error);
    } finally {
      this.running = false;
      const waiters = this.roundDone;
      this.roundDone = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when the loop is idle (every queued input has been through a round). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.roundDone.push(resolve));
  }

  private async round(): Promise<void> {
    this.roundsCount++;
    this.deliverTicks();
    // A peer removed from the store (destroyed, replaced) may linger in the busy set no longer.
    const peers = [...this.busy].filter((peer) => this.regions.get(peer.regionId) === peer);
    this.busy.clear();
    const writer = new ApplyWriter(this.deps.engine);
    const completions: Completion[] = [];
    for (const peer of peers) await this.installSnapshot(peer, writer, completions);
    for (const peer of peers) peer.step();
    const readies: Array<[RegionPeer, Ready]> = [];
    for (const peer of peers) {
      const ready = peer.collectReady();
      if (ready !== undefined) readies.push([peer, ready]);
    }
    if (readies.length === 0 && writer.batch.count === 0 && !peers.some((p) => p.applyWaitsForMerge)) {
      this.roundInstalls = [];
      for (const complete of completions) complete();
      await this.destroyRequested();
      this.settleHibernation(peers, []);
      this.reportNews(peers);
      return;
    }
    // Replication leaves before the round's write (Raft thesis §10.2.1): followers persist
    // while the leader does, and ReadIndex confirmations do not wait for anyone's fsync.
    // Safe because every response is stepped in a later round, after this write is durable.
    const sentEarly = new Set<Message>();
    this.send(readies, [], sendableBeforeWrite, sentEarly);
    let mustSync = false;
    for (const [peer, ready] of readies) {
      peer.persist(ready, writer.batch);
      mustSync ||= ready.mustSync;
    }
    const splits: StagedSplit[] = [];
    const applied: RegionPeer[] = [];
    for (const [peer, ready] of readies) {
      completions.push(...(await peer.apply(ready.committedEntries, writer, this.applyContext)));
      applied.push(peer);
      for (const split of peer.takeAppliedSplits()) splits.push(this.stageSplit(peer, split, writer.batch));
      if (peer.lifecycle === 'tombstone') this.toDestroy.add(peer);
    }
    // Merge targets with nothing new to apply whose source may have caught up since.
    for (const peer of peers) {
      if (!peer.applyWaitsForMerge || readies.some(([p]) => p === peer)) continue;
      completions.push(...(await peer.apply([], writer, this.applyContext)));
      applied.push(peer);
    }
    const merges = this.stageMerges(applied, writer.batch);
    for (const [peer] of readies) this.maybeCompactLog(peer, writer.batch);
    if (writer.batch.count > 0) {
      await this.durableWriter.write(writer.batch, { sync: mustSync });
      this.writesCount++;
      if (mustSync) this.syncedWritesCount++;
    }
    const sleepers = this.followersToSleep(readies);
    this.send(readies, sleepers, (_, message) => !sentEarly.has(message));
    // Merges first: a region that split and then absorbed a neighbour within one round (log
    // replay) is indexed with its final range only once the absorbed source has left.
    for (const staged of merges) this.finishMerge(staged);
    for (const staged of splits) await this.finishSplit(staged);
    this.roundInstalls = [];
    for (const complete of completions) complete();
    for (const [peer, ready] of readies) {
      peer.finish(ready);
      // A node may have more to do right away (e.g. entries it can now send or commit).
      const present = this.regions.get(peer.regionId) === peer;
      if (present && (peer.node.hasReady() || peer.hasInput())) this.busy.add(peer);
    }
    await this.destroyRequested();
    this.wakeMergeTargets();
    this.settleHibernation(peers, sleepers);
    this.reportNews(peers);
  }

  /**
   * Tells PD's reporter about the regions whose local leader got news this round (see
   * onRegionReportDue): flagged by the peer, or one of its lagging learners caught up.
   */
  private reportNews(peers: readonly RegionPeer[]): void {
    const report = this.deps.onRegionReportDue;
    for (const peer of peers) {
      if (this.regions.get(peer.regionId) !== peer) continue;
      const leads = peer.node.basicStatus().role === 'leader';
      let lagging = 0;
      if (leads && peer.region.peers.some((p) => p.role === 'learner'))
        lagging = laggingLearnersCount(peer.node.status(), peer.storage.truncatedIndex, peer.region.peers);
      const caughtUp = lagging < peer.laggingLearnersCount;
      peer.laggingLearnersCount = lagging;
      const due = leads && (peer.reportDue || caughtUp);
      peer.reportDue = false;
      if (due) report?.(peer.regionId);
    }
  }

  /**
   * The round's ticks (tick-clock.ts) to every awake region. While the clock runs slow
   * against wall time, leaders serve lease reads as ReadIndex reads (the core's lease count
   * assumes a clock in step with its followers').
   */
  private deliverTicks(): void {
    const nowMs = this.deps.clock.nowUnixMs();
    const ticks = this.tickClock.takeRoundTicks(nowMs);
    if (ticks === 0) return;
    const doubtful = this.tickClock.leaseDoubtful(nowMs);
    for (const peer of this.awake) {
      peer.addTicks(ticks);
      // One tick beyond this round's: reads until the next tick round are covered too.
      if (doubtful) peer.hibernation.suspendLease(ticks + 1);
      this.busy.add(peer);
    }
  }

  /**
   * Followers that stepped their leader's quiesce notice this round and are settled (log
   * matching, all applied, nothing else to send): their response to the notice is not sent
   * (it would wake the leader), and they sleep once the round is over.
   */
  private followersToSleep(readies: ReadonlyArray<[RegionPeer, Ready]>): RegionPeer[] {
    const sleepers: RegionPeer[] = [];
    for (const [peer, ready] of readies) {
      const hib = peer.hibernation;
      if (hib.noticeFromPeerId === 0) continue;
      const onlyNoticeResponses = ready.messages.every(
        (m) => isNoticeResponse(m) && m.to === hib.noticeFromPeerId,
      );
      const status = peer.node.basicStatus();
      const applied = peer.storage.appliedIndex;
      if (onlyNoticeResponses && followerSettled(status, hib.noticeFromPeerId, hib.noticeTerm, applied))
        sleepers.push(peer);
    }
    return sleepers;
  }

  /**
   * End of a round: settled followers go to sleep, and leaders idle long enough quiesce
   * their regions (their notices leave in one flush).
   */
  private settleHibernation(peers: readonly RegionPeer[], sleepers: readonly RegionPeer[]): void {
    if (!this.hibernating) return;
    for (const peer of sleepers) {
      const present = this.regions.get(peer.regionId) === peer;
      if (present && !peer.hibernation.asleep && peer.isQuiet() && !peer.node.hasReady())
        this.putToSleep(peer);
    }
    let noticesSent = false;
    for (const peer of peers) {
      const hib = peer.hibernation;
      hib.noticeFromPeerId = 0;
      hib.noticeTerm = 0;
      if (hib.asleep || hib.idleTicks < this.deps.config.hibernateAfterIdleTicks) continue;
      if (this.regions.get(peer.regionId) !== peer) continue;
      noticesSent = this.maybeQuiesceLeader(peer) || noticesSent;
    }
    if (noticesSent) this.deps.outbox.flush();
  }

  /** Quiesces the region if this peer leads it and it is idle everywhere (hibernation.ts); true if it did. */
  private maybeQuiesceLeader(peer: RegionPeer): boolean {
    if (!peer.isQuiet() || peer.node.hasReady()) return false;
    if (!membershipSettled(peer.region.peers, this.votersWanted)) return false;
    const status = peer.node.status();
    if (!leaderLogQuiescent(status) || status.applied !== peer.storage.appliedIndex) return false;
    const { region } = peer;
    const self = peerById(region, peer.peerId);
    if (self === undefined) return false;
    const notices: Array<[number, RaftEnvelope]> = [];
    for (const pr of status.progress) {
      if (pr.id === self.id) continue;
      const to = peerById(region, pr.id);
      if (to === undefined) return false;
      const envelope: RaftEnvelope = {
        regionId: region.id,
        fromPeer: self,
        toPeer: to,
        regionEpoch: region.epoch,
        startKey: region.startKey,
        endKey: region.endKey,
        message: quiesceNotice(self.id, to.id, status.term, status.commit),
        isTombstone: false,
        quiesce: true,
      };
      notices.push([to.storeId, envelope]);
    }
    this.putToSleep(peer);
    // A notice that cannot be queued leaves its follower awake: it times out, and its
    // campaign wakes us. Nothing to report.
    for (const [storeId, envelope] of notices) this.deps.outbox.send(storeId, envelope);
    return notices.length > 0;
  }

  /**
   * A split the parent applied this round: the initial state of each new region this store
   * will hold goes into the round's batch. A region already initialized here (a snapshot
   * got there first), or whose local peer is newer or was removed, is left alone.
   */
  private stageSplit(parent: RegionPeer, split: AppliedSplit, batch: WriteBatch): StagedSplit {
    const parentMeta = split.regions[0] as RegionMeta;
    const selfIndex = parentMeta.peers.findIndex((p) => p.id === parent.peerId);
    if (selfIndex < 0) throw new Error(`region ${parentMeta.id}: split applied by a peer not in the region`);
    const creations: SplitCreation[] = [];
    for (const region of split.regions.slice(1)) {
      const peerId = (region.peers[selfIndex] as PeerMeta).id;
      const existing = this.regions.get(region.id);
      if (existing !== undefined && (existing.initialized || existing.peerId > peerId)) continue;
      const tombstone = readTombstone(this.deps.engine, region.id, this.storeId);
      if (tombstone !== undefined && tombstone.peerId >= peerId) continue;
      writeInitialRegionState(
        batch,
        region,
        existing?.storage.currentHardState ?? this.storedHardState(region.id),
      );
      creations.push({ region, peerId, replacing: existing });
    }
    return { parent, split, creations };
  }

  private storedHardState(regionId: number): HardState | undefined {
    const bytes = this.deps.engine.getSync(raftHardStateKey(regionId));
    return bytes === undefined ? undefined : decodeHardState(bytes);
  }

  /** After the split's batch is durable: the parent's new range, the new regions' peers, the report. */
  private async finishSplit({ parent, split, creations }: StagedSplit): Promise<void> {
    if (this.regions.get(parent.regionId) === parent) this.rangeIndex.upsert(parent.region);
    for (const { region, peerId, replacing } of creations) {
      if (replacing !== undefined) this.removePeer(replacing);
      const peer = await createRegionPeer(region, peerId, this.loadOptions());
      this.addRegion(peer);
      // Lease-safe (see the header): the parent's leader applied the split before any follower could.
      if (split.wasLeader) peer.node.campaign();
    }
    this.splitsCount++;
    this.deps.onRegionsChanged?.({ kind: 'split', regions: [...split.regions] });
  }

  /**
   * Whether the local peer of a merge source has applied its PrepareMerge at `prepareIndex`
   * (a target replica applies the CommitMerge only then). Every replica of the source was
   * on this store when the merge was prepared, and a merging peer is never destroyed, so a
   * missing or diverging source is a broken invariant.
   */
  private mergeSourceReady(
    sourceRegionId: number,
    prepareIndex: number,
    catchUp: MergeCatchUp,
  ): 'ready' | 'waiting' {
    const source = this.regions.get(sourceRegionId);
    if (source === undefined || !source.initialized)
      throw new Error(
        `merge of region ${sourceRegionId}: no initialized local peer of the source on store ${this.storeId}`,
      );
    if (source.storage.appliedIndex < prepareIndex) {
      // Its leader may be gone with the other stores' source peers: hand it the entries.
      // At most once a tick: a catch-up the source cannot take (it rejects the append) must
      // not be handed again every round, or rounds without a write run back to back.
      const status = source.node.basicStatus();
      const handable = status.role === 'follower' || status.role === 'preCandidate';
      if (handable && source.mergeCatchUpHandedAtTick !== this.tickClock.ticksDeliveredCount) {
        const message = mergeCatchUpMessage(catchUp, prepareIndex, source.peerId, status.term);
        if (source.enqueueRaftMessage(message)) {
          source.mergeCatchUpHandedAtTick = this.tickClock.ticksDeliveredCount;
          this.markBusy(source);
        }
      }
      return 'waiting';
    }
    if (source.mergeState?.prepareIndex !== prepareIndex)
      throw new Error(
        `merge of region ${sourceRegionId}: the local source applied ${source.storage.appliedIndex} without the merge prepared at ${prepareIndex}`,
      );
    return 'ready';
  }

  /**
   * Merges target peers applied this round: each local source peer's Raft state goes and a
   * tombstone takes its place, in the same batch as the target's new range (the source's
   * data stays: it is the target's now). Refused merges are passed to their sources.
   */
  private stageMerges(applied: readonly RegionPeer[], batch: WriteBatch): StagedMerge[] {
    const staged: StagedMerge[] = [];
    for (const target of applied) {
      if (target.applyWaitsForMerge) this.mergeWaiting.add(target);
      else this.mergeWaiting.delete(target);
      for (const refused of target.takeRefusedMerges()) this.noteMergeRefused(refused);
      for (const merge of target.takeAppliedMerges()) {
        const source = this.regions.get(merge.source.id);
        if (source === undefined)
          throw new Error(`merge of region ${merge.source.id}: source left the store`);
        removeRaftState(batch, source, this.storeId);
        staged.push({ target, merge, source });
      }
    }
    return staged;
  }

  /** After the merge's batch is durable: the source peer leaves, the target holds the whole range. */
  private finishMerge({ target, merge, source }: StagedMerge): void {
    this.removePeer(source);
    this.generator.expire(source.regionId, Number.MAX_SAFE_INTEGER);
    if (this.regions.get(target.regionId) === target) this.rangeIndex.upsert(target.region);
    this.mergesCount++;
    this.advanceMergesInto(source.regionId);
    this.deps.onRegionsChanged?.({ kind: 'merge', region: merge.merged, sourceRegionId: merge.source.id });
  }

  /** The source of a refused CommitMerge must roll back: its leader (here or later elsewhere) does it. */
  private noteMergeRefused(refused: RefusedMerge): void {
    const source = this.regions.get(refused.sourceRegionId);
    if (source?.mergeState?.prepareIndex !== refused.prepareIndex) return;
    source.mergeRefusedAtIndex = refused.prepareIndex;
    this.mergeCoordinator.advance(source);
  }

  /** Merge targets whose source has caught up apply in the next round. */
  private wakeMergeTargets(): void {
    for (const target of this.mergeWaiting) {
      if (this.regions.get(target.regionId) !== target) {
        this.mergeWaiting.delete(target);
        continue;
      }
      if (target.applyWaitsForMerge && target.mergeSourceCaughtUp(this.applyContext)) this.markBusy(target);
    }
  }

  /**
   * Merges `sourceRegionId` into the adjacent `targetRegionId` (merge-coordinator.ts). This
   * store must lead both; resolves once the target applied the merge here, or with why not.
   */
  mergeRegion(
    sourceRegionId: number,
    sourceEpoch: RegionEpoch,
    targetRegionId: number,
    targetEpoch: RegionEpoch,
  ): Promise<MergeOutcome> {
    return this.mergeCoordinator.merge(sourceRegionId, sourceEpoch, targetRegionId, targetEpoch);
  }

  /** Whether the store's peer of the region was removed for good (its tombstone is on disk and it is not loaded). */
  regionRemoved(regionId: number): boolean {
    return (
      !this.regions.has(regionId) && readTombstone(this.deps.engine, regionId, this.storeId) !== undefined
    );
  }

  /** Pushes every merge whose source this store leads towards its end (the node calls it periodically). */
  advanceMerges(): void {
    for (const peer of this.regions.values())
      if (peer.mergeState !== null) this.mergeCoordinator.advance(peer);
  }

  /** Takes a peer out of the store (waiters fail with RegionNotFound); its storage is untouched. */
  private removePeer(peer: RegionPeer): void {
    if (this.regions.get(peer.regionId) === peer) {
      this.regions.delete(peer.regionId);
      this.rangeIndex.remove(peer.regionId);
      this.uninitialized.delete(peer.regionId);
    }
    this.busy.delete(peer);
    this.awake.delete(peer);
    this.toDestroy.delete(peer);
    peer.failAll({ kind: 'regionNotFound', regionId: peer.regionId });
  }

  /** Destroys the peers removed from their regions (one synced batch each; rare). */
  private async destroyRequested(): Promise<void> {
    const doomed = [...this.toDestroy];
    this.toDestroy.clear();
    for (const peer of doomed) {
      if (this.regions.get(peer.regionId) !== peer) continue;
      this.removePeer(peer);
      const others = this.rangeIndex.overlapping(peer.region.startKey, peer.region.endKey);
      const writer = await destroyBatch(peer, this.deps.engine, this.storeId, others);
      await this.durableWriter.write(writer.batch, { sync: true });
      this.writesCount++;
      this.syncedWritesCount++;
      this.generator.expire(peer.regionId, Number.MAX_SAFE_INTEGER);
      this.peersDestroyedCount++;
      this.advanceMergesInto(peer.regionId);
    }
  }

  /** The local target of frozen merge sources is gone: their leaders roll back now, not at the next timer. */
  private advanceMergesInto(regionId: number): void {
    for (const source of this.regions.values())
      if (source.mergeState?.target.id === regionId) this.mergeCoordinator.advance(source);
  }

  /** A received snapshot waiting for this peer: into the round's batch (if the core will take it), message stepped first. */
  private async installSnapshot(
    peer: RegionPeer,
    writer: ApplyWriter,
    completions: Completion[],
  ): Promise<void> {
    const pending = peer.takeSnapshotInstall();
    if (pending === null) return;
    // Checked when received, and again now: another region may have taken the range since.
    const overlap = this.overlapOfOthers(peer.regionId, pending.descriptor.region);
    if (overlap !== undefined) {
      pending.done(new SnapshotRejectedError(peer.regionId, `its range overlaps local region ${overlap}`));
      return;
    }
    this.roundInstalls.push(pending);
    const installed = await installPending(peer, pending, writer);
    peer.stepSnapshotFirst(pending.envelope.message);
    const index = pending.descriptor.index;
    completions.push(() => {
      if (installed) {
        this.snapshotsInstalledCount++;
        peer.reads.markApplied(index);
        if (this.regions.get(peer.regionId) === peer) {
          this.uninitialized.delete(peer.regionId);
          this.rangeIndex.upsert(peer.region);
        }
      }
      pending.done();
    });
  }

  private maybeCompactLog(peer: RegionPeer, batch: WriteBatch): void {
    // A merge source keeps its log: a lagging replica must reach the PrepareMerge by appends.
    if (peer.mergeState !== null) return;
    const storage = peer.storage;
    const index = compactionIndex(
      {
        appliedIndex: storage.appliedIndex,
        truncatedIndex: storage.truncatedIndex,
        appliedAtLastCompaction: peer.appliedAtLastCompaction,
        retainedLogSizeBytes: storage.retainedLogSizeBytes,
        progress: () => peer.node.status().progress,
        selfId: peer.peerId,
      },
      this.deps.config,
    );
    if (index === undefined) return;
    storage.compact(batch, index);
    peer.appliedAtLastCompaction = storage.appliedIndex;
    this.logCompactionsCount++;
    this.generator.expire(peer.regionId, index);
  }

  /**
   * Sends the messages of `readies` that `which` picks (all but the silenced sleepers'),
   * adding those handed to the transport to `sent` if given.
   */
  private send(
    readies: ReadonlyArray<[RegionPeer, Ready]>,
    sleepers: readonly RegionPeer[],
    which: (peer: RegionPeer, message: Message) => boolean,
    sent?: Set<Message>,
  ): void {
    const outbox = this.deps.outbox;
    const silenced = new Set(sleepers);
    for (const [peer, ready] of readies) {
      if (silenced.has(peer)) continue; // only responses to a quiesce notice (followersToSleep)
      const region = peer.region;
      const fromPeer = peerById(region, peer.peerId);
      if (fromPeer === undefined) continue; // removed from the region: it sends nothing more
      for (const message of ready.messages) {
        if (!which(peer, message)) continue;
        if (
          withholdsCampaign(
            this.deps.disk?.usage ?? 'normal',
            message,
            region.peers,
            this.storeId,
            this.peerStores,
          )
        )
          continue;
        const toPeer = peer.addressOf(message.to);
        if (toPeer === undefined) continue;
        sent?.add(message);
        const envelope: RaftEnvelope = {
          regionId: region.id,
          fromPeer,
          toPeer,
          regionEpoch: region.epoch,
          startKey: region.startKey,
          endKey: region.endKey,
          message,
          isTombstone: false,
        };
        if (message.type === 'snap') this.shipper.ship(toPeer.storeId, envelope);
        else if (!outbox.send(toPeer.storeId, envelope)) peer.node.reportUnreachable(message.to);
      }
    }
    outbox.flush();
  }

  /** Stops taking work, waits for the round in progress, fails what is still queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.running) await new Promise<void>((resolve) => this.roundDone.push(resolve));
    for (const peer of this.regions.values()) {
      peer.failAll({
        kind: 'serverIsBusy',
        reason: 'store stopped',
        backoffMs: this.deps.config.busyBackoffMs,
      });
    }
    await this.generator.close();
  }

  stats(): StoreStats {
    let dropped = this.droppedRaftMessagesCount;
    for (const peer of this.regions.values()) dropped += peer.droppedRaftMessages;
    const shipped = this.shipper.stats();
    return {
      roundsCount: this.roundsCount,
      writesCount: this.writesCount,
      syncedWritesCount: this.syncedWritesCount,
      droppedRaftMessagesCount: dropped,
      snapshotsSentCount: shipped.sentCount,
      snapshotSendFailuresCount: shipped.failedCount,
      snapshotsInstalledCount: this.snapshotsInstalledCount,
      snapshotGenerationFailuresCount: this.snapshotGenerationFailuresCount,
      logCompactionsCount: this.logCompactionsCount,
      splitsCount: this.splitsCount,
      mergesCount: this.mergesCount,
      mergeWaitingTargetsCount: this.mergeWaiting.size,
      splitChecksCount: this.splitChecker.checksCount,
      uninitializedPeersCount: this.uninitialized.size,
      peersCreatedCount: this.peersCreatedCount,
      peersDestroyedCount: this.peersDestroyedCount,
      awakeRegionsCount: this.awake.size,
      regionsQuiescedCount: this.regionsQuiescedCount,
      regionsWokenCount: this.regionsWokenCount,
      suspectedStoresCount: [...this.liveness.stores()].filter((id) => this.liveness.isSuspected(id)).length,
      pendingWakeUpsCount: this.wakePacer.pendingWakeUpsCount,
      ticksDeliveredCount: this.tickClock.ticksDeliveredCount,
      ticksLostCount: this.tickClock.ticksLostCount,
      leaderHandoffsCount: this.leaderHandoffsCount,
    };
  }

  /** The region's Raft node, for status reporting. */
  node(regionId: number): RawNode | undefined {
    return this.regions.get(regionId)?.node;
  }

  /** Point read of the applied state (callers pass the barrier their consistency level needs first). */
  engineGet(key: Uint8Array): Uint8Array | undefined {
    return this.deps.engine.getSync(key);
  }

  engineScan(range: KeyRange, options: ScanOptions): Promise<KeyValue[]> {
    return this.deps.engine.scan(range, options);
  }

  regionMeta(regionId: number): RegionMeta | undefined {
    const peer = this.regions.get(regionId);
    return peer?.initialized ? peer.region : undefined;
  }
}

/** The store's tick clock; its lease window is the core's (electionTimeout minus the default drift margin). */
function newTickClock(config: StoreConfig): TickClock {
  const leaseTicks = config.electionTimeoutTicks - Math.ceil(config.electionTimeoutTicks / 5);
  return new TickClock(
    config.ticksPerRoundMax,
    Math.max(1, leaseTicks),
    config.electionTimeoutTicks * config.tickIntervalMs,
  );
}

/**
 * Whether a message may leave before its round's write: a leader's appends and heartbeats
 * (they promise nothing about the leader's disk) and ReadIndex heartbeat responses (they
 * carry the read's context, and confirm only the term, which a vote would have persisted).
 * Append and vote responses promise durable state: they wait for the write, as do
 * responses to a quiesce notice (followersToSleep may silence them).
 */
function sendableBeforeWrite(peer: RegionPeer, message: Message): boolean {
  if (message.type === 'heartbeatResp') return message.context.length > 0;
  if (message.type !== 'app' && message.type !== 'heartbeat') return false;
  return peer.node.basicStatus().role === 'leader';
}
