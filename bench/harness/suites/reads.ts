// Suite `reads`: what a linearizable read costs by the way it is made, under YCSB-B (95%
// reads, 5% puts, zipf 0.99): ReadIndex (the leader confirms its leadership with a heartbeat
// round, then reads), through the log (a read entry proposed, committed and applied like a
// write), and lease reads (the leader reads inside its lease, no round trip).
// By default the SDK drives all three modes against a PD cluster of 3 stores (one region):
// the way applications read, with requests coalesced into BatchCommands frames, so the
// servers' CPU goes to the read path rather than to one gRPC call per read. `--client unary`
// drives a static cluster through the unary Kv client instead (one call per operation).
// Modes alternate within each repeat, at each concurrency (one table each: at 1 in flight
// the read path's own latency shows, at 64 the queueing of a loaded cluster). Flags:
// --concurrency 1,64 (default), --modes linearizable,log,lease, --keys N, --client sdk|unary.
import { FlotillaCluster } from '../flotilla-cluster.js';
import { flotillaSdkTarget, flotillaUnaryTarget } from '../flotilla-target.js';
import type { KvTarget } from '../kv-target.js';
import type { ReadMode } from '../kv-target.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import { medianOfFields } from '../repeated-runs.js';
import { noiseReport } from '../noise.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag, ratio } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import { KEYS_COUNT_DEFAULT, loadKeys, runWorkload } from '../workload.js';
import type { WorkloadResult } from '../workload.js';

const MODES = ['linearizable', 'log', 'lease'] as const;
type Mode = (typeof MODES)[number];
const MODE_LABEL: Record<Mode, string> = {
  linearizable: 'ReadIndex (linearizable)',
  log: 'through the log',
  lease: 'lease read',
};

