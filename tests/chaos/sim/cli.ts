// Command line of the simulator (npm run sim -- ...):
//   --seed N          replay one seed exactly and print its summary (--verbose: the event trace)
//   --seeds N         run N seeds starting at --from (default 1), in --workers processes
//   --ticks N         ticks of the fault phase (default 1500; the settle phase comes on top)
//   --sabotage KIND   plant a known bug in the nodes (ignoreMustSync, serveReadsEarly, dropReadStates)
// Any failure prints the seed and the command that replays it, and the exit status is 1.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defaultSimOptions, runSimulation } from './cluster-sim.js';
import type { SimResult } from './cluster-sim.js';
import { sabotageKinds } from './sim-node.js';
import type { Sabotage } from './sim-node.js';

interface CliArgs {
  seed: number | null;
  seeds: number;
  from: number;
  faultTicks: number;
  verbose: boolean;
  workers: number;
  sabotage: Sabotage;
}

/** A shard of seeds: first, first + stride, ... (count of them). */
interface WorkerTask {
  readonly first: number;
  readonly stride: number;
  readonly count: number;
  readonly faultTicks: number;
  readonly sabotage: Sabotage;
}

/** Bound on seeds in one batch run. */
const seedsMax = 10_000_000;
const workersMax = 16;
const progressIntervalMs = 2000;
/** Marks a child process that runs a shard of seeds for runMany. */
const workerFlag = '--worker-shard';

function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = {
    seed: null,
    seeds: 0,
    from: 1,
    faultTicks: defaultSimOptions.faultTicks,
    verbose: false,
    workers: Math.min(availableParallelism(), workersMax),
    sabotage: 'none',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): number => {
      const text = argv[++i];
      const parsed = Number(text);
      if (text === undefined || !Number.isSafeInteger(parsed) || parsed < 0) {
        throw new Error(`${flag} needs a non-negative integer, got ${text}`);
      }
      return parsed;
    };
    if (flag === '--seed') args.seed = value();
    else if (flag === '--seeds') args.seeds = Math.min(value(), seedsMax);
    else if (flag === '--from') args.from = value();
    else if (flag === '--ticks') args.faultTicks = Math.max(1, value());
    else if (flag === '--workers') args.workers = Math.max(1, Math.min(value(), workersMax));
    else if (flag === '--verbose') args.verbose = true;
    else if (flag === '--sabotage') args.sabotage = parseSabotage(argv[++i]);
    else
      throw new Error(
        `unknown argument ${flag} (use --seed N | --seeds N [--from N] [--ticks N] [--workers N] [--verbose] [--sabotage KIND])`,
      );
  }
  if (args.seed === null && args.seeds === 0) args.seed = 1;
  return args;
}

function parseSabotage(text: string | undefined): Sabotage {
  const kind = sabotageKinds.find((candidate) => candidate === text);
  if (kind === undefined) throw new Error(`--sabotage needs one of ${sabotageKinds.join(', ')}, got ${text}`);
  return kind;
}

function replayCommand(seed: number, args: Pick<CliArgs, 'faultTicks' | 'sabotage'>): string {
  const ticks = args.faultTicks === defaultSimOptions.faultTicks ? '' : ` --ticks ${args.faultTicks}`;
  const sabotage = args.sabotage === 'none' ? '' : ` --sabotage ${args.sabotage}`;
  return `npm run sim -- --seed ${seed}${ticks}${sabotage}`;
}

function printFailure(result: SimResult, args: Pick<CliArgs, 'faultTicks' | 'sabotage'>): void {
  const failure = result.failure;
  if (failure === null) return;
  console.log(`FAIL seed ${result.seed} (${failure.kind} at tick ${failure.tick}): ${failure.message}`);
  console.log(`  replay: ${replayCommand(result.seed, args)} --verbose`);
}

