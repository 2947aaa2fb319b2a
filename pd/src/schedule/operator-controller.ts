// Keeps the operators in flight (at most one per region, a bounded number per kind),
// advances them as region heartbeats show their steps done, sends the next step to the
// region's leader, and gives up on those that time out or became impossible. Finished
// operators are kept in a bounded history for status.
import type { RegionInfo } from '../cluster/region-info.js';
import type { Operator, OperatorKind, OperatorStep } from './operator.js';
import { describeStep, stepDone, stepPossible, stepReady, stepToProto } from './operator.js';
import type { ScheduleConfig } from './schedule-config.js';
import type { pdpb } from '@flotilla/proto';

/** Where operator steps go: the region leader's heartbeat stream (PdCluster.sendOperator). */
export type OperatorSender = (
  regionId: number,
  operator: pdpb.RegionHeartbeatResponse['operator'],
) => boolean;

export interface OperatorCounters {
  created: number;
  succeeded: number;
  timedOut: number;
  cancelled: number;
  stepsSent: number;
}

export class OperatorController {
  private readonly running = new Map<number, Operator>();
  private readonly history: Operator[] = [];
  private nextId = 1;
  readonly counters: OperatorCounters = { created: 0, succeeded: 0, timedOut: 0, cancelled: 0, stepsSent: 0 };

  constructor(
    private readonly config: ScheduleConfig,
    private readonly send: OperatorSender,
    private readonly nowUnixMs: () => number,
    private readonly log: (line: string) => void,
  ) {}

  has(regionId: number): boolean {
    return this.running.has(regionId);
  }

  /** Operators of `kind` running now. */
  runningCount(kind: OperatorKind): number {
    let n = 0;
    for (const op of this.running.values()) if (op.kind === kind) n++;
    return n;
  }

  /** Whether another operator of `kind` may start. */
  hasRoom(kind: OperatorKind): boolean {
    return this.runningCount(kind) < this.limitOf(kind);
  }

  /** How many operators of `kind` may run at once. */
  limitOf(kind: OperatorKind): number {
    switch (kind) {
      case 'replica':
        return this.config.replicaScheduleLimit;
      case 'balanceLeader':
        return this.config.leaderScheduleLimit;
      case 'balanceRegion':
        return this.config.regionScheduleLimit;
      case 'hotRegion':
        return this.config.hotRegionScheduleLimit;
      case 'merge':
        return this.config.mergeScheduleLimit;
      case 'evictLeader':
        return this.config.evictLeaderScheduleLimit;
      case 'balanceSpace':
        return this.config.spaceScheduleLimit;
    }
  }

  /** Starts an operator for the region and sends its first step; false if one runs or the kind is full. */
  add(info: RegionInfo, kind: OperatorKind, description: string, steps: readonly OperatorStep[]): boolean {
    if (steps.length === 0 || this.running.has(info.region.id) || !this.hasRoom(kind)) return false;
    const op: Operator = {
      id: this.nextId++,
      regionId: info.region.id,
      kind,
      description,
      steps,
      createdAtUnixMs: this.nowUnixMs(),
      leaderStoreIdAtStart: info.leader?.storeId,
      stepIndex: 0,
      sentAtUnixMs: 0,
      status: 'running',
      finishedAtUnixMs: 0,
    };
    this.running.set(op.regionId, op);
    this.counters.created++;
    this.log(`operator ${op.id} for region ${op.regionId} (${kind}): ${description}`);
    this.advance(op, info);
    return true;
  }

  /** A heartbeat of the region arrived: advance its operator, if any. */
  onHeartbeat(info: RegionInfo): void {
    const op = this.running.get(info.region.id);
    if (op !== undefined) this.advance(op, info);
  }

  /** Gives up on operators past their timeout (run by the scheduler's timer). */
  expire(): void {
    const now = this.nowUnixMs();
    for (const op of [...this.running.values()]) {
      if (now - op.createdAtUnixMs >= this.config.operatorTimeoutMs) this.finish(op, 'timedOut');
    }
  }

  /** Running operators, then the recent finished ones. */
  list(): { running: Operator[]; finished: Operator[] } {
    return { running: [...this.running.values()], finished: [...this.history] };
  }

  /** The operator running for the region, if any. */
  get(regionId: number): Operator | undefined {
    return this.running.get(regionId);
  }

  /** Gives up on the region's operator (its target became unavailable, or a repair comes first). */
  cancel(regionId: number, why: string): void {
    const op = this.running.get(regionId);
    if (op === undefined) return;
    this.log(`operator ${op.id} for region ${regionId} cancelled: ${why}`);
    this.finish(op, 'cancelled');
  }

  /** The region's operator reached its goal without a heartbeat showing it (a merged region is gone). */
  succeed(regionId: number, why: string): void {
    const op = this.running.get(regionId);
    if (op === undefined) return;
    this.log(`operator ${op.id} for region ${regionId}: ${why}`);
    this.finish(op, 'succeeded');
  }

  /** Drops all running operators (the PD member lost leadership). */
  clear(): void {
    for (const op of [...this.running.values()]) this.finish(op, 'cancelled');
  }

  private advance(op: Operator, info: RegionInfo): void {
    while (op.stepIndex < op.steps.length && stepDone(op.steps[op.stepIndex] as OperatorStep, info)) {
      op.stepIndex++;
      op.sentAtUnixMs = 0;
    }
    if (op.stepIndex >= op.steps.length) return this.finish(op, 'succeeded');
    const step = op.steps[op.stepIndex] as OperatorStep;
    if (!stepPossible(step, info)) {
      this.log(`operator ${op.id} for region ${op.regionId}: cannot ${describeStep(step)} any more`);
      return this.finish(op, 'cancelled');
    }
    // Not yet (a learner still catching up): the next heartbeat looks again.
    if (!stepReady(step, info)) return;
    const now = this.nowUnixMs();
    if (op.sentAtUnixMs !== 0 && now - op.sentAtUnixMs < this.config.stepResendIntervalMs) return;
    if (this.send(op.regionId, stepToProto(step))) {
      op.sentAtUnixMs = now;
      this.counters.stepsSent++;
    }
  }

  private finish(op: Operator, status: 'succeeded' | 'timedOut' | 'cancelled'): void {
    op.status = status;
    op.finishedAtUnixMs = this.nowUnixMs();
    this.running.delete(op.regionId);
    this.counters[status]++;
    this.history.push(op);
    if (this.history.length > this.config.operatorHistoryMax) this.history.shift();
    this.log(
      `operator ${op.id} for region ${op.regionId} ${status} after ${op.finishedAtUnixMs - op.createdAtUnixMs} ms: ${op.description}`,
    );
  }
}
