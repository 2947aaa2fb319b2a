// What one simulated run reports: its failure (if any) and a summary of what happened.
import type { HistoryCheckResult } from '../checker/linearizability.js';

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

export function emptySummary(): SimSummary {
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