function runOne(args: CliArgs, seed: number): number {
  const result = runSimulation({
    ...defaultSimOptions,
    seed,
    faultTicks: args.faultTicks,
    sabotage: args.sabotage,
    traceSink: args.verbose ? (line) => console.log(line) : null,
  });
  const s = result.summary;
  console.log(`seed ${seed}: ${result.failure === null ? 'ok' : 'FAILED'}`);
  console.log(
    `  ticks ${s.ticks}, leaders elected ${s.leadersElected}, entries committed ${s.entriesCommitted}`,
  );
  console.log(
    `  snapshots sent ${s.snapshotsSent} (installed ${s.snapshotsInstalled}), conf changes ${s.confChangesApplied} applied / ${s.confChangesProposed} proposed, leader transfers ${s.leaderTransfers}`,
  );
  console.log(
    `  crashes ${s.crashes}, faults ${s.faultsFired}, messages ${s.messagesSent} sent / ${s.messagesDropped} dropped, disk syncs ${s.diskSyncs}`,
  );
  console.log(
    `  ops checked ${s.opsChecked} (puts ${s.putsOk} ok + ${s.putsUnknown} unknown, reads ${s.readsSafe} safe + ${s.readsLease} lease; ${s.readsStale} stale reads unchecked): ${s.linearizability}`,
  );
  console.log(
    `  invariant checks ${s.invariantChecks}, trace events ${s.traceEvents}, trace digest ${s.traceDigest}`,
  );
  printFailure(result, args);
  return result.failure === null ? 0 : 1;
}

async function runMany(args: CliArgs): Promise<number> {
  const seedCount = args.seeds;
  const workerCount = Math.min(args.workers, seedCount);
  const started = Date.now();
  let done = 0;
  let lastProgress = started;
  let linearizabilityUnknown = 0;
  const failures: SimResult[] = [];
  const onResult = (result: SimResult): void => {
    done++;
    if (result.summary.linearizability === 'unknown') linearizabilityUnknown++;
    if (result.failure !== null) {
      failures.push(result);
      printFailure(result, args);
    }
    const now = Date.now();
    if (now - lastProgress >= progressIntervalMs || done === seedCount) {
      lastProgress = now;
      const rate = (done / Math.max(now - started, 1)) * 1000;
      console.log(`${done}/${seedCount} seeds, ${failures.length} failed, ${rate.toFixed(1)} seeds/s`);
    }
  };
  const shards: WorkerTask[] = Array.from({ length: workerCount }, (_, w) => ({
    first: args.from + w,
    stride: workerCount,
    count: Math.ceil((seedCount - w) / workerCount),
    faultTicks: args.faultTicks,
    sabotage: args.sabotage,
  }));
  await Promise.all(shards.map((shard) => runShard(shard, onResult)));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `ran ${done} seeds (${args.from}..${args.from + args.seeds - 1}) in ${seconds.toFixed(1)} s with ${workerCount} workers`,
  );
  if (linearizabilityUnknown > 0) {
    console.log(
      `${linearizabilityUnknown} seed(s) hit the linearizability search bound (outcome unknown, not a failure)`,
    );
  }
  if (failures.length === 0) {
    console.log('all seeds passed');
    return 0;
  }
  failures.sort((a, b) => a.seed - b.seed);
  console.log(`${failures.length} failing seed(s): ${failures.map((f) => f.seed).join(' ')}`);
  for (const failure of failures.slice(0, 20)) console.log(`  ${replayCommand(failure.seed, args)}`);
  return 1;
}

function runShard(task: WorkerTask, onResult: (result: SimResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // A child process with the parent's flags (they load tsx); worker threads would not get the loader.
    const child = fork(fileURLToPath(import.meta.url), [workerFlag, JSON.stringify(task)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (result: SimResult) => onResult(result));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

function workerMain(task: WorkerTask): void {
  for (let i = 0; i < task.count; i++) {
    const seed = task.first + i * task.stride;
    const result = runSimulation({
      ...defaultSimOptions,
      seed,
      faultTicks: task.faultTicks,
      sabotage: task.sabotage,
    });
    process.send?.(result);
  }
  process.disconnect?.();
}

const argv = process.argv.slice(2);
if (argv[0] === workerFlag) {
  workerMain(JSON.parse(argv[1] ?? '{}') as WorkerTask);
} else {
  // Set the exit code and let the process end on its own: process.exit() would cut off
  // output still queued for a pipe (a long --verbose trace).
  let args: CliArgs | null = null;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  }
  if (args !== null) {
    process.exitCode = args.seed !== null && args.seeds === 0 ? runOne(args, args.seed) : await runMany(args);
  }
}
