// The run loop of one simulated cluster: N Raft nodes, the simulated network, clients and
// the fault schedule, all driven tick by tick from one seed. A run has a fault phase, then a
// heal (partitions lifted, crashed nodes restarted, the network calm) and a settle phase at
// whose end the cluster must have a leader, have answered every recent client operation and
// have converged. Safety invariants are checked as the run goes; the client history is
// checked for linearizability at the end. Any failure names the seed, the tick and what broke.
import { MemoryStorage, NONE } from '../../../raft/src/index.js';
import type { ConfState, Message, NodeId } from '../../../raft/src/index.js';
import { InvariantViolation, SafetyChecker } from './checkers.js';
import { SimClient, decodeReadContext } from './clients.js';
import type { ClientWorld } from './clients.js';
import { generateFaultSchedule, splitInTwo } from './faults.js';
import type { ScheduledFault } from './faults.js';
import { History } from './history.js';
import { votersConfState } from './kv-state-machine.js';
import { checkHistory } from './linearizability.js';
import type { HistoryCheckResult } from './linearizability.js';
import { chooseMembershipChange, membersOf } from './membership.js';
import { SimNetwork, calmConditions } from './network.js';
import type { DropReason, NetworkConditions } from './network.js';
import { SimRandom } from './prng.js';
import { drawSimConfig } from './sim-config.js';
import type { SimConfig } from './sim-config.js';
import { SimNode } from './sim-node.js';
import type { Sabotage, SimNodeEnvironment } from './sim-node.js';
import { EventTrace } from './trace.js';
import type { TraceSink } from './trace.js';

export interface SimOptions {
  readonly seed: number;
  /** Ticks of the fault phase (the settle phase comes on top). */
  readonly faultTicks: number;
  /** Bound on the linearizability search per key. */
  readonly linearizabilityStepsMax: number;
  readonly traceSink: TraceSink | null;
  /** A bug planted in the nodes on purpose, which the checkers must catch ('none' normally). */
  readonly sabotage: Sabotage;
}

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  faultTicks: 1500,
  linearizabilityStepsMax: 2_000_000,
  traceSink: null,
  sabotage: 'none',
};

export type SimFailureKind = 'invariant' | 'linearizability' | 'liveness' | 'exception';

export interface SimFailure {
  readonly kind: SimFailureKind;
  readonly tick: number;
  readonly message: string;
}

export interface SimSummary {
  ticks: number;
  leadersElected: number;
  entriesCommitted: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  confChangesProposed: number;
  leaderTransfers: number;
  crashes: number;
  faultsFired: number;
  messagesSent: number;
  messagesDropped: number;
  diskSyncs: number;
  opsChecked: number;
  putsOk: number;
  putsUnknown: number;
  readsSafe: number;
  readsLease: number;
  readsStale: number;
  linearizability: HistoryCheckResult['outcome'] | 'notRun';
  invariantChecks: number;
  traceEvents: number;
  traceDigest: string;
}

export interface SimResult {
  readonly seed: number;
  readonly failure: SimFailure | null;
  readonly summary: SimSummary;
}

/** Streams forked from the seed, one per subsystem (see prng.ts). */
const stream = { config: 1, network: 2, faults: 3, faultTargets: 4, nodes: 5, clients: 6, disk: 7 } as const;
/** Index and term of the bootstrap snapshot (TiKV's RAFT_INIT_LOG_INDEX / RAFT_INIT_LOG_TERM). */
const bootstrapIndex = 5;
const messageTypeCodes = new Map<string, number>();
const traceCode = { deliver: 1, drop: 2, fault: 10, heal: 11, retire: 12, history: 13 } as const;
/** Bound on the history lines printed for a key that is not linearizable. */
const keyHistoryLinesMax = 300;

export function runSimulation(options: SimOptions): SimResult {
  return new ClusterSim(options).run();
}

interface ActivePartition {
  readonly links: readonly (readonly [NodeId, NodeId])[];
  readonly untilTick: number;
}

