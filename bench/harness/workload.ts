// The workload generator: N workers keep one operation each in flight against a KvTarget for
// a fixed time, choosing keys from one seeded chooser (uniform or zipf) and reads vs writes
// by a fixed fraction (YCSB A = 50% reads, B = 95%, C = 100%; a put case is 0%). Latency goes
// to HDR histograms, per kind; server CPU per operation comes from /proc of the server pids.
import { performance } from 'node:perf_hooks';
import { keyChooser, keyOf, seededRandom } from './key-chooser.js';
import type { KeyDistribution } from './key-chooser.js';
import type { KvTarget, ReadMode } from './kv-target.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { LatencySummary } from './latency-histogram.js';
import { CpuMeter } from './process-cpu.js';

export const VALUE_BYTES = 256;
export const KEYS_COUNT_DEFAULT = 10_000;
/** Largest number of operations in flight a case may ask for. */
export const CONCURRENCY_MAX = 1024;
/** Errors in a row after which a case stops: the target is down, not slow. */
const CONSECUTIVE_ERRORS_MAX = 10_000;

export interface WorkloadCase {
  /** Row label, e.g. 'put', 'get linearizable', 'YCSB-A'. */
  readonly label: string;
  /** Share of operations that are reads, in [0, 1]. */
  readonly readFraction: number;
  readonly readMode: ReadMode;
  readonly distribution: KeyDistribution;
  readonly concurrency: number;
  readonly durationMs: number;
  /** Run the same loop this long first, unrecorded (JIT, connections, caches). */
  readonly warmUpMs: number;
}

export interface WorkloadResult {
  readonly opsPerSecond: number;
  readonly errors: number;
  readonly latency: LatencySummary;
  readonly readLatency: LatencySummary;
  readonly writeLatency: LatencySummary;
  /** CPU of every server process per completed operation, in microseconds. */
  readonly serverCpuUsPerOp: number;
  /** CPU of the benchmark process (client library and generator) per operation. */
  readonly clientCpuUsPerOp: number;
}

export interface RunOptions {
  readonly keysCount: number;
  readonly seed: number;
  /** Pids whose CPU is the server's (read at the start of the measured part). */
  readonly serverPids: () => number[];
  /** Called about once a second with completed operations so far. */
  readonly onProgress?: (completed: number, elapsedMs: number) => void;
}

export const VALUE = Buffer.alloc(VALUE_BYTES, 0x76);

export function validateCase(c: WorkloadCase): void {
  if (!(c.readFraction >= 0 && c.readFraction <= 1))
    throw new Error(`${c.label}: readFraction must be in [0, 1]`);
  if (!Number.isSafeInteger(c.concurrency) || c.concurrency < 1 || c.concurrency > CONCURRENCY_MAX)
    throw new Error(`${c.label}: concurrency must be an integer in [1, ${CONCURRENCY_MAX}]`);
  if (!Number.isSafeInteger(c.durationMs) || c.durationMs < 100)
    throw new Error(`${c.label}: durationMs must be an integer >= 100`);
}

/** Writes every key once (so reads find values), `concurrency` puts in flight. */
export async function loadKeys(target: KvTarget, keysCount: number, concurrency = 64): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keysCount) await target.put(keyOf(next++), VALUE);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function runWorkload(
  target: KvTarget,
  c: WorkloadCase,
  options: RunOptions,
): Promise<WorkloadResult> {
  validateCase(c);
  if (c.readFraction > 0 && !target.readModes.includes(c.readMode))
    throw new Error(`${target.name} has no '${c.readMode}' reads`);
  if (c.warmUpMs > 0) await drive(target, c, c.warmUpMs, options, undefined);
  const histograms = {
    all: new LatencyHistogram(),
    reads: new LatencyHistogram(),
    writes: new LatencyHistogram(),
  };
  try {
    const cpu = new CpuMeter(options.serverPids());
    const { completed, errors, elapsedMs } = await drive(target, c, c.durationMs, options, histograms);
    const { serverCpuMs, clientCpuMs } = cpu.elapsed();
    const perOpUs = (ms: number): number => (completed === 0 ? 0 : Math.round((ms * 1000) / completed));
    return {
      opsPerSecond: Math.round((completed / elapsedMs) * 1000),
      errors,
      latency: histograms.all.summary(),
      readLatency: histograms.reads.summary(),
      writeLatency: histograms.writes.summary(),
      serverCpuUsPerOp: perOpUs(serverCpuMs),
      clientCpuUsPerOp: perOpUs(clientCpuMs),
    };
  } finally {
    histograms.all.destroy();
    histograms.reads.destroy();
    histograms.writes.destroy();
  }
}

interface Histograms {
  readonly all: LatencyHistogram;
  readonly reads: LatencyHistogram;
  readonly writes: LatencyHistogram;
}

async function drive(
  target: KvTarget,
  c: WorkloadCase,
  durationMs: number,
  options: RunOptions,
  histograms: Histograms | undefined,
): Promise<{ completed: number; errors: number; elapsedMs: number }> {
  const keys = keyChooser(c.distribution, options.keysCount, options.seed);
  const coin = seededRandom(options.seed ^ 0x5eed);
  const startedMs = performance.now();
  const endMs = startedMs + durationMs;
  let completed = 0;
  let errors = 0;
  let errorsInRow = 0;
  const progress =
    options.onProgress === undefined || histograms === undefined
      ? undefined
      : setInterval(() => options.onProgress?.(completed, performance.now() - startedMs), 1000);
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs && errorsInRow < CONSECUTIVE_ERRORS_MAX) {
      const key = keyOf(keys.next());
      const isRead = c.readFraction === 1 || (c.readFraction > 0 && coin() < c.readFraction);
      const t0 = performance.now();
      try {
        if (isRead) await target.get(key, c.readMode);
        else await target.put(key, VALUE);
      } catch {
        errors++;
        errorsInRow++;
        continue;
      }
      errorsInRow = 0;
      const latencyMs = performance.now() - t0;
      completed++;
      if (histograms !== undefined) {
        histograms.all.recordMs(latencyMs);
        (isRead ? histograms.reads : histograms.writes).recordMs(latencyMs);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: c.concurrency }, worker));
  } finally {
    if (progress !== undefined) clearInterval(progress);
  }
  if (errorsInRow >= CONSECUTIVE_ERRORS_MAX)
    throw new Error(`${target.name} ${c.label}: ${CONSECUTIVE_ERRORS_MAX} errors in a row, giving up`);
  return { completed, errors, elapsedMs: performance.now() - startedMs };
}
