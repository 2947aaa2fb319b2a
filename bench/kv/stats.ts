// Latency summaries for the benchmarks: percentiles over recorded samples (nearest rank).

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export function summarize(samplesMs: number[]): LatencySummary {
  if (samplesMs.length === 0) return { count: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  const sorted = Float64Array.from(samplesMs).sort();
  const at = (q: number): number =>
    round2(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
  return {
    count: sorted.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: round2(sorted[sorted.length - 1] as number),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