interface PendingReport {
  readonly node: NodeId;
  readonly peer: NodeId;
  readonly kind: 'snapshot' | 'unreachable';
  readonly ok: boolean;
}

class ClusterSim implements ClientWorld {
  private readonly config: SimConfig;
  private readonly trace: EventTrace;
  private readonly checker = new SafetyChecker();
  private readonly history = new History();
  private readonly network: SimNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: SimClient[] = [];
  private readonly schedule: ScheduledFault[];
  private readonly faultRandom: SimRandom;
  private readonly diskRandom: SimRandom;
  private tick = 0;
  private readonly healTick: number;
  private readonly endTick: number;
  private scheduleNext = 0;
  private partitions: ActivePartition[] = [];
  private networkFaultUntilTick = -1;
  private readonly slowUntil = new Map<NodeId, { factor: number; untilTick: number }>();
  private readonly restartAt = new Map<NodeId, number>();
  private readonly crashDeadline = new Map<NodeId, number>();
  private reports: PendingReport[] = [];
  /** The latest configuration applied anywhere (applied means committed, so it is final). */
  private globalConf: { index: number; confState: ConfState };
  private readonly everMember = new Set<NodeId>();
  /** Log indexes of the conf changes applied anywhere (bounded by the run's log). */
  private readonly confChangeIndexes = new Set<number>();
  private readonly retired = new Set<NodeId>();
  private memberIds: NodeId[] = [];
  private firstLeaderAfterHealTick: number | null = null;
  private stableLeader: { id: NodeId; term: number; sinceTick: number } | null = null;
  private readonly summary: SimSummary;

  constructor(private readonly options: SimOptions) {
    const root = new SimRandom(options.seed);
    const configRandom = root.fork(stream.config);
    this.config = drawSimConfig(configRandom, {
      faultTicks: options.faultTicks,
      sabotage: options.sabotage,
    });
    this.trace = new EventTrace(options.traceSink);
    this.network = new SimNetwork(root.fork(stream.network), this.config.linkQueueMessagesMax);
    this.schedule = generateFaultSchedule(root.fork(stream.faults), this.config.faults);
    this.faultRandom = root.fork(stream.faultTargets);
    this.diskRandom = root.fork(stream.disk);
    this.healTick = options.faultTicks;
    this.endTick = this.healTick + this.config.settleTicks;
    this.summary = emptySummary();
    const voters = this.config.membership.poolIds.slice(0, this.config.initialVoterCount);
    this.globalConf = { index: 0, confState: votersConfState(voters) };
    this.noteMembers();
    this.createNodes(root.fork(stream.nodes), voters);
    this.createClients(root.fork(stream.clients), voters);
  }

  // ClientWorld
  get nodeIds(): readonly NodeId[] {
    return this.memberIds;
  }

