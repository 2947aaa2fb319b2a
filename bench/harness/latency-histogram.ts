// Latency of operations in an HDR histogram (hdr-histogram-js), recorded in microseconds so
// that sub-millisecond loopback latencies keep three significant digits, reported in ms.
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Largest latency the histogram tracks without resizing: one minute. */
const HIGHEST_TRACKABLE_US = 60_000_000;

export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  recordMs(latencyMs: number): void {
    if (!(latencyMs >= 0)) throw new Error(`latency must be >= 0 ms, got ${latencyMs}`);
    this.histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const at = (percentile: number): number => roundMs(this.histogram.getValueAtPercentile(percentile));
    if (this.count === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    return {
      count: this.count,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: roundMs(this.histogram.maxValue),
    };
  }

  destroy(): void {
    this.histogram.destroy();
  }
}

function roundMs(microseconds: number): number {
  return Math.round(microseconds / 10) / 100;
}
