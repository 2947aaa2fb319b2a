// Applies the fault schedule to a running cluster: cuts links, changes network conditions,
// slows nodes, arms crashes and restarts nodes, proposes membership changes and leader
// transfers, and heals everything at the end of the fault phase. The victims are drawn from
// the seeded stream when a fault fires, from the state of the cluster at that moment.
import { NONE } from '../../../raft/src/index.js';
import type { NodeId } from '../../../raft/src/index.js';
import { splitInTwo } from './faults.js';
import type { ScheduledFault } from './faults.js';
import { chooseMembershipChange } from './membership.js';
import { kindIndex } from './message-trace.js';
import { calmConditions } from './network.js';
import type { NetworkConditions, SimNetwork } from './network.js';
import type { SimRandom } from './prng.js';
import type { SimConfig } from './sim-config.js';
import type { SimNode } from './sim-node.js';
import type { SimSummary } from './sim-result.js';
import type { EventTrace } from './trace.js';

/** The parts of the cluster the faults act on. */
export interface FaultWorld {
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly network: SimNetwork;
  readonly trace: EventTrace;
  /** Counters the injector adds to (faults fired, conf changes proposed, leader transfers). */
  readonly summary: SimSummary;
  /** Ids removed from the group for good. */
  readonly retired: ReadonlySet<NodeId>;
  /** Members of the latest committed configuration that are not retired. */
  memberIds(): readonly NodeId[];
  currentLeader(): SimNode | null;
}

const traceCode = { fault: 10, heal: 11 } as const;

interface ActivePartition {
  readonly links: readonly (readonly [NodeId, NodeId])[];
  readonly untilTick: number;
}

export class FaultInjector {
  private scheduleNext = 0;
  private partitions: ActivePartition[] = [];
  private networkFaultUntilTick = -1;
  private readonly slowUntil = new Map<NodeId, { factor: number; untilTick: number }>();
  private readonly restartAt = new Map<NodeId, number>();
  private readonly crashDeadline = new Map<NodeId, number>();

  constructor(
    private readonly world: FaultWorld,
    private readonly schedule: readonly ScheduledFault[],
    private readonly random: SimRandom,
    private readonly config: SimConfig,
  ) {}

  /** Forgets a node that left the group: it is neither restarted nor crashed any more. */
  forget(id: NodeId): void {
    this.restartAt.delete(id);
    this.crashDeadline.delete(id);
  }

  /** Fires the faults scheduled up to `tick`. */
  fireDue(tick: number): void {
    for (;;) {
      const fault = this.schedule[this.scheduleNext];
      if (fault === undefined || fault.tick > tick) return;
      this.scheduleNext++;
      this.world.summary.faultsFired++;
      this.fire(fault);
    }
  }

  private fire(fault: ScheduledFault): void {
    const random = this.random;
    const members = this.world.memberIds().filter((id) => this.world.nodes.get(id)?.destroyed === false);
    const untilTick = fault.tick + fault.durationTicks;
    let what: string = fault.kind;
    switch (fault.kind) {
      case 'partition': {
        const [left, right] = splitInTwo(random, members);
        this.addPartition(crossLinks(left, right, true), untilTick);
        what = `partition ${left.join(',')} | ${right.join(',')} for ${fault.durationTicks} ticks`;
        break;
      }
      case 'oneWayPartition': {
        const [from, to] = splitInTwo(random, members);
        this.addPartition(crossLinks(from, to, false), untilTick);
        what = `one-way partition ${from.join(',')} -> ${to.join(',')} for ${fault.durationTicks} ticks`;
        break;
      }
      case 'isolate': {
        const victim = this.leaderOr(random.pick(members));
        const others = members.filter((id) => id !== victim);
        this.addPartition(crossLinks([victim], others, true), untilTick);
        what = `isolate node ${victim} for ${fault.durationTicks} ticks`;
        break;
      }
      case 'cutLink': {
        // Non-transitive connectivity: a and b cannot talk, yet both reach everyone else.
        const [a, b] = splitInTwo(random, members).map((side) => side[0] ?? NONE);
        if (a === undefined || b === undefined || a === NONE || b === NONE) break;
        this.addPartition(crossLinks([a], [b], true), untilTick);
        what = `cut the link ${a} <-> ${b} for ${fault.durationTicks} ticks`;
        break;
      }
      case 'network':
        what = this.setNetworkFault(fault.conditions ?? calmConditions, untilTick);
        break;
      case 'slowNode': {
        const victim = random.pick(members);
        this.slowUntil.set(victim, { factor: fault.slowFactor, untilTick });
        what = `node ${victim} handles messages every ${fault.slowFactor} ticks for ${fault.durationTicks} ticks`;
        break;
      }
      case 'crash':
        what = this.crashOne(fault);
        break;
      case 'membership':
        what = this.proposeMembershipChange();
        break;
      case 'transferLeader':
        what = this.transferLeader();
        break;
    }
    this.world.trace.record(fault.tick, traceCode.fault, [kindIndex(fault.kind)], () => `fault: ${what}`);
  }

  private addPartition(links: (readonly [NodeId, NodeId])[], untilTick: number): void {
    this.partitions.push({ links, untilTick });
    for (const [from, to] of links) this.world.network.cut(from, to);
  }

  private setNetworkFault(conditions: NetworkConditions, untilTick: number): string {
    this.world.network.setConditions(conditions);
    this.networkFaultUntilTick = untilTick;
    return (
      `network delay ${conditions.delayTicksMin}-${conditions.delayTicksMax} ticks, loss ${conditions.lossPermille}‰, ` +
      `duplication ${conditions.duplicatePermille}‰, ${conditions.longDelayPermille}‰ held up to ` +
      `${conditions.longDelayTicksMax} ticks, until tick ${untilTick}`
    );
  }

