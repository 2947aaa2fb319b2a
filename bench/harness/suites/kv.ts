// Suite `kv`: Flotilla (3 PD + 3 stores, through the SDK) beside etcd 3.4 (3 members, through
// etcd3) in one run: put at 1/16/64/256 in flight, linearizable and stale get at 1 and 64,
// YCSB A/B/C (zipf 0.99, 64 in flight). Each repeat starts both clusters fresh (one after
// the other, alternating which goes first), loads the key space and runs every case.
// Flags: --cases put-1,get-lin-64,... (default all), --systems flotilla,etcd, --keys N.
import { FlotillaCluster } from '../flotilla-cluster.js';
import { EtcdCluster } from '../etcd-cluster.js';
import { etcdTarget } from '../etcd-target.js';
import { flotillaSdkTarget } from '../flotilla-target.js';
import type { KvTarget, ReadMode } from '../kv-target.js';
import type { KeyDistribution } from '../key-chooser.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import { medianOfFields } from '../repeated-runs.js';
import { caseKey, committedHistory, noiseReport } from '../noise.js';
import type { CaseValuesOf, CommittedHistory, NoiseReport } from '../noise.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag, ratio } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import { KEYS_COUNT_DEFAULT, loadKeys, runWorkload } from '../workload.js';
import type { WorkloadCase, WorkloadResult } from '../workload.js';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const UNIFORM: KeyDistribution = { kind: 'uniform' };
const ZIPF: KeyDistribution = { kind: 'zipf', theta: 0.99 };

interface KvCase {
  readonly id: string;
  readonly label: string;
  readonly readFraction: number;
  readonly readMode: ReadMode;
  readonly distribution: KeyDistribution;
  readonly concurrency: number;
}

export const KV_CASES: readonly KvCase[] = [
  ...[1, 16, 64, 256].map((c) => ({
    id: `put-${c}`,
    label: 'put',
    readFraction: 0,
    readMode: 'linearizable' as const,
    distribution: UNIFORM,
    concurrency: c,
  })),
  ...(['linearizable', 'stale'] as const).flatMap((mode) =>
    [1, 64].map((c) => ({
      id: `get-${mode === 'linearizable' ? 'lin' : 'stale'}-${c}`,
      label: `get ${mode}`,
      readFraction: 1,
      readMode: mode,
      distribution: UNIFORM,
      concurrency: c,
    })),
  ),
  ...(
    [
      ['a', 0.5],
      ['b', 0.95],
      ['c', 1],
    ] as const
  ).map(([name, readFraction]) => ({
    id: `ycsb-${name}`,
    label: `YCSB-${name.toUpperCase()} (${Math.round(readFraction * 100)}% reads, zipf 0.99)`,
    readFraction,
    readMode: 'linearizable' as const,
    distribution: ZIPF,
    concurrency: 64,
  })),
];

export const KV_SYSTEMS = ['flotilla', 'etcd'] as const;
type System = (typeof KV_SYSTEMS)[number];

interface CaseRow {
  readonly caseId: string;
  readonly system: System;
  readonly runs: WorkloadResult[];
}

type Flat = Record<string, number>;

function flatten(r: WorkloadResult): Flat {
  return {
    opsPerSecond: r.opsPerSecond,
    errors: r.errors,
    p50Ms: r.latency.p50Ms,
    p90Ms: r.latency.p90Ms,
    p99Ms: r.latency.p99Ms,
    p999Ms: r.latency.p999Ms,
    maxMs: r.latency.maxMs,
    readP99Ms: r.readLatency.p99Ms,
    writeP99Ms: r.writeLatency.p99Ms,
    serverCpuUsPerOp: r.serverCpuUsPerOp,
    clientCpuUsPerOp: r.clientCpuUsPerOp,
  };
}

async function startSystem(
  system: System,
): Promise<{ target: KvTarget; pids: () => number[]; stop: () => Promise<void> }> {
  if (system === 'flotilla') {
    const cluster = await FlotillaCluster.startWithPd();
    const target = await flotillaSdkTarget({ pdEndpoints: cluster.pdEndpoints() });
    return {
      target,
      pids: () => cluster.serverPids(),
      stop: async () => {
        await target.close();
        await cluster.stop();
      },
    };
  }
  const cluster = await EtcdCluster.start('defaults');
  const target = etcdTarget({ name: 'etcd', clientUrls: cluster.clientUrls() });
  return {
    target,
    pids: () => cluster.serverPids(),
    stop: async () => {
      await target.close();
      await cluster.stop();
    },
  };
}

