// What `flotilla status` and GetOperators show of the scheduler: every operator in flight
// and the recently finished ones (kind, region, stores it moves from and to, steps, age,
// outcome), and how many of each kind run against the kind's limit — the rate limit that
// keeps scheduling from flooding the cluster.
import { pdpb } from '@flotilla/proto';
import type { Operator, OperatorKind } from './operator.js';
import { describeStep } from './operator.js';
import type { OperatorController } from './operator-controller.js';

/** Every operator kind, for the limits table. */
export const OPERATOR_KINDS = [
  'replica',
  'balanceLeader',
  'balanceRegion',
  'hotRegion',
  'merge',
  'evictLeader',
  'balanceSpace',
] as const;
// A kind added to OperatorKind must be listed above, or its limit would not be shown.
type UnlistedKinds = Exclude<OperatorKind, (typeof OPERATOR_KINDS)[number]>;
const allKindsListed: [UnlistedKinds] extends [never] ? true : UnlistedKinds = true;
void allKindsListed;

export interface OperatorView {
  readonly id: number;
  readonly regionId: number;
  readonly kind: OperatorKind;
  readonly description: string;
  readonly fromStoreIds: number[];
  readonly toStoreIds: number[];
  readonly steps: string[];
  readonly stepIndex: number;
  readonly status: Operator['status'];
  readonly ageMs: number;
  readonly durationMs: number;
}

export interface OperatorStatusReport {
  readonly running: OperatorView[];
  readonly finished: OperatorView[];
  readonly limits: Array<{
    readonly kind: OperatorKind;
    readonly runningCount: number;
    readonly limit: number;
  }>;
}

/** Stores losing a peer or the leadership, and stores gaining one, by the operator's steps. */
export function operatorMoves(op: Operator): { fromStoreIds: number[]; toStoreIds: number[] } {
  const from = new Set<number>();
  const to = new Set<number>();
  for (const step of op.steps) {
    switch (step.kind) {
      case 'addLearner':
        to.add(step.peer.storeId);
        break;
      case 'removePeer':
        from.add(step.peer.storeId);
        break;
      case 'transferLeader':
        if (op.leaderStoreIdAtStart !== undefined && op.leaderStoreIdAtStart !== step.peer.storeId)
          from.add(op.leaderStoreIdAtStart);
        to.add(step.peer.storeId);
        break;
      case 'promoteLearner':
        break;
    }
  }
  return { fromStoreIds: [...from], toStoreIds: [...to] };
}

function viewOf(op: Operator, nowUnixMs: number): OperatorView {
  return {
    id: op.id,
    regionId: op.regionId,
    kind: op.kind,
    description: op.description,
    ...operatorMoves(op),
    steps: op.steps.map(describeStep),
    stepIndex: op.stepIndex,
    status: op.status,
    ageMs: Math.max(0, nowUnixMs - op.createdAtUnixMs),
    durationMs: op.status === 'running' ? 0 : op.finishedAtUnixMs - op.createdAtUnixMs,
  };
}

export function operatorStatusReport(
  controller: OperatorController,
  nowUnixMs: number,
): OperatorStatusReport {
  const { running, finished } = controller.list();
  return {
    running: running.sort((a, b) => a.id - b.id).map((op) => viewOf(op, nowUnixMs)),
    finished: finished.map((op) => viewOf(op, nowUnixMs)),
    limits: OPERATOR_KINDS.map((kind) => ({
      kind,
      runningCount: controller.runningCount(kind),
      limit: controller.limitOf(kind),
    })),
  };
}

const STATUS_TO_PROTO: Record<Operator['status'], pdpb.OperatorStatus> = {
  running: pdpb.OperatorStatus.RUNNING,
  succeeded: pdpb.OperatorStatus.SUCCEEDED,
  timedOut: pdpb.OperatorStatus.TIMED_OUT,
  cancelled: pdpb.OperatorStatus.CANCELLED,
};

function viewToProto(v: OperatorView): pdpb.OperatorInfo {
  return {
    id: BigInt(v.id),
    regionId: BigInt(v.regionId),
    kind: v.kind,
    description: v.description,
    fromStoreIds: v.fromStoreIds.map(BigInt),
    toStoreIds: v.toStoreIds.map(BigInt),
    steps: v.steps,
    stepIndex: v.stepIndex,
    status: STATUS_TO_PROTO[v.status],
    ageMs: BigInt(v.ageMs),
    durationMs: BigInt(v.durationMs),
  };
}

export function operatorStatusToProto(
  report: OperatorStatusReport,
): Pick<pdpb.GetOperatorsResponse, 'running' | 'finished' | 'limits'> {
  return {
    running: report.running.map(viewToProto),
    finished: report.finished.map(viewToProto),
    limits: report.limits.map((l) => ({ kind: l.kind, runningCount: l.runningCount, limit: l.limit })),
  };
}