  nodeById(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  now(): number {
    return this.tick;
  }

  run(): SimResult {
    let failure: SimFailure | null;
    try {
      for (this.tick = 0; this.tick < this.endTick; this.tick++) this.step();
      failure = this.checkLiveness() ?? this.checkLinearizability();
    } catch (error) {
      failure = this.describeFailure(error);
    }
    this.finishSummary();
    return { seed: this.options.seed, failure, summary: this.summary };
  }

  private createNodes(random: SimRandom, voters: readonly NodeId[]): void {
    const environment = this.nodeEnvironment();
    for (const id of this.config.membership.poolIds) {
      // Spare ids start empty: they join as learners and catch up from the leader's snapshot.
      const storage = voters.includes(id) ? bootstrapStorage(voters) : new MemoryStorage();
      this.nodes.set(id, new SimNode(id, storage, this.config.node, environment, random.fork(id)));
    }
  }

  private createClients(random: SimRandom, voters: readonly NodeId[]): void {
    for (let id = 0; id < this.config.clientCount; id++) {
      const guess = voters[id % voters.length] ?? NONE;
      this.clients.push(
        new SimClient(id, this.config.client, random.fork(id), this.history, this.trace, this, guess),
      );
    }
  }

  private nodeEnvironment(): SimNodeEnvironment {
    return {
      checker: this.checker,
      trace: this.trace,
      now: () => this.tick,
      send: (messages) => this.send(messages),
      onPutApplied: (node, command) => this.clients[command.clientId]?.onPutApplied(node, command),
      onConfChangeApplied: (_node, index, confState) => this.onConfChangeApplied(index, confState),
      onReadServable: (node, requestCtx) => {
        const read = decodeReadContext(requestCtx);
        if (read !== null) this.clients[read.clientId]?.onReadServable(node, read.opId);
      },
    };
  }

  /** One tick of the whole world. */
  private step(): void {
    const tick = this.tick;
    this.checker.setTick(tick);
    this.deliverReports();
    if (tick === this.healTick) this.heal();
    if (tick < this.healTick) {
      this.fireFaults(tick);
      this.expireFaults(tick);
    }
    this.restartDue(tick);
    for (const node of this.nodes.values()) {
      if (node.up && !this.skipsClockTick(node.id, tick)) node.tick();
    }
    const mayStartNew = tick < this.endTick - this.config.drainTicks;
    for (const client of this.clients) client.step(mayStartNew);
    this.deliverMessages(tick);
    for (const node of this.nodes.values()) {
      if (!node.up || !this.processesThisTick(node.id, tick)) continue;
      node.stepInbox();
      node.handleReadies();
    }
    for (const node of this.nodes.values()) {
      if (node.up && this.diskRandom.chancePermille(this.config.backgroundFlushPermille)) node.flush();
    }
    this.retireRemovedMembers();
    if (tick % this.config.explicitJointCheckTicks === 0) this.leaveExplicitJoint();
    if (tick >= this.healTick) this.watchLeadership();
  }

  /** The operator's part of an explicit joint change: propose leaving it once it is applied. */
  private leaveExplicitJoint(): void {
    const leader = this.currentLeader();
    if (leader === null) return;
    const confState = leader.kv.confState;
    if (confState.votersOutgoing.length === 0 || confState.autoLeave) return;
    const result = leader.proposeConfChange({ transition: 'auto', changes: [], context: new Uint8Array(0) });
    if (result.ok) this.summary.confChangesProposed++;
    this.trace.record(this.tick, traceCode.fault, [leader.id, result.ok ? 1 : 0], () => {
      return `operator: leave the explicit joint configuration at node ${leader.id}: ${result.ok ? 'ok' : result.error.kind}`;
    });
  }

  private send(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.type === 'snap') this.summary.snapshotsSent++;
      const dropped = this.network.send(this.tick, message);
      if (dropped !== null) this.onDrop(message, dropped);
    }
  }

  private deliverMessages(tick: number): void {
    const due = this.network.takeDue(tick, this.config.deliveriesPerTickMax, (message, reason) =>
      this.onDrop(message, reason),
    );
    for (const message of due) {
      const receiver = this.nodes.get(message.to);
      if (receiver === undefined || !receiver.up || !receiver.deliver(message)) {
        this.onDrop(message, 'receiverDown');
        continue;
      }
      if (message.type === 'snap')
        this.reports.push({ node: message.from, peer: message.to, kind: 'snapshot', ok: true });
      this.trace.record(tick, traceCode.deliver, deliverFields(message), () => describeMessage(message));
    }
  }

  private onDrop(message: Message, reason: DropReason): void {
    this.trace.record(this.tick, traceCode.drop, [message.from, message.to, typeCode(message.type)], () => {
      return `drop (${reason}) ${describeMessage(message)}`;
    });
    if (message.type === 'snap')
      this.reports.push({ node: message.from, peer: message.to, kind: 'snapshot', ok: false });
    else if (reason === 'partition' || reason === 'receiverDown') {
      this.reports.push({ node: message.from, peer: message.to, kind: 'unreachable', ok: false });
    }
  }

  /** Transport feedback (snapshot status, unreachable peers) reaches the sender on the next tick. */
  private deliverReports(): void {
    const reports = this.reports;
    this.reports = [];
    const unreachableSeen = new Set<number>();
    for (const report of reports) {
      const node = this.nodes.get(report.node);
      if (node === undefined || !node.up) continue;
      if (report.kind === 'snapshot') node.node.reportSnapshot(report.peer, report.ok);
      else if (!unreachableSeen.has(report.node * 0x1_0000 + report.peer)) {
        unreachableSeen.add(report.node * 0x1_0000 + report.peer);
        node.node.reportUnreachable(report.peer);
      }
    }
  }

  private fireFaults(tick: number): void {
    for (;;) {
      const fault = this.schedule[this.scheduleNext];
      if (fault === undefined || fault.tick > tick) return;
      this.scheduleNext++;
      this.summary.faultsFired++;
      this.fire(fault);
    }
  }

  private fire(fault: ScheduledFault): void {
    const random = this.faultRandom;
    const members = this.memberIds.filter((id) => this.nodes.get(id)?.destroyed === false);
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
    this.trace.record(fault.tick, traceCode.fault, [kindIndex(fault.kind)], () => `fault: ${what}`);
  }

  private addPartition(links: (readonly [NodeId, NodeId])[], untilTick: number): void {
    this.partitions.push({ links, untilTick });
    for (const [from, to] of links) this.network.cut(from, to);
  }

  private setNetworkFault(conditions: NetworkConditions, untilTick: number): string {
    this.network.setConditions(conditions);
    this.networkFaultUntilTick = untilTick;
    return (
      `network delay ${conditions.delayTicksMin}-${conditions.delayTicksMax} ticks, loss ${conditions.lossPermille}‰, ` +
      `duplication ${conditions.duplicatePermille}‰, ${conditions.longDelayPermille}‰ held up to ` +
      `${conditions.longDelayTicksMax} ticks, until tick ${untilTick}`
    );
  }

  private crashOne(fault: ScheduledFault): string {
    const down = [...this.nodes.values()].filter((node) => !node.up && !node.destroyed).length;
    const candidates = this.memberIds.filter((id) => {
      const node = this.nodes.get(id);
      return node !== undefined && node.up && !node.crashArmed;
    });
    if (down + this.crashDeadline.size >= this.config.nodesDownMax || candidates.length === 0) {
      return 'crash skipped (enough nodes down)';
    }
    const leader = this.leaderOr(NONE);
    const victim = candidates.includes(leader) ? leader : this.faultRandom.pick(candidates);
    const node = this.nodes.get(victim);
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
    const leader = this.currentLeader();
    if (leader === null) return 'membership change skipped (no leader)';
    const change = chooseMembershipChange(
      this.faultRandom,
      leader.kv.confState,
      this.retired,
      this.config.membership,
    );
    if (change === null) return 'membership change skipped (none fits)';
    const result = leader.proposeConfChange(change);
    if (result.ok) this.summary.confChangesProposed++;
    const changes = change.changes.map((c) => `${c.type} ${c.nodeId}`).join(', ') || 'leave joint';
    return `propose conf change (${change.transition}: ${changes}) at node ${leader.id}: ${result.ok ? 'ok' : result.error.kind}`;
  }

  private transferLeader(): string {
    const leader = this.currentLeader();
    if (leader === null) return 'leader transfer skipped (no leader)';
    const targets = leader.kv.confState.voters.filter((id) => id !== leader.id && !this.retired.has(id));
    if (targets.length === 0) return 'leader transfer skipped (no other voter)';
    const target = this.faultRandom.pick(targets);
    leader.node.transferLeader(target);
    this.summary.leaderTransfers++;
    return `transfer leadership ${leader.id} -> ${target}`;
  }

  private expireFaults(tick: number): void {
    const before = this.partitions.length;
    this.partitions = this.partitions.filter((partition) => partition.untilTick > tick);
    if (this.partitions.length !== before) {
      this.network.healAll();
      for (const partition of this.partitions)
        for (const [from, to] of partition.links) this.network.cut(from, to);
    }
    if (tick === this.networkFaultUntilTick) this.network.setConditions(calmConditions);
    for (const [id, slow] of this.slowUntil) if (slow.untilTick <= tick) this.slowUntil.delete(id);
    for (const [id, deadline] of this.crashDeadline) {
      const node = this.nodes.get(id);
      if (node === undefined || !node.crashArmed) this.crashDeadline.delete(id);
      else if (deadline <= tick) {
        node.crash('idle');
        this.crashDeadline.delete(id);
      }
    }
  }

  private restartDue(tick: number): void {
    for (const [id, at] of this.restartAt) {
      const node = this.nodes.get(id);
      if (node === undefined || at > tick || node.up || this.crashDeadline.has(id)) continue;
      this.restartAt.delete(id);
      if (node.destroyed) continue;
      node.restart(this.faultRandom.chancePermille(this.config.restartFromSnapshotPermille));
    }
  }

  /** The end of the fault phase: every partition, slowness and crash is healed at once. */
  private heal(): void {
    this.trace.record(
      this.tick,
      traceCode.heal,
      [],
      () => 'heal: network calm, partitions lifted, nodes restarted',
    );
    this.partitions = [];
    this.network.healAll();
    this.network.setConditions(calmConditions);
    this.network.expedite(this.tick, calmConditions.delayTicksMax);
    this.slowUntil.clear();
    for (const [id] of this.crashDeadline) {
      const node = this.nodes.get(id);
      if (node !== undefined && node.up && node.crashArmed) node.crash('idle');
    }
    this.crashDeadline.clear();
    for (const id of this.restartAt.keys()) this.restartAt.set(id, this.tick);
  }

  /** A slow node's clock loses one tick per election timeout: drift within the lease margin. */
  private skipsClockTick(id: NodeId, tick: number): boolean {
    return this.slowUntil.has(id) && tick % this.config.node.electionTimeoutTicks === 0;
  }

  private processesThisTick(id: NodeId, tick: number): boolean {
    const slow = this.slowUntil.get(id);
    return slow === undefined || tick % slow.factor === 0;
  }

  private onConfChangeApplied(index: number, confState: ConfState): void {
    this.confChangeIndexes.add(index);
    if (index <= this.globalConf.index) return;
    this.globalConf = { index, confState };
    this.noteMembers();
  }

  private noteMembers(): void {
    this.memberIds = membersOf(this.globalConf.confState).filter((id) => !this.retired.has(id));
    for (const id of this.memberIds) this.everMember.add(id);
  }

  /** Garbage-collects nodes the committed configuration no longer names (TiKV's tombstone). */
  private retireRemovedMembers(): void {
    if (this.everMember.size === this.memberIds.length) return;
    for (const id of this.everMember) {
      if (this.memberIds.includes(id) || this.retired.has(id)) continue;
      this.retired.add(id);
      this.nodes.get(id)?.destroy();
      this.restartAt.delete(id);
      this.crashDeadline.delete(id);
      this.trace.record(
        this.tick,
        traceCode.retire,
        [id],
        () => `node ${id} removed from the group: destroyed`,
      );
    }
  }

  /** Half of the time the current leader (the most interesting victim), else `other`. */
  private leaderOr(other: NodeId): NodeId {
    const leader = this.currentLeader();
    return leader !== null && this.faultRandom.chancePermille(500) ? leader.id : other;
  }

  /** The up node that is leader in the highest term, if any. */
  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (!node.up || node.currentRole !== 'leader') continue;
      const term = node.node.status().term;
      if (term > bestTerm) {
        best = node;
        bestTerm = term;
      }
    }
    return best;
  }

  /**
   * Without pre-vote, nodes rejoining with stale logs can split a few elections after the heal,
   * so the bound is on the election (a leader within electionAfterHealTicksMax) and on service
   * once leadership is stable: every operation invoked after that must complete.
   */
  private checkLiveness(): SimFailure | null {
    const fail = (message: string): SimFailure => ({ kind: 'liveness', tick: this.tick, message });
    const leader = this.currentLeader();
    if (leader === null)
      return fail(`no leader at the end, ${this.tick - this.healTick} ticks after the heal`);
    const firstLeaderTick = this.firstLeaderAfterHealTick ?? this.tick;
    if (firstLeaderTick - this.healTick > this.config.electionAfterHealTicksMax) {
      return fail(`the first leader after the heal at tick ${this.healTick} came at tick ${firstLeaderTick}`);
    }
    const stableSince = this.stableLeader?.sinceTick ?? this.tick;
    if (this.tick - stableSince < this.config.stableLeaderTicksMin) {
      return fail(
        `leadership still changing at tick ${stableSince}, ${this.tick - this.healTick} ticks after the heal`,
      );
    }
    if (!this.globalConf.confState.voters.includes(leader.id))
      return fail(`leader ${leader.id} is not a voter`);
    if (leader.kv.confState.votersOutgoing.length > 0)
      return fail('still in a joint configuration at the end');
    const deadline = stableSince + this.config.livenessGraceTicks;
    for (const client of this.clients) {
      if (client.busy) return fail(`client ${client.id} still waits on an operation at the end`);
      const failed = client.outcomes.find((outcome) => outcome.invokeTick >= deadline && !outcome.completed);
      if (failed !== undefined) {
        return fail(
          `client ${client.id}'s operation invoked at tick ${failed.invokeTick} failed (leader stable since tick ${stableSince})`,
        );
      }
    }
    return this.checkConvergence(leader);
  }

  /** After the heal: notes when a leader first appears and since when it has not changed. */
  private watchLeadership(): void {
    const leader = this.currentLeader();
    if (leader === null) {
      this.stableLeader = null;
      return;
    }
    this.firstLeaderAfterHealTick ??= this.tick;
    const term = leader.node.status().term;
    if (this.stableLeader === null || this.stableLeader.id !== leader.id || this.stableLeader.term !== term) {
      this.stableLeader = { id: leader.id, term, sinceTick: this.tick };
    }
  }

  private checkConvergence(leader: SimNode): SimFailure | null {
    const commit = leader.node.status().commit;
    const state = leader.kv.encode();
    for (const id of membersOf(this.globalConf.confState)) {
      const node = this.nodes.get(id);
      if (node === undefined || !node.up) {
        return { kind: 'liveness', tick: this.tick, message: `member ${id} is not running after the heal` };
      }
      if (node.kv.appliedIndex !== commit || !sameBytes(node.kv.encode(), state)) {
        return {
          kind: 'liveness',
          tick: this.tick,
          message: `member ${id} applied ${node.kv.appliedIndex}, leader ${leader.id} committed ${commit}: not converged`,
        };
      }
    }
    return null;
  }

  private checkLinearizability(): SimFailure | null {
    const staleProblem = this.history.checkStaleReads();
    if (staleProblem !== null) return { kind: 'linearizability', tick: this.tick, message: staleProblem };
    const result = checkHistory(this.history.operations, this.options.linearizabilityStepsMax);
    this.summary.linearizability = result.outcome;
    this.summary.opsChecked = result.operationsChecked;
    if (result.outcome !== 'illegal') return null;
    for (const key of result.illegalKeys) this.traceKeyHistory(key);
    return {
      kind: 'linearizability',
      tick: this.tick,
      message: `the client history is not linearizable on key(s) ${result.illegalKeys.join(', ')}`,
    };
  }

  /** With --verbose, prints the sub-history of a key that is not linearizable (bounded). */
  private traceKeyHistory(key: string): void {
    if (!this.trace.verbose) return;
    const operations = this.history.operations.filter((operation) => operation.key === key);
    for (const operation of operations.slice(-keyHistoryLinesMax)) {
      const returned = operation.returnSeq === Infinity ? 'open' : String(operation.returnSeq);
      const what =
        operation.kind === 'put' ? `put ${operation.value}` : `get -> ${operation.value ?? 'null'}`;
      this.trace.record(
        this.tick,
        traceCode.history,
        [],
        () => `history ${key} [${operation.callSeq}, ${returned}] ${what}`,
      );
    }
  }

  private describeFailure(error: unknown): SimFailure {
    if (error instanceof InvariantViolation)
      return { kind: 'invariant', tick: error.tick, message: error.message };
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { kind: 'exception', tick: this.tick, message };
  }

  private finishSummary(): void {
    const summary = this.summary;
    summary.ticks = this.tick;
    for (const node of this.nodes.values()) {
      summary.leadersElected += node.stats.timesLeader;
      summary.snapshotsInstalled += node.stats.snapshotsInstalled;
      summary.crashes += node.stats.crashes;
      summary.entriesCommitted = Math.max(summary.entriesCommitted, node.kv.appliedIndex);
      summary.diskSyncs += node.diskSyncs;
    }
    summary.confChangesApplied = this.confChangeIndexes.size;
    summary.messagesSent = this.network.stats.sent;
    summary.messagesDropped = this.network.stats.dropped;
    const counts = this.history.counts;
    summary.putsOk = counts.putsOk;
    summary.putsUnknown = counts.putsUnknown;
    summary.readsSafe = counts.readsSafe;
    summary.readsLease = counts.readsLease;
    summary.readsStale = counts.readsStale;
    summary.invariantChecks = this.checker.checks;
    summary.traceEvents = this.trace.events;
    summary.traceDigest = this.trace.digest();
  }
}