/** The ops/s of each repeat per case and system, from a stored kv report (for the noise history). */
export const kvCaseValues: CaseValuesOf = (report) => {
  const runs =
    (
      report as {
        data?: { runs?: Array<{ caseId: string; system: string; runs: Array<{ opsPerSecond: number }> }> };
      }
    ).data?.runs ?? [];
  return new Map(runs.map((r) => [caseKey(r.caseId, r.system), r.runs.map((x) => x.opsPerSecond)]));
};

export async function runKvSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const history = committedHistory(REPO_ROOT, 'kv', kvCaseValues);
  const caseIds = listFlag(
    options,
    'cases',
    KV_CASES.map((c) => c.id),
  );
  const cases = caseIds.map((id) => {
    const c = KV_CASES.find((k) => k.id === id);
    if (c === undefined)
      throw new Error(`unknown kv case '${id}'; cases: ${KV_CASES.map((k) => k.id).join(', ')}`);
    return c;
  });
  const systems = listFlag(options, 'systems', KV_SYSTEMS).map((s) => {
    if (!(KV_SYSTEMS as readonly string[]).includes(s))
      throw new Error(`--systems: flotilla and/or etcd, got '${s}'`);
    return s as System;
  });
  const keysCount = intFlag(options, 'keys', options.quick ? 1000 : KEYS_COUNT_DEFAULT, 2);
  const warmUpMs = options.quick ? 200 : 1000;
  const progress = new ProgressLine('kv');
  const rows = new Map<string, CaseRow>();
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const order = repeat % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      progress.update(`run ${repeat + 1}/${options.repeats}: starting ${system}`);
      const running = await startSystem(system);
      try {
        progress.update(`run ${repeat + 1}/${options.repeats}: ${system}: loading ${keysCount} keys`);
        await loadKeys(running.target, keysCount);
        for (const c of cases) {
          const spec: WorkloadCase = { ...c, durationMs: options.durationMs, warmUpMs };
          const result = await runWorkload(running.target, spec, {
            keysCount,
            seed: 7 + repeat,
            serverPids: running.pids,
            onProgress: (done, ms) =>
              progress.update(
                `run ${repeat + 1}/${options.repeats}: ${system} ${c.id}: ${done} ops in ${(ms / 1000).toFixed(0)} s (${Math.round((done / ms) * 1000)}/s)`,
              ),
          });
          const key = `${c.id}/${system}`;
          const row = rows.get(key) ?? { caseId: c.id, system, runs: [] };
          row.runs.push(result);
          rows.set(key, row);
          progress.update(
            `run ${repeat + 1}/${options.repeats}: ${system} ${c.id}: ${result.opsPerSecond} ops/s, p99 ${result.latency.p99Ms} ms`,
          );
        }
      } finally {
        await running.stop();
      }
    }
  }
  progress.done();
  return buildReport(
    options,
    facts,
    cases,
    systems,
    rows,
    keysCount,
    Math.round((Date.now() - startedMs) / 1000),
    history,
  );
}

