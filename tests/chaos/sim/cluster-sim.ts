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
import { FaultInjector } from './fault-injector.js';
import type { FaultWorld } from './fault-injector.js';
import { generateFaultSchedule } from './faults.js';
import { History } from './history.js';
import { votersConfState } from './kv-state-machine.js';
import { checkHistory } from '../checker/linearizability.js';
import { LivenessWatch } from './liveness.js';
import { membersOf } from './membership.js';
import { deliverFields, describeMessage, typeCode } from './message-trace.js';
import { SimNetwork } from './network.js';
import type { DropReason } from './network.js';
import { SimRandom } from './prng.js';
import { drawSimConfig } from './sim-config.js';
import type { SimConfig } from './sim-config.js';
import { SimNode } from './sim-node.js';
import type { Sabotage, SimNodeEnvironment } from './sim-node.js';
import { emptySummary } from './sim-result.js';
import type { SimFailure, SimResult, SimSummary } from './sim-result.js';
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

export type { SimFailure, SimFailureKind, SimResult, SimSummary } from './sim-result.js';

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  faultTicks: 1500,
  linearizabilityStepsMax: 2_000_000,
  traceSink: null,
  sabotage: 'none',
};

/** Streams forked from the seed, one per subsystem (see prng.ts). */
const stream = { config: 1, network: 2, faults: 3, faultTargets: 4, nodes: 5, clients: 6, disk: 7 } as const;
/** Index and term of the bootstrap snapshot (TiKV's RAFT_INIT_LOG_INDEX / RAFT_INIT_LOG_TERM). */
const bootstrapIndex = 5;
/** Trace codes of the cluster's own events (the fault injector's are 10 and 11). */
const traceCode = { deliver: 1, drop: 2, operator: 10, retire: 12, history: 13 } as const;
/** Bound on the history lines printed for a key that is not linearizable. */
const keyHistoryLinesMax = 300;

export function runSimulation(options: SimOptions): SimResult {
  return new ClusterSim(options).run();
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
  private readonly diskRandom: SimRandom;
  private readonly faults: FaultInjector;
  private tick = 0;
  private readonly healTick: number;
  private readonly endTick: number;
  private reports: PendingReport[] = [];
  /** The latest configuration applied anywhere (applied means committed, so it is final). */
  private globalConf: { index: number; confState: ConfState };
  private readonly everMember = new Set<NodeId>();
  /** Log indexes of the conf changes applied anywhere (bounded by the run's log). */
  private readonly confChangeIndexes = new Set<number>();
  private readonly retired = new Set<NodeId>();
  private memberIds: NodeId[] = [];
  private readonly liveness: LivenessWatch;
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
    const schedule = generateFaultSchedule(root.fork(stream.faults), this.config.faults);
    const faultRandom = root.fork(stream.faultTargets);
    this.diskRandom = root.fork(stream.disk);
    this.healTick = options.faultTicks;
    this.endTick = this.healTick + this.config.settleTicks;
    this.summary = emptySummary();
    this.liveness = new LivenessWatch(this.config, this.healTick);
    this.faults = new FaultInjector(this.faultWorld(), schedule, faultRandom, this.config);
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

  private faultWorld(): FaultWorld {
    return {
      nodes: this.nodes,
      network: this.network,
      trace: this.trace,
      summary: this.summary,
      retired: this.retired,
      memberIds: () => this.memberIds,
      currentLeader: () => this.currentLeader(),
    };
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
    if (tick === this.healTick) this.faults.heal(tick);
    if (tick < this.healTick) {
      this.faults.fireDue(tick);
      this.faults.expire(tick);
    }
    this.faults.restartDue(tick);
    for (const node of this.nodes.values()) {
      if (node.up && !this.faults.skipsClockTick(node.id, tick)) node.tick();
    }
    const mayStartNew = tick < this.endTick - this.config.drainTicks;
    for (const client of this.clients) client.step(mayStartNew);
    this.deliverMessages(tick);
    for (const node of this.nodes.values()) {
      if (!node.up || !this.faults.processesThisTick(node.id, tick)) continue;
      node.stepInbox();
      node.handleReadies();
    }
    for (const node of this.nodes.values()) {
      if (node.up && this.diskRandom.chancePermille(this.config.backgroundFlushPermille)) node.flush();
    }
    this.retireRemovedMembers();
    if (tick % this.config.explicitJointCheckTicks === 0) this.leaveExplicitJoint();
    if (tick >= this.healTick) this.liveness.observe(tick, this.currentLeader());
  }

  /** The operator's part of an explicit joint change: propose leaving it once it is applied. */
  private leaveExplicitJoint(): void {
    const leader = this.currentLeader();
    if (leader === null) return;
    const confState = leader.kv.confState;
    if (confState.votersOutgoing.length === 0 || confState.autoLeave) return;
    const result = leader.proposeConfChange({ transition: 'auto', changes: [], context: new Uint8Array(0) });
    if (result.ok) this.summary.confChangesProposed++;
    this.trace.record(this.tick, traceCode.operator, [leader.id, result.ok ? 1 : 0], () => {
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
      this.faults.forget(id);
      this.trace.record(
        this.tick,
        traceCode.retire,
        [id],
        () => `node ${id} removed from the group: destroyed`,
      );
    }
  }

  /** The up node that is leader in the highest term, if any. */
  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (!node.up || node.currentRole !== 'leader') continue;
      const term = node.node.basicStatus().term;
      if (term > bestTerm) {
        best = node;
        bestTerm = term;
      }
    }
    return best;
  }

  private checkLiveness(): SimFailure | null {
    return this.liveness.check({
      tick: this.tick,
      leader: this.currentLeader(),
      confState: this.globalConf.confState,
      nodes: this.nodes,
      clients: this.clients,
    });
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
