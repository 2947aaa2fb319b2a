// The PD leader's scheduler. Region heartbeats drive the replica checker (repair, add,
// promote, remove) and advance running operators; a timer runs the schedulers (merges,
// leader eviction off full disks, hot leaders, leader balance, replica balance, space
// balance) and expires stale operators. Every one of them reads each store's disk from
// its latest heartbeat and places nothing on a store whose disk is not NORMAL; an operator
// still to add a replica or move a leader onto a store whose disk stops being NORMAL is
// cancelled. Operators get their new peer ids from the
// cluster's id allocator when they are created. Everything runs only while this member
// leads; losing leadership drops the running operators (the next leader recomputes from
// fresh heartbeats).
import { metapb } from '@flotilla/proto';
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { PdCluster } from '../cluster/pd-cluster.js';
import type { RegionInfo } from '../cluster/region-info.js';
import { REGIONS_MAX } from '../cluster/region-tree.js';
import { planLeaderBalance, planRegionBalance, countByStore } from './balancers.js';
import type { InFlightDeltas } from './balancers.js';
import type { OperatorKind, OperatorStep } from './operator.js';
import { OperatorController } from './operator-controller.js';
import { HotRegionScheduler } from './hot-region-scheduler.js';
import type { MergePlan } from './merge-checker.js';
import { MergeChecker } from './merge-checker.js';
import type { PlacementView, ReplicaPlan } from './replica-checker.js';
import { checkReplicas } from './replica-checker.js';
import type { ScheduleConfig } from './schedule-config.js';
import { resolveScheduleConfig } from './schedule-config.js';
import type { StoreHealth } from './store-health.js';
import { mustEvacuate, storeHealth } from './store-health.js';
import type { DiskView, StoreDisk } from './store-disk.js';
import { describeDisk, diskNotNormal, storeDiskOf } from './store-disk.js';
import { planDiskLeaderEviction, planSpaceBalance } from './disk-schedulers.js';

/** Regions the patrol checks per balance interval. */
const PATROL_REGIONS_PER_PASS = 256;

export interface SchedulerOptions {
  readonly cluster: PdCluster;
  readonly config?: Partial<ScheduleConfig>;
  readonly nowUnixMs: () => number;
  readonly log: (line: string) => void;
  /**
   * Runs `fn` every `intervalMs` until the returned function is called: setInterval by
   * default; the cluster simulator passes its own clock so balancing follows simulated time.
   */
  readonly every?: (intervalMs: number, fn: () => void) => () => void;
}

function everyIntervalMs(intervalMs: number, fn: () => void): () => void {
  const timer = setInterval(fn, intervalMs);
  return () => clearInterval(timer);
}

export class Scheduler {
  readonly config: ScheduleConfig;
  readonly operators: OperatorController;
  private readonly hotRegions: HotRegionScheduler;
  private readonly merges: MergeChecker;
  private stopTimer: (() => void) | undefined;
  /** When this member was first seen leading (0: not leading). */
  private leaderSinceUnixMs = 0;
  /** Regions whose operator is being created (ids being allocated). */
  private readonly creating = new Set<number>();
  private balancing = false;
  /** Where the patrol continues next pass (a start key; empty: from the beginning). */
  private patrolCursor: Uint8Array = new Uint8Array(0);

  constructor(private readonly options: SchedulerOptions) {
    this.config = resolveScheduleConfig(options.config);
    this.operators = new OperatorController(
      this.config,
      (regionId, operator) => options.cluster.sendOperator(regionId, operator),
      options.nowUnixMs,
      options.log,
    );
    this.hotRegions = new HotRegionScheduler(this.config, options.nowUnixMs);
    this.merges = new MergeChecker(this.config, options.nowUnixMs);
  }

  start(): void {
    this.options.cluster.onRegionHeartbeat = (info) => this.onRegionHeartbeat(info);
    // A store that just joined (or came back) may be where a region's missing replica goes:
    // check the regions now rather than at the next patrol pass.
    this.options.cluster.onStoreFirstHeard = () => {
      if (this.options.cluster.loaded) this.patrol();
    };
    const every = this.options.every ?? everyIntervalMs;
    this.stopTimer = every(this.config.balanceIntervalMs, () => void this.tick());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.options.cluster.onRegionHeartbeat = undefined;
    this.options.cluster.onStoreFirstHeard = undefined;
    this.operators.clear();
  }

