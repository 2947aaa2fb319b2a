// Command line of the multi-region cluster simulator (npm run sim:cluster -- ...):
//   --seed N      run one seed and print its summary (--verbose: its event trace too)
//   --seeds N     run N seeds starting at --from (default 1), in --workers processes
//   --ticks N     ticks of the fault phase (default 1200; heal and settle come on top)
// Prints PASS or FAIL per seed; a failure names the broken check and the command that
// replays it. The exit status is 1 if any seed failed.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RunResult } from './cluster-run.js';
import { runCluster } from './cluster-run.js';
import { DEFAULT_FAULT_TICKS } from './run-config.js';

interface CliArgs {
  seed: number | null;
  seeds: number;
  from: number;
  faultTicks: number;
  verbose: boolean;
  workers: number;
}

interface WorkerTask {
  readonly first: number;
  readonly stride: number;
  readonly count: number;
  readonly faultTicks: number;
}

const seedsMax = 1_000_000;
const workersMax = 16;
/** Marks a child process that runs a shard of seeds. */
const workerFlag = '--worker-shard';

function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = {
    seed: null,
    seeds: 0,
    from: 1,
    faultTicks: DEFAULT_FAULT_TICKS,
    verbose: false,
    workers: Math.min(availableParallelism(), workersMax),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): number => {
      const text = argv[++i];
      const parsed = Number(text);
      if (text === undefined || !Number.isSafeInteger(parsed) || parsed < 0)
        throw new Error(`${flag} needs a non-negative integer, got ${text}`);
      return parsed;
    };
    if (flag === '--seed') args.seed = value();
    else if (flag === '--seeds') args.seeds = Math.min(value(), seedsMax);
    else if (flag === '--from') args.from = value();
    else if (flag === '--ticks') args.faultTicks = Math.max(1, value());
    else if (flag === '--workers') args.workers = Math.max(1, Math.min(value(), workersMax));
    else if (flag === '--verbose') args.verbose = true;
    else
      throw new Error(
        `unknown argument ${flag} (use --seed N | --seeds N [--from N] [--ticks N] [--workers N] [--verbose])`,
      );
  }
  if (args.seed === null && args.seeds === 0) args.seed = 1;
  return args;
}

function replayCommand(seed: number, faultTicks: number): string {
  const ticks = faultTicks === DEFAULT_FAULT_TICKS ? '' : ` --ticks ${faultTicks}`;
  return `npm run sim:cluster -- --seed ${seed}${ticks}`;
}

function printResult(result: RunResult, faultTicks: number, detailed: boolean): void {
  const { failure, summary: s } = result;
  if (failure === null) console.log(`PASS seed ${result.seed} (digest ${s.traceDigest})`);
  else {
    console.log(`FAIL seed ${result.seed}: ${failure.kind} at tick ${failure.tick}: ${failure.message}`);
    console.log(`  replay: ${replayCommand(result.seed, faultTicks)} --verbose`);
  }
  if (!detailed) return;
  console.log(`  ${s.stores} stores, ${s.clients} clients, ${s.keys} keys, ${s.ticks} ticks`);
  console.log(
    `  regions at end ${s.regionsAtEnd}, splits ${s.splits}, snapshots ${s.snapshotsSent} sent / ${s.snapshotsInstalled} installed, peers ${s.peersCreated} created / ${s.peersDestroyed} destroyed`,
  );
  console.log(`  faults: ${s.faults || 'none'}; crashes ${s.crashes} (${s.powerLosses} with power loss)`);
  console.log(
    `  frames ${s.framesSent} sent / ${s.framesLost} lost; PD region reports ${s.regionReports}, operators sent ${s.operatorsSent}`,
  );
  console.log(`  operations: ${s.operations}`);
  console.log(`  linearizability: ${s.linearizability}; invariant checks ${s.invariantChecks}`);
}

async function runOne(args: CliArgs, seed: number): Promise<number> {
  const result = await runCluster({
    seed,
    faultTicks: args.faultTicks,
    trace: args.verbose ? (line) => console.log(line) : null,
  });
  printResult(result, args.faultTicks, true);
  return result.failure === null ? 0 : 1;
}

async function runMany(args: CliArgs): Promise<number> {
  const workerCount = Math.min(args.workers, args.seeds);
  const started = Date.now();
  const failures: RunResult[] = [];
  let done = 0;
  const onResult = (result: RunResult): void => {
    done++;
    if (result.failure !== null) failures.push(result);
    printResult(result, args.faultTicks, false);
  };
  const shards: WorkerTask[] = Array.from({ length: workerCount }, (_, w) => ({
    first: args.from + w,
    stride: workerCount,
    count: Math.ceil((args.seeds - w) / workerCount),
    faultTicks: args.faultTicks,
  }));
  await Promise.all(shards.map((shard) => runShard(shard, onResult)));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `ran ${done} seeds (${args.from}..${args.from + args.seeds - 1}) in ${seconds.toFixed(1)} s with ${workerCount} workers`,
  );
  if (failures.length === 0) {
    console.log('all seeds passed');
    return 0;
  }
  failures.sort((a, b) => a.seed - b.seed);
  const known = failures.filter(isKnownIssue);
  console.log(`${failures.length} failing seed(s): ${failures.map((f) => f.seed).join(' ')}`);
  console.log(
    `${known.length} of them match an open finding of FINDINGS.md (liveness): ${known.map((f) => f.seed).join(' ') || 'none'}`,
  );
  for (const failure of failures.slice(0, 20))
    console.log(`  ${replayCommand(failure.seed, args.faultTicks)}`);
  return 1;
}

/** A liveness failure the run matched to an open finding of FINDINGS.md. */
function isKnownIssue(result: RunResult): boolean {
  return result.failure?.kind === 'liveness' && result.failure.message.includes('[known issue');
}

function runShard(task: WorkerTask, onResult: (result: RunResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // A child process with the parent's flags (they load tsx).
    const child = fork(fileURLToPath(import.meta.url), [workerFlag, JSON.stringify(task)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (result: RunResult) => onResult(result));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

async function workerMain(task: WorkerTask): Promise<void> {
  for (let i = 0; i < task.count; i++) {
    const seed = task.first + i * task.stride;
    const result = await runCluster({ seed, faultTicks: task.faultTicks, trace: null });
    await new Promise<void>((resolve) => process.send?.(result, () => resolve()));
  }
}

/** Ends the process once stdout is flushed: a request abandoned by a simulated client may hold a timer. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

const argv = process.argv.slice(2);
if (argv[0] === workerFlag) {
  await workerMain(JSON.parse(argv[1] ?? '{}') as WorkerTask);
  exitAfterFlush(0);
} else {
  let args: CliArgs | null = null;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    exitAfterFlush(2);
  }
  if (args !== null) {
    const code = args.seed !== null && args.seeds === 0 ? await runOne(args, args.seed) : await runMany(args);
    exitAfterFlush(code);
  }
}