/**
 * The storage of an initial voter, bootstrapped as TiKV does: the log starts with a snapshot
 * at a small index holding the initial membership, so a node added later (whose log is empty)
 * always begins from a snapshot and learns the membership from its metadata, never by
 * replaying conf changes on top of a configuration it never saw.
 */
function bootstrapStorage(voters: readonly NodeId[]): MemoryStorage {
  const confState = votersConfState(voters);
  const storage = new MemoryStorage({ confState });
  storage.applySnapshot({
    metadata: { index: bootstrapIndex, term: bootstrapIndex, confState },
    data: new Uint8Array(0),
  });
  storage.setHardState({ term: bootstrapIndex, vote: NONE, commit: bootstrapIndex });
  return storage;
}

function emptySummary(): SimSummary {
  return {
    ticks: 0,
    leadersElected: 0,
    entriesCommitted: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    confChangesProposed: 0,
    leaderTransfers: 0,
    crashes: 0,
    faultsFired: 0,
    messagesSent: 0,
    messagesDropped: 0,
    diskSyncs: 0,
    opsChecked: 0,
    putsOk: 0,
    putsUnknown: 0,
    readsSafe: 0,
    readsLease: 0,
    readsStale: 0,
    linearizability: 'notRun',
    invariantChecks: 0,
    traceEvents: 0,
    traceDigest: '',
  };
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

function typeCode(type: string): number {
  let code = messageTypeCodes.get(type);
  if (code === undefined) {
    code = hashString(type);
    messageTypeCodes.set(type, code);
  }
  return code;
}

function kindIndex(kind: string): number {
  return hashString(kind);
}

function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function deliverFields(message: Message): number[] {
  return [
    message.from,
    message.to,
    typeCode(message.type),
    message.term,
    message.index,
    message.logTerm,
    message.commit,
    message.entries.length,
    message.reject ? 1 : 0,
  ];
}

function describeMessage(message: Message): string {
  const entries = message.entries.length > 0 ? ` entries ${message.entries.length}` : '';
  const snapshot = message.snapshot !== null ? ` snapshot@${message.snapshot.metadata.index}` : '';
  return (
    `${message.from}->${message.to} ${message.type} term ${message.term} index ${message.index} logTerm ${message.logTerm} ` +
    `commit ${message.commit}${entries}${snapshot}${message.reject ? ' reject' : ''}`
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