  /** Health of every store as of now (for status and the checkers). */
  storeHealths(): Map<number, StoreHealth> {
    const now = this.options.nowUnixMs();
    const health = new Map<number, StoreHealth>();
    for (const info of this.options.cluster.getAllStores(false))
      health.set(Number(info.store.id), storeHealth(info, now, this.leaderSince(), this.config));
    return health;
  }

  /** Every store's disk as its latest heartbeat reported it (stores not yet heard are absent). */
  storeDisks(): Map<number, StoreDisk> {
    const disks = new Map<number, StoreDisk>();
    for (const info of this.options.cluster.getAllStores(false)) {
      const disk = storeDiskOf(info.stats);
      if (disk !== undefined) disks.set(Number(info.store.id), disk);
    }
    return disks;
  }

  private leaderSince(): number {
    if (this.leaderSinceUnixMs === 0) this.leaderSinceUnixMs = this.options.nowUnixMs();
    return this.leaderSinceUnixMs;
  }

  private onRegionHeartbeat(info: RegionInfo): void {
    const running = this.operators.get(info.region.id);
    if (running !== undefined) {
      // A step aimed at a store that is no longer up can never finish: give it up now
      // rather than at the operator timeout, so the region can be repaired meanwhile.
      const health = this.storeHealths();
      const remaining = running.steps.slice(running.stepIndex);
      const unavailable = remaining.find(
        (step) => step.kind !== 'removePeer' && health.get(step.peer.storeId) !== 'up',
      );
      const noRoom = this.stepOntoFullDisk(remaining, info);
      if (noRoom !== undefined) {
        this.operators.cancel(info.region.id, noRoom);
      } else if (unavailable === undefined) {
        // Repairs come before balancing: a balance operator yields to a replica the region lost.
        if (running.kind === 'replica' || !this.needsRepair(info, health)) {
          this.operators.onHeartbeat(info);
          // Finished with this report: the checker looks at the region now (the next replica
          // to add, say), not at the next patrol pass.
          if (this.operators.has(info.region.id)) return;
        } else this.operators.cancel(info.region.id, 'the region needs a replica repair first');
      } else {
        this.operators.cancel(
          info.region.id,
          `store ${unavailable.peer.storeId} of ${unavailable.kind} is not up`,
        );
      }
    }
    if (this.creating.has(info.region.id) || !this.operators.hasRoom('replica')) return;
    const plan = checkReplicas(info, this.placementView(), this.config.maxReplicas);
    if (plan !== undefined) void this.create(info, 'replica', plan);
  }

  /**
   * What the running operators' remaining steps will change per store. Without it,
   * concurrent balance operators all see the same counts and overshoot, moving replicas
   * back and forth between two stores.
   */
  private inFlightDeltas(): InFlightDeltas {
    const leaders = new Map<number, number>();
    const replicas = new Map<number, number>();
    const add = (m: Map<number, number>, storeId: number, d: number): void => {
      m.set(storeId, (m.get(storeId) ?? 0) + d);
    };
    for (const op of this.operators.list().running) {
      const info = this.options.cluster.getRegionById(op.regionId);
      for (const step of op.steps.slice(op.stepIndex)) {
        if (step.kind === 'addLearner') add(replicas, step.peer.storeId, 1);
        else if (step.kind === 'removePeer') add(replicas, step.peer.storeId, -1);
        else if (step.kind === 'transferLeader') {
          add(leaders, step.peer.storeId, 1);
          if (info?.leader !== undefined) add(leaders, info.leader.storeId, -1);
        }
      }
    }
    return { leaders, replicas };
  }

  /**
   * Why a remaining step would put data or a leader on a store whose disk is not NORMAL
   * (an added learner, or a leader transfer to a peer there), or undefined.
   */
  private stepOntoFullDisk(steps: readonly OperatorStep[], info: RegionInfo): string | undefined {
    const disks = this.storeDisks();
    for (const step of steps) {
      if (step.kind !== 'addLearner' && step.kind !== 'transferLeader') continue;
      // A learner already added is there: what remains is its catching up (the checker
      // removes it if it cannot).
      if (step.kind === 'addLearner' && info.region.peers.some((p) => p.id === step.peer.id)) continue;
      const disk = disks.get(step.peer.storeId);
      if (disk !== undefined && diskNotNormal(disk))
        return `store ${step.peer.storeId} of ${step.kind} has its ${describeDisk(disk)}: no new data or leaders go there`;
    }
    return undefined;
  }

