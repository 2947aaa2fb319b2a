// `npm run bench -- <suite> [options]`: runs one benchmark suite (it starts and tears down
// what it measures), prints a summary table and writes docs/benchmarks/<suite>.{json,md,svg}.
// Suites: kv, failover, reads, snapshot, snapshot-sweep, split, regions, leveldb, bootstrap.
// Common options: --quick (short, one repetition: a smoke run), --repeats N, --duration-ms N
// (per case), --out-dir DIR (default docs/benchmarks). Suite flags are listed in each
// suite's file under bench/harness/suites/.
import { fileURLToPath } from 'node:url';
import type { SuiteOptions } from './suite-options.js';
import type { SuiteReport } from './suite-report.js';
import { summaryText, writeSuiteReport } from './suite-report.js';
import { teardownAll } from './teardown.js';
import { runKvSuite } from './suites/kv.js';
import { runFailoverSuite } from './suites/failover.js';
import { runReadsSuite } from './suites/reads.js';
import { runSnapshotSuite } from './suites/snapshot.js';
import { runSnapshotSweepSuite } from './suites/snapshot-sweep.js';
import { runSplitSuite } from './suites/split.js';
import { runRegionsSuite } from './suites/regions.js';
import { runLevelDbSuite } from './suites/leveldb.js';
import { runBootstrapSuite } from './suites/bootstrap.js';

const SUITES: Record<string, (options: SuiteOptions) => Promise<SuiteReport>> = {
  kv: runKvSuite,
  failover: runFailoverSuite,
  reads: runReadsSuite,
  snapshot: runSnapshotSuite,
  'snapshot-sweep': runSnapshotSweepSuite,
  split: runSplitSuite,
  regions: runRegionsSuite,
  leveldb: runLevelDbSuite,
  bootstrap: runBootstrapSuite,
};

const DEFAULT_OUT_DIR = fileURLToPath(new URL('../../docs/benchmarks', import.meta.url));

function usage(): string {
  return `usage: npm run bench -- <${Object.keys(SUITES).join('|')}> [--quick] [--repeats N] [--duration-ms N] [--out-dir DIR] [suite flags]`;
}

/** Flags that take no value; every other --flag takes one (`--name value` or `--name=value`). */
const BOOLEAN_FLAGS = new Set(['quick']);
/** Bound on the number of arguments parsed. */
const ARGS_MAX = 200;

function parseSuiteArgs(argv: readonly string[]): { suite: string; options: SuiteOptions } {
  if (argv.length > ARGS_MAX) throw new Error(`more than ${ARGS_MAX} arguments`);
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (BOOLEAN_FLAGS.has(name)) flags[name] = true;
    else if (eq >= 0) flags[name] = arg.slice(eq + 1);
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw new Error(`--${name} needs a value\n${usage()}`);
      flags[name] = value;
      i++;
    }
  }
  const suite = positionals[0];
  if (suite === undefined || SUITES[suite] === undefined || positionals.length > 1) throw new Error(usage());
  const quick = flags.quick === true;
  const num = (name: string, fallback: number): number => {
    const raw = flags[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isSafeInteger(n) || n < 1)
      throw new Error(`--${name} must be a positive integer, got '${String(raw)}'`);
    return n;
  };
  return {
    suite,
    options: {
      quick,
      outDir: typeof flags['out-dir'] === 'string' ? flags['out-dir'] : DEFAULT_OUT_DIR,
      repeats: num('repeats', quick ? 1 : 3),
      durationMs: num('duration-ms', quick ? 1000 : 5000),
      flags,
      command: `npm run bench -- ${argv.join(' ')}`,
    },
  };
}

async function main(): Promise<void> {
  const { suite, options } = parseSuiteArgs(process.argv.slice(2));
  const run = SUITES[suite] as (options: SuiteOptions) => Promise<SuiteReport>;
  try {
    const report = await run(options);
    const files = await writeSuiteReport(report, options.outDir);
    console.log(summaryText(report));
    console.log(`\nwrote ${[files.json, files.md, files.svg].filter((f) => f !== undefined).join(', ')}`);
  } finally {
    await teardownAll();
  }
}

await main();