function buildReport(
  options: SuiteOptions,
  facts: ReturnType<typeof machineFacts>,
  cases: readonly KvCase[],
  systems: readonly System[],
  rows: Map<string, CaseRow>,
  keysCount: number,
  durationS: number,
  history: CommittedHistory,
): SuiteReport {
  const medianOf = (caseId: string, system: System): Flat | undefined => {
    const row = rows.get(`${caseId}/${system}`);
    return row === undefined ? undefined : medianOfFields(row.runs.map(flatten));
  };
  const noise: NoiseReport = noiseReport(
    'opsPerSecond',
    'etcd',
    [...rows.values()].map((r) => ({
      caseId: r.caseId,
      system: r.system,
      values: r.runs.map((x) => x.opsPerSecond),
    })),
    history,
  );
  const noisy = (caseId: string, system: System): boolean =>
    noise.cases.some((c) => c.caseId === caseId && c.system === system && c.noisy);
  const noisyText = (caseId: string): string => systems.filter((s) => noisy(caseId, s)).join(', ') || 'no';
  const results: Table = {
    title: `Results (median of ${options.repeats} run(s), ${options.durationMs / 1000} s each)`,
    columns: [
      'case',
      'in flight',
      'system',
      'ops/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'server CPU µs/op',
      'client CPU µs/op',
      'errors',
      'runs',
    ],
    align: ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    rows: cases.flatMap((c) =>
      systems.flatMap((system) => {
        const m = medianOf(c.id, system);
        if (m === undefined) return [];
        const runs =
          rows
            .get(`${c.id}/${system}`)
            ?.runs.map((r) => r.opsPerSecond)
            .join(', ') ?? '';
        return [
          [
            c.label,
            c.concurrency,
            system,
            m.opsPerSecond as number,
            m.p50Ms as number,
            m.p90Ms as number,
            m.p99Ms as number,
            m.p999Ms as number,
            m.maxMs as number,
            m.serverCpuUsPerOp as number,
            m.clientCpuUsPerOp as number,
            m.errors as number,
            `${runs}${noisy(c.id, system) ? ' **noisy**' : ''}`,
          ],
        ];
      }),
    ),
  };
  const headline: string[] = [];
  const tables: Table[] = [results];
  if (systems.includes('flotilla') && systems.includes('etcd')) {
    const ratioRows = cases.flatMap((c) => {
      const fl = medianOf(c.id, 'flotilla');
      const et = medianOf(c.id, 'etcd');
      if (fl === undefined || et === undefined) return [];
      return [
        [
          c.label,
          c.concurrency,
          ratio(fl.opsPerSecond as number, et.opsPerSecond as number),
          fl.p99Ms as number,
          et.p99Ms as number,
          ratio(fl.p99Ms as number, et.p99Ms as number),
          ratio(fl.serverCpuUsPerOp as number, et.serverCpuUsPerOp as number),
          noisyText(c.id),
        ],
      ];
    });
    tables.push({
      title: 'Flotilla / etcd (same run)',
      columns: [
        'case',
        'in flight',
        'throughput ratio',
        'Flotilla p99 ms',
        'etcd p99 ms',
        'p99 ratio',
        'server CPU/op ratio',
        'noisy',
      ],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      rows: ratioRows,
    });
    headline.push(...targets(medianOf, (caseId) => noisyText(caseId) !== 'no'));
  }
  return {
    suite: 'kv',
    command: options.command,
    quick: options.quick,
    facts,
    durationS,
    headline,
    tables,
    notes: [
      `16 B keys from a ${keysCount.toLocaleString('en-US')}-key space loaded before the cases, 256 B values; puts and gets pick keys uniformly, YCSB mixes by scrambled zipf (θ 0.99); YCSB reads are linearizable.`,
      'Flotilla: 3 PD members + 3 stores (separate processes, LevelDB, defaults), one region, through @flotilla/sdk (coalesced BatchCommands). etcd: 3 members of Debian etcd 3.4 with default flags, through the etcd3 npm client. Both on loopback, fresh data directories each run, on the same machine as the benchmark client.',
      'Server CPU per operation: utime+stime of every server process (Flotilla: PD and stores; etcd: members) from /proc over the measured part, divided by completed operations. Client CPU: this process.',
      'A case is flagged **noisy** when its throughput repeats spread more than 25% around their median, or when the etcd baseline median lies more than 25% outside the range of the committed previous full runs of the case (bench/harness/noise.ts); a ratio with a noisy side is not a figure to quote. The machine is shared: compare within the run (ratios), not across runs.',
    ],
    noise,
    chart: {
      kind: 'bar',
      title: 'kv: operations per second (median of runs)',
      yLabel: 'ops/s',
      categories: cases.map((c) => `${c.id}`),
      series: systems.map((system) => ({
        name: system,
        values: cases.map((c) => (medianOf(c.id, system)?.opsPerSecond as number | undefined) ?? 0),
      })),
    },
    data: { cases, systems, runs: [...rows.values()] },
  };
}

function targets(
  medianOf: (caseId: string, system: System) => Flat | undefined,
  isNoisyCase: (caseId: string) => boolean,
): string[] {
  const out: string[] = [];
  const check = (caseId: string, wantRatio: number, what: string, p99TooAllowed: boolean): void => {
    const fl = medianOf(caseId, 'flotilla');
    const et = medianOf(caseId, 'etcd');
    if (fl === undefined || et === undefined) return;
    const r = ratio(fl.opsPerSecond as number, et.opsPerSecond as number);
    const p99Ok = !p99TooAllowed || (fl.p99Ms as number) <= (et.p99Ms as number);
    const met = r >= wantRatio && p99Ok;
    const p99Text = p99TooAllowed ? `, p99 ${fl.p99Ms} ms vs etcd ${et.p99Ms} ms` : '';
    out.push(
      `${what}: **${r}x** etcd (target >= ${wantRatio}x${p99TooAllowed ? ' with p99 no worse' : ''})${p99Text}: ` +
        (met
          ? '**met**'
          : `**missed**${r < wantRatio ? ` (${ratio(r, wantRatio)} of the target ratio)` : ''}${p99Ok ? '' : ` (p99 ${ratio(fl.p99Ms as number, et.p99Ms as number)}x etcd's)`}`) +
        (isNoisyCase(caseId) ? ' (**noisy**: not a figure to quote)' : ''),
    );
  };
  check('put-64', 1.5, 'put at 64 in flight', true);
  check('put-256', 2, 'put at 256 in flight', true);
  check('get-lin-64', 2, 'linearizable get at 64 in flight', false);
  return out;
}
