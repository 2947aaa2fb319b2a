// Flags the cases of a run whose figures should not be quoted: on a shared 2-core machine a
// baseline measured next to someone's build moves by up to 1.75x between runs (etcd put at 64
// in flight: 2,062 ops/s in one committed report, 3,603 and 3,847 on later days), and a ratio
// against it moves with it. A case is noisy when its repeats disagree (spread), or when the
// baseline system's median falls outside the range of the committed previous runs of the same
// case by more than quiet runs differ (baseline drift). Every case gets a verdict, recorded
// in the report's JSON and markdown and printed at the end of the run.
import { execFileSync } from 'node:child_process';
import { NOISY_SPREAD, median, repeatedMetric, round3 } from './repeated-runs.js';

/** Repeats whose (max - min) / median exceeds this make the case noisy. */
export const SPREAD_MAX = NOISY_SPREAD;
/**
 * A baseline median below min(history) / (1 + this) or above max(history) * (1 + this) is
 * drift: quiet runs of etcd on this machine differ by up to 25%.
 */
export const BASELINE_DRIFT_MAX = 0.25;
/** Committed previous reports read from git, newest first. */
export const HISTORY_RUNS_MAX = 10;

export type NoiseReason =
  | { readonly kind: 'spread'; readonly spread: number; readonly spreadMax: number }
  | {
      readonly kind: 'baseline-drift';
      readonly median: number;
      readonly historyMin: number;
      readonly historyMax: number;
      readonly historyRuns: number;
      readonly driftMax: number;
    };

export interface CaseNoise {
  readonly caseId: string;
  readonly system: string;
  /** The metric of each repeat (ops/s). */
  readonly values: readonly number[];
  readonly median: number;
  readonly noisy: boolean;
  readonly reasons: readonly NoiseReason[];
}

export interface HistoryRun {
  readonly reportCommit: string;
  readonly measuredCommit: string;
  readonly startedAt: string;
}

export interface NoiseReport {
  readonly metric: string;
  /** The system the others are compared with (etcd), whose median is checked against history. */
  readonly baselineSystem?: string;
  readonly flaggedCount: number;
  /** The committed runs the baseline was compared with (empty: no drift check was possible). */
  readonly history: readonly HistoryRun[];
  readonly cases: readonly CaseNoise[];
}

export interface CaseInput {
  readonly caseId: string;
  readonly system: string;
  readonly values: readonly number[];
  /** Medians of this case in committed previous runs; only for the baseline system. */
  readonly history?: readonly number[];
}

/** The verdict on one case. Pure: the unit tests drive it directly. */
export function caseNoise(input: CaseInput): CaseNoise {
  if (input.values.length === 0) throw new Error(`${input.caseId}/${input.system}: no values`);
  const reasons: NoiseReason[] = [];
  const m = repeatedMetric(input.values);
  if (input.values.length > 1 && m.spread > SPREAD_MAX)
    reasons.push({ kind: 'spread', spread: m.spread, spreadMax: SPREAD_MAX });
  const history = (input.history ?? []).filter((v) => Number.isFinite(v) && v > 0);
  if (history.length > 0) {
    const historyMin = Math.min(...history);
    const historyMax = Math.max(...history);
    if (m.median < historyMin / (1 + BASELINE_DRIFT_MAX) || m.median > historyMax * (1 + BASELINE_DRIFT_MAX))
      reasons.push({
        kind: 'baseline-drift',
        median: m.median,
        historyMin,
        historyMax,
        historyRuns: history.length,
        driftMax: BASELINE_DRIFT_MAX,
      });
  }
  return {
    caseId: input.caseId,
    system: input.system,
    values: [...input.values],
    median: m.median,
    noisy: reasons.length > 0,
    reasons,
  };
}

export function describeReason(r: NoiseReason): string {
  switch (r.kind) {
    case 'spread':
      return `repeats spread ${Math.round(r.spread * 100)}% around their median (bound ${Math.round(r.spreadMax * 100)}%)`;
    case 'baseline-drift':
      return (
        `baseline median ${Math.round(r.median)} is outside the ${r.historyRuns} committed run(s)' ` +
        `${Math.round(r.historyMin)}-${Math.round(r.historyMax)} by more than ${Math.round(r.driftMax * 100)}%`
      );
  }
}