  private crashOne(fault: ScheduledFault): string {
    const down = [...this.world.nodes.values()].filter((node) => !node.up && !node.destroyed).length;
    const candidates = this.world.memberIds().filter((id) => {
      const node = this.world.nodes.get(id);
      return node !== undefined && node.up && !node.crashArmed;
    });
    if (down + this.crashDeadline.size >= this.config.nodesDownMax || candidates.length === 0) {
      return 'crash skipped (enough nodes down)';
    }
    const leader = this.leaderOr(NONE);
    const victim = candidates.includes(leader) ? leader : this.random.pick(candidates);
    const node = this.world.nodes.get(victim);
    if (node === undefined) throw new Error(`crash of unknown node ${victim}`);
    this.restartAt.set(victim, fault.tick + fault.durationTicks);
    if (fault.crashPoint === 'idle') {
      node.crash('idle');
    } else {
      node.armCrash(fault.crashPoint);
      this.crashDeadline.set(victim, fault.tick + 3 * this.config.node.electionTimeoutTicks);
    }
    return `crash node ${victim} at ${fault.crashPoint}, restart at tick ${fault.tick + fault.durationTicks}`;
  }

  private proposeMembershipChange(): string {
    const leader = this.world.currentLeader();
    if (leader === null) return 'membership change skipped (no leader)';
    const change = chooseMembershipChange(
      this.random,
      leader.kv.confState,
      this.world.retired,
      this.config.membership,
    );
    if (change === null) return 'membership change skipped (none fits)';
    const result = leader.proposeConfChange(change);
    if (result.ok) this.world.summary.confChangesProposed++;
    const changes = change.changes.map((c) => `${c.type} ${c.nodeId}`).join(', ') || 'leave joint';
    return `propose conf change (${change.transition}: ${changes}) at node ${leader.id}: ${result.ok ? 'ok' : result.error.kind}`;
  }

  private transferLeader(): string {
    const leader = this.world.currentLeader();
    if (leader === null) return 'leader transfer skipped (no leader)';
    const targets = leader.kv.confState.voters.filter(
      (id) => id !== leader.id && !this.world.retired.has(id),
    );
    if (targets.length === 0) return 'leader transfer skipped (no other voter)';
    const target = this.random.pick(targets);
    leader.node.transferLeader(target);
    this.world.summary.leaderTransfers++;
    return `transfer leadership ${leader.id} -> ${target}`;
  }

  /** Ends the faults whose time is up; strikes armed crashes whose deadline passed. */
  expire(tick: number): void {
    const before = this.partitions.length;
    this.partitions = this.partitions.filter((partition) => partition.untilTick > tick);
    if (this.partitions.length !== before) {
      this.world.network.healAll();
      for (const partition of this.partitions)
        for (const [from, to] of partition.links) this.world.network.cut(from, to);
    }
    if (tick === this.networkFaultUntilTick) this.world.network.setConditions(calmConditions);
    for (const [id, slow] of this.slowUntil) if (slow.untilTick <= tick) this.slowUntil.delete(id);
    for (const [id, deadline] of this.crashDeadline) {
      const node = this.world.nodes.get(id);
      if (node === undefined || !node.crashArmed) this.crashDeadline.delete(id);
      else if (deadline <= tick) {
        node.crash('idle');
        this.crashDeadline.delete(id);
      }
    }
  }

  /** Restarts crashed nodes whose downtime is over. */
  restartDue(tick: number): void {
    for (const [id, at] of this.restartAt) {
      const node = this.world.nodes.get(id);
      if (node === undefined || at > tick || node.up || this.crashDeadline.has(id)) continue;
      this.restartAt.delete(id);
      if (node.destroyed) continue;
      node.restart(this.random.chancePermille(this.config.restartFromSnapshotPermille));
    }
  }

  /** The end of the fault phase: every partition, slowness and crash is healed at once. */
  heal(tick: number): void {
    this.world.trace.record(
      tick,
      traceCode.heal,
      [],
      () => 'heal: network calm, partitions lifted, nodes restarted',
    );
    this.partitions = [];
    this.world.network.healAll();
    this.world.network.setConditions(calmConditions);
    this.world.network.expedite(tick, calmConditions.delayTicksMax);
    this.slowUntil.clear();
    for (const [id] of this.crashDeadline) {
      const node = this.world.nodes.get(id);
      if (node !== undefined && node.up && node.crashArmed) node.crash('idle');
    }
    this.crashDeadline.clear();
    for (const id of this.restartAt.keys()) this.restartAt.set(id, tick);
  }

  /** A slow node's clock loses one tick per election timeout: drift within the lease margin. */
  skipsClockTick(id: NodeId, tick: number): boolean {
    return this.slowUntil.has(id) && tick % this.config.node.electionTimeoutTicks === 0;
  }

  processesThisTick(id: NodeId, tick: number): boolean {
    const slow = this.slowUntil.get(id);
    return slow === undefined || tick % slow.factor === 0;
  }

  /** Half of the time the current leader (the most interesting victim), else `other`. */
  private leaderOr(other: NodeId): NodeId {
    const leader = this.world.currentLeader();
    return leader !== null && this.random.chancePermille(500) ? leader.id : other;
  }
}

function crossLinks(
  left: readonly NodeId[],
  right: readonly NodeId[],
  bothWays: boolean,
): [NodeId, NodeId][] {
  const links: [NodeId, NodeId][] = [];
  for (const a of left) {
    for (const b of right) {
      links.push([a, b]);
      if (bothWays) links.push([b, a]);
    }
  }
  return links;
}