export async function runReadsSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const concurrencies = listFlag(options, 'concurrency', ['1', '64']).map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 4096)
      throw new Error(`--concurrency: integers from 1 to 4096, comma-separated; got '${c}'`);
    return n;
  });
  const keysCount = intFlag(options, 'keys', options.quick ? 1000 : KEYS_COUNT_DEFAULT, 2);
  const modes = listFlag(options, 'modes', MODES).map((m) => {
    if (!(MODES as readonly string[]).includes(m))
      throw new Error(`--modes: ${MODES.join(', ')}; got '${m}'`);
    return m as Mode;
  });
  const clientKind = options.flags.client ?? 'sdk';
  if (clientKind !== 'sdk' && clientKind !== 'unary')
    throw new Error(`--client: sdk or unary; got '${String(clientKind)}'`);
  const progress = new ProgressLine('reads');
  const runKey = (concurrency: number, mode: Mode): string => `${concurrency}/${mode}`;
  const runs = new Map<string, WorkloadResult[]>();
  for (const c of concurrencies) for (const m of modes) runs.set(runKey(c, m), []);
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    progress.update(`run ${repeat + 1}/${options.repeats}: starting 3 stores`);
    const cluster =
      clientKind === 'sdk' ? await FlotillaCluster.startWithPd() : await FlotillaCluster.startStatic();
    const target: KvTarget =
      clientKind === 'sdk'
        ? await flotillaSdkTarget({ pdEndpoints: cluster.pdEndpoints() })
        : flotillaUnaryTarget(cluster.stores.addresses);
    try {
      progress.update(`run ${repeat + 1}/${options.repeats}: loading ${keysCount} keys`);
      await loadKeys(target, keysCount);
      const order = repeat % 2 === 0 ? modes : [...modes].reverse();
      for (const concurrency of concurrencies)
        for (const mode of order) {
          const result = await runWorkload(
            target,
            {
              label: `YCSB-B ${mode}`,
              readFraction: 0.95,
              readMode: mode as ReadMode,
              distribution: { kind: 'zipf', theta: 0.99 },
              concurrency,
              durationMs: options.durationMs,
              warmUpMs: options.quick ? 200 : 1000,
            },
            {
              keysCount,
              seed: 11 + repeat,
              serverPids: () => cluster.serverPids(),
              onProgress: (done, ms) =>
                progress.update(
                  `run ${repeat + 1}/${options.repeats}: ${mode} at ${concurrency}: ${done} ops in ${(ms / 1000).toFixed(0)} s`,
                ),
            },
          );
          runs.get(runKey(concurrency, mode))?.push(result);
          progress.update(
            `run ${repeat + 1}/${options.repeats}: ${mode} at ${concurrency}: read p99 ${result.readLatency.p99Ms} ms`,
          );
        }
    } finally {
      await target.close();
      await cluster.stop();
    }
  }
  progress.done();
  const med = (concurrency: number, mode: Mode): Record<string, number> =>
    medianOfFields(
      (runs.get(runKey(concurrency, mode)) ?? []).map((r) => ({
        opsPerSecond: r.opsPerSecond,
        readP50Ms: r.readLatency.p50Ms,
        readP90Ms: r.readLatency.p90Ms,
        readP99Ms: r.readLatency.p99Ms,
        readP999Ms: r.readLatency.p999Ms,
        writeP99Ms: r.writeLatency.p99Ms,
        serverCpuUsPerOp: r.serverCpuUsPerOp,
        errors: r.errors,
      })),
    );
  // Flotilla's read paths only: no baseline system, so the repeats' spread is the check.
  const noise = noiseReport(
    'opsPerSecond',
    undefined,
    concurrencies.flatMap((concurrency) =>
      modes.map((mode) => ({
        caseId: `${mode}-${concurrency}`,
        system: 'flotilla',
        values: (runs.get(runKey(concurrency, mode)) ?? []).map((r) => r.opsPerSecond),
      })),
    ),
    { runs: [], medians: new Map() },
  );
  const tableAt = (concurrency: number): Table => ({
    title: `YCSB-B, ${concurrency} in flight, median of ${options.repeats} run(s) of ${options.durationMs / 1000} s`,
    columns: [
      'read path',
      'ops/s',
      'read p50 ms',
      'read p90 ms',
      'read p99 ms',
      'read p99.9 ms',
      'write p99 ms',
      'server CPU µs/op',
      'errors',
      'runs (ops/s)',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    rows: modes.map((mode) => {
      const m = med(concurrency, mode);
      const list = runs.get(runKey(concurrency, mode)) ?? [];
      const noisy = noise.cases.some((c) => c.caseId === `${mode}-${concurrency}` && c.noisy);
      return [
        MODE_LABEL[mode],
        m.opsPerSecond as number,
        m.readP50Ms as number,
        m.readP90Ms as number,
        m.readP99Ms as number,
        m.readP999Ms as number,
        m.writeP99Ms as number,
        m.serverCpuUsPerOp as number,
        m.errors as number,
        `${list.map((r) => r.opsPerSecond).join(', ')}${noisy ? ' **noisy**' : ''}`,
      ];
    }),
  });
  const headline: string[] = [];
  for (const concurrency of concurrencies) {
    const at = `at ${concurrency} in flight`;
    if (modes.includes('linearizable') && modes.includes('log')) {
      const ri = med(concurrency, 'linearizable').readP99Ms as number;
      const log = med(concurrency, 'log').readP99Ms as number;
      const r = ratio(ri, log);
      headline.push(
        `${at}: ReadIndex read p99 ${ri} ms vs log read p99 ${log} ms: **${r}** of it (target <= 0.33): ` +
          (r <= 1 / 3 ? '**met**' : `**missed** (${ratio(r, 1 / 3)}x the target ratio)`),
      );
    }
    if (modes.includes('lease') && modes.includes('linearizable'))
      headline.push(
        `${at}: lease read p99 ${med(concurrency, 'lease').readP99Ms} ms vs ReadIndex ${med(concurrency, 'linearizable').readP99Ms} ms.`,
      );
  }
  return {
    suite: 'reads',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline,
    tables: concurrencies.map(tableAt),
    noise,
    notes: [
      clientKind === 'sdk'
        ? `3 store processes and 3 PD members (one region, defaults), the SDK (coalesced BatchCommands streams) from this process; ${keysCount.toLocaleString('en-US')} keys of 16 B loaded first, 256 B values, zipf 0.99 (scrambled).`
        : `3 store processes (static cluster, one region, defaults), the unary Kv client (server/src/cli/kv-client.ts; one gRPC call per operation) from this process; ${keysCount.toLocaleString('en-US')} keys of 16 B loaded first, 256 B values, zipf 0.99 (scrambled).`,
      'Modes run one after the other on the same cluster, alternating order between repeats. The machine is shared with other engineers: compare the modes within the run.',
    ],
    chart: {
      kind: 'bar',
      title: 'reads: YCSB-B read latency by read path (ms)',
      yLabel: 'ms',
      categories: concurrencies.flatMap((c) => modes.map((m) => `${MODE_LABEL[m]}, ${c} in flight`)),
      series: [
        {
          name: 'read p50',
          values: concurrencies.flatMap((c) => modes.map((m) => med(c, m).readP50Ms as number)),
        },
        {
          name: 'read p99',
          values: concurrencies.flatMap((c) => modes.map((m) => med(c, m).readP99Ms as number)),
        },
      ],
    },
    data: { client: clientKind, concurrencies, keysCount, modes, runs: Object.fromEntries(runs) },
  };
}
