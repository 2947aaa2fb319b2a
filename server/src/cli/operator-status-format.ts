// How `flotilla status` prints PD's operators (GetOperators): one summary line with the
// running count of each kind against its limit, then the operators in flight and the most
// recent finished ones — kind, region, stores moved from and to, step, age, outcome.
import { pdpb } from '@flotilla/proto';

/** Finished operators printed (the newest); PD keeps more (--operator-history-max). */
export const FINISHED_OPERATORS_SHOWN_MAX = 10;

function seconds(ms: bigint): string {
  return `${(Number(ms) / 1000).toFixed(1)} s`;
}

function stores(ids: readonly bigint[]): string {
  return ids.length === 0 ? '-' : ids.map(String).join(',');
}

function outcome(status: pdpb.OperatorStatus): string {
  switch (status) {
    case pdpb.OperatorStatus.RUNNING:
      return 'running';
    case pdpb.OperatorStatus.SUCCEEDED:
      return 'succeeded';
    case pdpb.OperatorStatus.TIMED_OUT:
      return 'timed out';
    case pdpb.OperatorStatus.CANCELLED:
      return 'cancelled';
    default:
      return `status ${String(status)}`;
  }
}

function operatorLine(op: pdpb.OperatorInfo): string {
  const head = `  #${op.id} ${op.kind} region ${op.regionId} store ${stores(op.fromStoreIds)} -> ${stores(op.toStoreIds)}`;
  if (op.status === pdpb.OperatorStatus.RUNNING) {
    const step = op.steps[op.stepIndex] ?? 'done';
    return `${head}  step ${op.stepIndex + 1}/${op.steps.length} ${step}  age ${seconds(op.ageMs)}  (${op.description})`;
  }
  const endedAgoMs = op.ageMs - op.durationMs;
  return `${head}  ${outcome(op.status)} after ${seconds(op.durationMs)}, ${seconds(endedAgoMs)} ago  (${op.description})`;
}

export function formatOperatorStatus(res: pdpb.GetOperatorsResponse): string[] {
  const limits = res.limits.map((l) => `${l.kind} ${l.runningCount}/${l.limit}`).join(', ');
  const lines = [
    `operators: ${res.running.length} running (${limits}), ${res.finished.length} finished recently`,
  ];
  for (const op of res.running) lines.push(operatorLine(op));
  for (const op of res.finished.slice(-FINISHED_OPERATORS_SHOWN_MAX)) lines.push(operatorLine(op));
  return lines;
}
