// `npm run chaos -- --faults kill-leader,partition-leader,delay --duration-s 300 --seed N`:
// a long chaos run on a fresh containerized cluster, printing the fault timeline, op
// counts, throughput, the checker's verdict and any minimal failing sub-history. Exit 0
// when the history is linearizable and no acknowledged write was lost, 1 otherwise, 2 on a
// usage error.
import { parseArgs } from 'node:util';
import { ChaosCluster, workDirOf } from './cluster.js';
import { runChaos } from './chaos-run.js';
import { NEMESES } from './nemesis.js';

process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
const USAGE = `usage: npm run chaos -- --faults a,b,... [--duration-s 300] [--seed 1] [--fault-s 8] [--quiet-s 5] [--clients 4] [--keys 4]
faults: ${Object.keys(NEMESES).join(', ')} ('partition' means every partition, 'all' every fault)`;

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0)
    throw new RangeError(`--${name} must be a positive integer, got ${value}`);
  return parsed;
}

let options;
try {
  const { values } = parseArgs({
    options: {
      faults: { type: 'string' },
      'duration-s': { type: 'string' },
      seed: { type: 'string' },
      'fault-s': { type: 'string' },
      'quiet-s': { type: 'string' },
      clients: { type: 'string' },
      keys: { type: 'string' },
    },
  });
  const names = (values.faults ?? 'all').split(',').flatMap((name) => {
    if (name === 'all') return Object.keys(NEMESES);
    if (name === 'partition') return Object.keys(NEMESES).filter((known) => known.startsWith('partition-'));
    if (!(name in NEMESES)) throw new RangeError(`unknown fault '${name}'`);
    return [name];
  });
  options = {
    faults: names,
    durationMs: integer(values['duration-s'], 300, 'duration-s') * 1000,
    seed: integer(values.seed, 1, 'seed'),
    faultMs: integer(values['fault-s'], 8, 'fault-s') * 1000,
    quietMs: integer(values['quiet-s'], 5, 'quiet-s') * 1000,
    workers: integer(values.clients, 4, 'clients'),
    keys: integer(values.keys, 4, 'keys'),
    opTimeoutMs: 2_000,
    log: (line: string) => console.log(line),
  };
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}

const runId = `cli${process.pid}`;
const cluster = await ChaosCluster.start({
  runId,
  seed: options.seed,
  workDir: workDirOf(runId),
  smallDiskSizeMiB: options.faults.includes('disk-full') ? 48 : undefined,
  log: options.log,
});
let exitCode: number;
try {
  const report = await runChaos(cluster, options);
  console.log(report.text);
  exitCode =
    report.verdict === 'linearizable' && report.lostWrites === 0 && report.phantomKeys.length === 0 ? 0 : 1;
} finally {
  await cluster.stop();
}
process.exit(exitCode);