/** One line per flagged case, or one line saying none was. */
export function noiseLines(noise: NoiseReport): string[] {
  const checked =
    `${noise.cases.length} case(s) checked` +
    (noise.baselineSystem === undefined
      ? ''
      : `; baseline ${noise.baselineSystem} compared with ${noise.history.length} committed run(s)`);
  const flagged = noise.cases.filter((c) => c.noisy);
  if (flagged.length === 0) return [`No case flagged noisy (${checked}).`];
  return [
    `**NOISY RUN**: ${flagged.length} case(s) flagged (${checked}); do not quote them, rerun on a quiet machine:`,
    ...flagged.map((c) => `**noisy** ${c.caseId} / ${c.system}: ${c.reasons.map(describeReason).join('; ')}`),
  ];
}

/** Builds the report's noise section from every case's repeats and the committed history. */
export function noiseReport(
  metric: string,
  baselineSystem: string | undefined,
  cases: readonly { caseId: string; system: string; values: readonly number[] }[],
  history: CommittedHistory,
): NoiseReport {
  const verdicts = cases.map((c) =>
    caseNoise({
      ...c,
      ...(c.system === baselineSystem
        ? { history: history.medians.get(caseKey(c.caseId, c.system)) ?? [] }
        : {}),
    }),
  );
  return {
    metric,
    ...(baselineSystem === undefined ? {} : { baselineSystem }),
    flaggedCount: verdicts.filter((c) => c.noisy).length,
    history: history.runs,
    cases: verdicts,
  };
}

export function caseKey(caseId: string, system: string): string {
  return `${caseId}/${system}`;
}

export interface CommittedHistory {
  readonly runs: readonly HistoryRun[];
  /** caseKey -> the case's median in each committed run that measured it quietly. */
  readonly medians: ReadonlyMap<string, readonly number[]>;
}

/** What a suite's committed JSON says per case: its repeats' values, keyed by caseKey. */
export type CaseValuesOf = (report: unknown) => ReadonlyMap<string, readonly number[]>;

interface StoredReport {
  readonly quick?: boolean;
  readonly facts?: { readonly commit?: string; readonly startedAt?: string };
  readonly noise?: { readonly cases?: ReadonlyArray<{ caseId: string; system: string; noisy: boolean }> };
}

/**
 * The previous full (not --quick) runs of `suite` committed under docs/benchmarks/, newest
 * first, read through git from `repoRoot`, each run once. A case a stored report itself flagged
 * noisy is left out. Without git (an exported tree: set FLOTILLA_BENCH_HISTORY_REPO to a checkout) the
 * history is empty, and the report says it compared with 0 runs.
 */
export function committedHistory(
  repoRootDefault: string,
  suite: string,
  valuesOf: CaseValuesOf,
  /** Read the history as of this revision (default HEAD): `<commit>^` for a report's own predecessors. */
  revision = 'HEAD',
): CommittedHistory {
  const repoRoot = process.env.FLOTILLA_BENCH_HISTORY_REPO ?? repoRootDefault;
  const path = `docs/benchmarks/${suite}.json`;
  const git = (args: string[]): string | undefined => {
    try {
      return execFileSync('git', ['-C', repoRoot, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 64 * 2 ** 20,
      });
    } catch {
      return undefined;
    }
  };
  const commits = (git(['log', `-n${HISTORY_RUNS_MAX}`, '--format=%h', revision, '--', path]) ?? '')
    .split('\n')
    .filter((c) => c.length > 0);
  const runs: HistoryRun[] = [];
  const medians = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const commit of commits) {
    const text = git(['show', `${commit}:${path}`]);
    if (text === undefined) continue;
    let report: StoredReport;
    try {
      report = JSON.parse(text) as StoredReport;
    } catch {
      continue;
    }
    if (report.quick === true) continue;
    // A report re-rendered or annotated in a later commit is still the same run: count it once.
    const runId = `${report.facts?.commit ?? '?'}@${report.facts?.startedAt ?? commit}`;
    if (seen.has(runId)) continue;
    seen.add(runId);
    const flagged = new Set(
      (report.noise?.cases ?? []).filter((c) => c.noisy).map((c) => caseKey(c.caseId, c.system)),
    );
    runs.push({
      reportCommit: commit,
      measuredCommit: report.facts?.commit ?? 'unknown',
      startedAt: report.facts?.startedAt ?? 'unknown',
    });
    for (const [key, values] of valuesOf(report)) {
      if (flagged.has(key) || values.length === 0) continue;
      medians.set(key, [...(medians.get(key) ?? []), round3(median(values))]);
    }
  }
  return { runs, medians };
}
