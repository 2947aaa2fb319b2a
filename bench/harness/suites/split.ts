// Suite `split`: write latency while a region grows past the split size (64 MiB) and splits.
// The measurement is bench/split/split-under-load.ts (`npm run bench:split`: 3 PD + 3 stores,
// writes through the SDK, 4 KiB values, latency in 1 s buckets), run as a child process; this
// suite parses its tables into JSON, the chart (p99 per second, the split marked) and the
// target check (a split raises write p99 by less than 2x). Flags pass through:
// --split-size-mib N (64; quick 4), --total-mib N (96; quick 12), --in-flight N (32),
// --split-check-interval-ms N (1000).
import { runChildBench } from '../child-bench.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import { ratio } from '../suite-options.js';
import { intFlag } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import type { SuiteReport, Table } from '../suite-report.js';

const SCRIPT = 'bench/split/split-under-load.ts';
const TARGET_P99_RATIO = 2;

export interface SplitBucket {
  readonly second: number;
  readonly writes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly regions: number;
}

export interface SplitRun {
  readonly buckets: SplitBucket[];
  /** The measures table of the script, by its row label. */
  readonly measures: Record<string, string>;
}

/** Reads the two markdown tables split-under-load.ts prints. */
export function parseSplitOutput(stdout: string): SplitRun {
  const buckets: SplitBucket[] = [];
  const measures: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('|') || line.startsWith('|---')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.length === 6 && /^\d+$/.test(cells[0] as string)) {
      const [second, writes, p50, p99, max, regions] = cells.map(Number) as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      buckets.push({ second, writes, p50Ms: p50, p99Ms: p99, maxMs: max, regions });
    } else if (cells.length === 2 && cells[0] !== 'measure')
      measures[cells[0] as string] = cells[1] as string;
  }
  if (buckets.length === 0)
    throw new Error(`${SCRIPT}: no latency buckets in its output:\n${stdout.slice(0, 2000)}`);
  return { buckets, measures };
}

function measure(run: SplitRun, prefix: string): string | undefined {
  const key = Object.keys(run.measures).find((k) => k.startsWith(prefix));
  return key === undefined ? undefined : run.measures[key];
}

export async function runSplitSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const splitSizeMiB = intFlag(options, 'split-size-mib', options.quick ? 4 : 64);
  const totalMiB = intFlag(options, 'total-mib', options.quick ? 12 : Math.round(splitSizeMiB * 1.5));
  const args = ['--split-size-mib', String(splitSizeMiB), '--total-mib', String(totalMiB)];
  for (const flag of ['in-flight', 'split-check-interval-ms']) {
    const value = options.flags[flag];
    if (typeof value === 'string') args.push(`--${flag}`, value);
  }
  const progress = new ProgressLine('split');
  const run = parseSplitOutput(await runChildBench(SCRIPT, args, progress));
  progress.done();
  const splitSecond = run.buckets.find((b) => b.regions > 1)?.second;
  const p99Before = Number.parseFloat(measure(run, 'write p99 before') ?? 'NaN');
  const p99Around = Number.parseFloat(measure(run, 'write p99 in the 3 s around') ?? 'NaN');
  const r = ratio(p99Around, p99Before);
  const headline = [
    `Time to split (bytes written crossed ${splitSizeMiB} MiB → split visible in PD): ${measure(run, 'split size crossed') ?? 'no split'}.`,
    Number.isFinite(r) && splitSecond !== undefined
      ? `Write p99 ${p99Before} ms before the split, ${p99Around} ms in the 3 s around it: **${r}x** (target < ${TARGET_P99_RATIO}x): ${r < TARGET_P99_RATIO ? '**met**' : `**missed** (${ratio(r, TARGET_P99_RATIO)}x the target ratio)`}.`
      : 'No split happened: raise --total-mib.',
  ];
  const table: Table = {
    title: 'Write latency per 1 s bucket',
    columns: ['second', 'writes', 'p50 ms', 'p99 ms', 'max ms', 'regions (PD)'],
    align: ['r', 'r', 'r', 'r', 'r', 'r'],
    rows: run.buckets.map((b) => [b.second, b.writes, b.p50Ms, b.p99Ms, b.maxMs, b.regions]),
  };
  const measuresTable: Table = {
    title: 'Measures',
    columns: ['measure', 'value'],
    rows: Object.entries(run.measures).map(([k, v]) => [k, v]),
  };
  return {
    suite: 'split',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline,
    tables: [measuresTable, table],
    notes: [
      `Measured by \`${SCRIPT} ${args.join(' ')}\`: 3 PD + 3 stores, split size ${splitSizeMiB} MiB, writes of 4 KiB values (so the size is reached in seconds) through the SDK; region count sampled from PD every 200 ms.`,
      'The machine is shared with other engineers: a bucket that landed on their load shows as a spike unrelated to the split; compare the buckets within the run.',
    ],
    chart: {
      kind: 'line',
      title: `split: write latency per second (split size ${splitSizeMiB} MiB)`,
      xLabel: 'second of the run',
      yLabel: 'ms',
      series: [
        { name: 'p99', points: run.buckets.map((b) => [b.second, b.p99Ms] as const) },
        { name: 'p50', points: run.buckets.map((b) => [b.second, b.p50Ms] as const) },
      ],
      ...(splitSecond === undefined ? {} : { markers: [{ x: splitSecond, label: 'split seen in PD' }] }),
    },
    data: { args, splitSecond, ...run },
  };
}
