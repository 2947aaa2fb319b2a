// Suite `regions`: idle CPU per store at 1,000 and 10,000 regions per store, hibernation on
// and off. The measurement is bench/regions/idle-cpu.ts (`npm run bench:regions`), run here as
// a child process with --json and turned into the suite's report; its own flags pass through:
// --regions 1000,10000, --modes on,off, --window-ms N, --settle-timeout-ms N, --wave-regions N.
// Quick: 200 regions, window 2 s.
import { runChildBench } from '../child-bench.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';

const SCRIPT = 'bench/regions/idle-cpu.ts';
const TARGET_CPU_PERCENT = 5;
const TARGET_REGIONS = 10_000;

interface StoreRow {
  readonly storeId: number;
  readonly cpuPercentOfCore: number;
  readonly rssMiB: number;
  readonly leaders: number;
  readonly awake: number;
  readonly framesPerSecond: number;
  readonly messagesPerSecond: number;
  readonly heartbeatsPerSecond: number;
}

interface CaseRow {
  readonly regionsPerStore: number;
  readonly hibernation: 'on' | 'off';
  readonly settled: boolean;
  readonly settledMs: number;
  readonly perStore: readonly StoreRow[];
}

export function parseIdleCpuJson(stdout: string): CaseRow[] {
  const start = stdout.indexOf('[');
  if (start < 0) throw new Error(`${SCRIPT} printed no JSON array:\n${stdout.slice(0, 2000)}`);
  const parsed: unknown = JSON.parse(stdout.slice(start));
  if (!Array.isArray(parsed)) throw new Error(`${SCRIPT}: expected a JSON array`);
  for (const row of parsed as CaseRow[]) {
    if (typeof row.regionsPerStore !== 'number' || !Array.isArray(row.perStore))
      throw new Error(`${SCRIPT}: unexpected row ${JSON.stringify(row).slice(0, 300)}`);
  }
  return parsed as CaseRow[];
}

export async function runRegionsSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const regions = listFlag(options, 'regions', options.quick ? ['200'] : ['1000', '10000']);
  const modes = listFlag(options, 'modes', ['on', 'off']);
  const windowMs = intFlag(options, 'window-ms', options.quick ? 2000 : 10_000);
  const args = [
    '--json',
    '--regions',
    regions.join(','),
    '--modes',
    modes.join(','),
    '--window-ms',
    String(windowMs),
  ];
  for (const flag of ['settle-timeout-ms', 'wave-regions']) {
    const value = options.flags[flag];
    if (typeof value === 'string') args.push(`--${flag}`, value);
  }
  const progress = new ProgressLine('regions');
  const rows = parseIdleCpuJson(await runChildBench(SCRIPT, args, progress));
  progress.done();
  const table: Table = {
    title: 'Idle CPU per store',
    columns: [
      'regions per store',
      'hibernation',
      'settled',
      'store',
      'CPU % of a core',
      'RSS MiB',
      'leaders',
      'awake regions',
      'frames/s',
      'messages/s',
      'heartbeats/s',
    ],
    align: ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: rows.flatMap((r) =>
      r.perStore.map((s) => [
        r.regionsPerStore,
        r.hibernation,
        r.settled ? `${Math.round(r.settledMs / 1000)} s` : 'not settled',
        s.storeId,
        s.cpuPercentOfCore,
        s.rssMiB,
        s.leaders,
        s.awake,
        s.framesPerSecond,
        s.messagesPerSecond,
        s.heartbeatsPerSecond,
      ]),
    ),
  };
  const worst = (r: CaseRow): number => Math.max(...r.perStore.map((s) => s.cpuPercentOfCore));
  const headline = rows
    .filter((r) => r.hibernation === 'on')
    .map((r) => {
      const cpu = worst(r);
      const where = `${r.regionsPerStore.toLocaleString('en-US')} regions per store, hibernation on: worst store ${cpu}% of a core`;
      if (r.regionsPerStore < TARGET_REGIONS)
        return `${where} (the target, < ${TARGET_CPU_PERCENT}%, is set at ${TARGET_REGIONS.toLocaleString('en-US')}).`;
      const verdict = !r.settled
        ? '**not measured** (the regions never settled)'
        : cpu < TARGET_CPU_PERCENT
          ? '**met**'
          : `**missed** by ${Math.round((cpu - TARGET_CPU_PERCENT) * 10) / 10} points`;
      return `${where} (target < ${TARGET_CPU_PERCENT}%): ${verdict}.`;
    });
  return {
    suite: 'regions',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline,
    tables: [table],
    notes: [
      `Measured by \`${SCRIPT}\` (see its header and docs/benchmarks.md "Many regions per store"): 3 store processes holding a peer of every region, CPU from /proc/<pid>/stat over a ${windowMs / 1000} s window once every region has a leader (and sleeps, with hibernation).`,
      'The machine is shared with other engineers; idle CPU is the figure most moved by their load.',
    ],
    chart: {
      kind: 'bar',
      title: 'regions: idle CPU per store (% of a core, worst store)',
      yLabel: '% of a core',
      categories: [...new Set(rows.map((r) => `${r.regionsPerStore} regions`))],
      series: ['on', 'off']
        .filter((m) => rows.some((r) => r.hibernation === m))
        .map((m) => ({
          name: `hibernation ${m}`,
          values: [...new Set(rows.map((r) => r.regionsPerStore))].map((n) => {
            const row = rows.find((r) => r.regionsPerStore === n && r.hibernation === m);
            return row === undefined ? 0 : worst(row);
          }),
        })),
    },
    data: { args, results: rows },
  };
}
