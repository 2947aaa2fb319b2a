// Medians of repeated runs of one case, and a flag on the case when the runs disagree: on a
// shared machine a run that landed next to someone's test is common, and the median of three
// or more runs is the figure least moved by it.
export interface RepeatedMetric {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median. */
  readonly spread: number;
}

/** Runs whose main metric spreads more than this around the median make the case noisy. */
export const NOISY_SPREAD = 0.25;

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function repeatedMetric(values: readonly number[]): RepeatedMetric {
  if (values.length === 0) throw new Error('repeatedMetric needs at least one value');
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: m === 0 ? 0 : round3((max - min) / m) };
}

/** The median of each numeric field over `runs` (objects of one shape). */
export function medianOfFields<T extends Record<string, number>>(runs: readonly T[]): T {
  const first = runs[0];
  if (first === undefined) throw new Error('medianOfFields needs at least one run');
  const out: Record<string, number> = {};
  for (const key of Object.keys(first)) out[key] = round3(median(runs.map((r) => r[key] as number)));
  return out as T;
}

export function isNoisy(metric: RepeatedMetric): boolean {
  return metric.spread > NOISY_SPREAD;
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Nearest-rank percentile (q in [0, 100]) of a small sample, such as 20 failover tries. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile must be in [0, 100], got ${q}`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))] as number;
}