  /** Data moves (adding or removing a replica) still to make by running operators, per store. */
  private movesByStore(): Map<number, number> {
    const moves = new Map<number, number>();
    for (const op of this.operators.list().running) {
      const stores = new Set<number>();
      for (const step of op.steps.slice(op.stepIndex))
        if (step.kind === 'addLearner' || step.kind === 'removePeer') stores.add(step.peer.storeId);
      for (const id of stores) moves.set(id, (moves.get(id) ?? 0) + 1);
    }
    return moves;
  }

  /** Whether a voter of the region sits on a store whose replicas must move (down, offline, tombstone). */
  private needsRepair(info: RegionInfo, health: ReadonlyMap<number, StoreHealth>): boolean {
    return info.region.peers.some((p) => mustEvacuate(health.get(p.storeId)));
  }

  private placementView(): PlacementView {
    const health = this.storeHealths();
    const { replicas } = countByStore(this.allRegions(), health);
    return { health, replicaCounts: replicas, disks: this.storeDisks() };
  }

  private allRegions(): RegionInfo[] {
    return this.options.cluster.scanRegions(new Uint8Array(0), new Uint8Array(0), REGIONS_MAX);
  }

  private async tick(): Promise<void> {
    if (!this.options.cluster.loaded) {
      this.leaderSinceUnixMs = 0;
      this.operators.clear();
      this.hotRegions.clear();
      this.merges.clear();
      return;
    }
    this.leaderSince();
    this.operators.expire();
    if (this.balancing) return;
    this.balancing = true;
    try {
      this.patrol();
      const regions = this.allRegions();
      const health = this.storeHealths();
      const disks = this.storeDisks();
      await this.retireEmptiedStores(regions);
      const mergeTargets = this.mergeTargets();
      const busy = (regionId: number): boolean =>
        this.operators.has(regionId) || this.creating.has(regionId) || mergeTargets.has(regionId);
      const inFlight = this.inFlightDeltas();
      this.endMerges();
      if (this.operators.hasRoom('merge')) {
        // A hot region is not merged (as TiKV's merge checker skips them): a region split by
        // load would otherwise be merged back once small and stable, and split again.
        const busyOrHot = (id: number): boolean => {
          const info = this.options.cluster.getRegionById(id);
          return busy(id) || (info !== undefined && this.hotRegions.isHot(info));
        };
        const plan = this.merges.plan(regions, busyOrHot, disks);
        if (plan !== undefined) await this.createMerge(plan);
      }
      await this.evictLeadersOffFullDisks(regions, health, disks, busy);
      if (this.operators.hasRoom('hotRegion')) {
        const plan = this.hotRegions.plan(regions, health, busy, disks);
        if (plan !== undefined) await this.create(plan.region, 'hotRegion', plan);
      }
      if (this.operators.hasRoom('balanceLeader')) {
        // Hot regions' leaders on up stores are placed by rate (above), not by count.
        const busyOrHot = (id: number): boolean => {
          const info = this.options.cluster.getRegionById(id);
          const leaderStore = info?.leader?.storeId;
          if (busy(id)) return true;
          return (
            leaderStore !== undefined &&
            health.get(leaderStore) === 'up' &&
            this.hotRegions.isHot(info as RegionInfo)
          );
        };
        const plan = planLeaderBalance(
          regions,
          health,
          this.config.balanceTolerance,
          busyOrHot,
          inFlight,
          disks,
        );
        if (plan !== undefined) await this.create(plan.region, 'balanceLeader', plan);
      }
      if (this.operators.hasRoom('balanceRegion')) {
        const plan = planRegionBalance(regions, health, this.config.balanceTolerance, busy, inFlight, {
          disks,
          lowSpaceRatioPercent: this.config.lowSpaceRatioPercent,
        });
        if (plan !== undefined) await this.create(plan.region, 'balanceRegion', plan);
      }
      if (this.operators.hasRoom('balanceSpace')) {
        const plan = planSpaceBalance(regions, health, disks, this.config, busy, this.movesByStore());
        if (plan !== undefined) await this.create(plan.region, 'balanceSpace', plan);
      }
    } catch (err) {
      this.options.log(`scheduler pass failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.balancing = false;
    }
  }

  /** Leader transfers off stores whose disk is not NORMAL, as many as the kind has room for. */
  private async evictLeadersOffFullDisks(
    regions: readonly RegionInfo[],
    health: ReadonlyMap<number, StoreHealth>,
    disks: DiskView,
    busy: (regionId: number) => boolean,
  ): Promise<void> {
    const room = this.operators.limitOf('evictLeader') - this.operators.runningCount('evictLeader');
    const plans = planDiskLeaderEviction(regions, health, disks, busy, room);
    for (const plan of plans) await this.create(plan.region, 'evictLeader', plan);
  }

  /**
   * Runs the replica checker over the next PATROL_REGIONS_PER_PASS regions, round-robin:
   * heartbeats drive it too, but a region reports only every regionHeartbeatIntervalMs
   * unless it changes — a new store or a store judged down must not wait that long.
   */
  private patrol(): void {
    const batch = this.options.cluster.scanRegions(
      this.patrolCursor,
      new Uint8Array(0),
      PATROL_REGIONS_PER_PASS,
    );
    const last = batch.at(-1);
    this.patrolCursor =
      batch.length < PATROL_REGIONS_PER_PASS || last === undefined || last.region.endKey.length === 0
        ? new Uint8Array(0)
        : last.region.endKey;
    for (const info of batch) {
      if (info.leader === undefined || this.operators.has(info.region.id)) continue;
      this.onRegionHeartbeat(info);
    }
  }

  /**
   * Merge operators whose source region is gone from the map succeeded (the target absorbed
   * it); those whose target is gone or changed are cancelled (the source's store rolls back).
   */
  private endMerges(): void {
    for (const op of this.operators.list().running) {
      if (op.kind !== 'merge') continue;
      if (this.options.cluster.getRegionById(op.regionId) === undefined) {
        this.operators.succeed(op.regionId, 'the source region is gone (merged)');
        continue;
      }
      const step = op.steps[0];
      if (step?.kind !== 'merge') continue;
      const target = this.options.cluster.getRegionById(step.target.id)?.region;
      // The target grows by this merge (version +1 above both); any other change ends it.
      if (target === undefined || target.epoch.confVer !== step.target.epoch.confVer)
        this.operators.cancel(op.regionId, `target region ${step.target.id} is gone or changed membership`);
    }
  }

  /** Regions a running merge involves, as source or target: no other operator may touch them. */
  private mergeTargets(): Set<number> {
    const ids = new Set<number>();
    for (const op of this.operators.list().running) {
      const step = op.steps[0];
      if (op.kind === 'merge' && step?.kind === 'merge') ids.add(step.target.id);
    }
    return ids;
  }

  private async createMerge(plan: MergePlan): Promise<void> {
    const leader = plan.source.leader;
    if (leader === undefined) return;
    const description = `merge region ${plan.source.region.id} into adjacent region ${plan.target.id}`;
    this.operators.add(plan.source, 'merge', description, [
      { kind: 'merge', peer: leader, target: plan.target },
    ]);
  }

  /** An Offline store whose last replica has moved away becomes a Tombstone (decommission done). */
  private async retireEmptiedStores(regions: readonly RegionInfo[]): Promise<void> {
    const holding = new Set<number>();
    for (const info of regions) for (const p of info.region.peers) holding.add(p.storeId);
    for (const info of this.options.cluster.getAllStores(true)) {
      const storeId = Number(info.store.id);
      if (info.store.state !== metapb.StoreState.OFFLINE || holding.has(storeId)) continue;
      await this.options.cluster.setStoreState(storeId, metapb.StoreState.TOMBSTONE);
    }
  }

  /** Allocates ids for the plan's new peers, then starts the operator. */
  private async create(info: RegionInfo, kind: OperatorKind, plan: ReplicaPlan): Promise<void> {
    const regionId = info.region.id;
    this.creating.add(regionId);
    try {
      const newPeerStores = [
        ...new Set(plan.steps.filter((s) => s.peer.id === 0).map((s) => s.peer.storeId)),
      ];
      const ids = newPeerStores.length > 0 ? await this.options.cluster.allocIds(newPeerStores.length) : [];
      const newIdOfStore = new Map(newPeerStores.map((storeId, i) => [storeId, ids[i] as number]));
      const withId = (peer: PeerMeta): PeerMeta =>
        peer.id === 0 ? { ...peer, id: newIdOfStore.get(peer.storeId) as number } : peer;
      const steps = plan.steps.map((s): OperatorStep => ({ ...s, peer: withId(s.peer) }));
      // The region may have changed while ids were allocated: use its latest report.
      const latest = this.options.cluster.getRegionById(regionId) ?? info;
      this.operators.add(latest, kind, plan.description, steps);
    } catch (err) {
      this.options.log(
        `cannot create operator for region ${regionId}: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      this.creating.delete(regionId);
    }
  }
}
