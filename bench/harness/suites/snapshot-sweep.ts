// Suite `snapshot-sweep`: why compaction every 10,000 entries. The snapshot suite's
// measurement (a follower killed with SIGKILL and restarted after many writes to one region)
// run once per snapshot interval, all in one run so the rows compare on the same machine
// load: restart time, Raft log kept, data directory size and write-phase time per interval,
// plus a row with snapshots off as the baseline. Flags: --intervals (default
// 1000,10000,100000), --writes N (default 250,000; quick 20,000), --in-flight N (256),
// --with-off 0|1 (default 1: add the snapshots-off row).
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import type { ModeResult } from './snapshot.js';
import { SNAPSHOTS_OFF_INTERVAL_ENTRIES, runMode } from './snapshot.js';

/** Bound on the intervals one run sweeps (each starts its own cluster). */
const INTERVALS_MAX = 8;

function parseIntervals(options: SuiteOptions): number[] {
  const intervals = listFlag(options, 'intervals', ['1000', '10000', '100000']).map((raw) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 2) throw new Error(`--intervals: '${raw}' is not an integer >= 2`);
    return n;
  });
  if (intervals.length === 0 || intervals.length > INTERVALS_MAX)
    throw new Error(`--intervals takes 1 to ${INTERVALS_MAX} values, got ${intervals.length}`);
  return intervals;
}

/** The store's default keeps 1,000 entries after a compaction; it must stay below the interval. */
const KEEP_ENTRIES_DEFAULT = 1000;
function keepEntriesFor(interval: number): number {
  return Math.max(1, Math.min(KEEP_ENTRIES_DEFAULT, Math.floor(interval / 10)));
}

const mib = (b: number): number => Math.round((b / 1024 ** 2) * 10) / 10;
const label = (r: ModeResult): string =>
  r.snapshotIntervalEntries === SNAPSHOTS_OFF_INTERVAL_ENTRIES
    ? 'never'
    : r.snapshotIntervalEntries.toLocaleString('en-US');

export async function runSnapshotSweepSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const intervals = parseIntervals(options);
  const writes = intFlag(options, 'writes', options.quick ? 20_000 : 250_000);
  const inFlight = intFlag(options, 'in-flight', 256);
  const withOff = intFlag(options, 'with-off', 1, 0) !== 0;
  const progress = new ProgressLine('snapshot-sweep');
  const results: ModeResult[] = [];
  for (const interval of intervals) {
    const keepEntries = keepEntriesFor(interval);
    const extraArgs = ['--compaction-keep-entries', String(keepEntries)];
    results.push(await runMode('snapshots on', interval, writes, inFlight, progress, extraArgs));
  }
  if (withOff) {
    results.push(await runMode('snapshots off', SNAPSHOTS_OFF_INTERVAL_ENTRIES, writes, inFlight, progress));
  }
  progress.done();
  const table: Table = {
    title: `Restart of a follower after ${writes.toLocaleString('en-US')} writes, by snapshot interval`,
    columns: [
      'snapshot every',
      'applied index',
      'log entries kept',
      'Raft log MiB',
      'data dir MiB',
      'restart → READY ms',
      'restart → caught up ms',
      'write phase s',
      'puts retried',
    ],
    align: ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: results.map((r) => [
      label(r),
      r.appliedIndex,
      r.logEntriesRetained,
      mib(r.logSizeBytes),
      mib(r.dataDirBytes),
      r.readyMs,
      r.caughtUpMs,
      r.writeSeconds,
      r.failedPuts,
    ]),
  };
  return {
    suite: 'snapshot-sweep',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline: results.map(
      (r) =>
        `Snapshot every ${label(r)}: READY ${r.readyMs} ms, caught up ${r.caughtUpMs} ms, Raft log ${mib(r.logSizeBytes)} MiB (${r.logEntriesRetained.toLocaleString('en-US')} entries), write phase ${r.writeSeconds} s.`,
    ),
    tables: [table],
    notes: [
      `Each row is the snapshot suite's measurement (bench/harness/suites/snapshot.ts) with its own fresh 3 PD + 3 stores cluster, run one after the other in this run: splits disabled (one region), writes through the SDK with coalescing off (one put, one Raft entry), ${inFlight} in flight, 16 B keys cycling over 100,000 keys, 256 B values.`,
      'A peer compacts once it applied the interval since its last compaction and keeps --compaction-keep-entries entries (the default 1,000, or a tenth of the interval when that is smaller: 100 at 1,000), so the log a restart replays is between the kept entries and interval + kept entries: the row shows where the run stopped in that cycle, not an average.',
      'The machine is shared with other engineers: compare rows of one run, and read the write phase time as load, not as the cost of compaction alone.',
    ],
    chart: {
      kind: 'bar',
      title: 'snapshot-sweep: restart time by snapshot interval (ms)',
      yLabel: 'ms',
      categories: results.map(label),
      series: [
        { name: 'restart → READY', values: results.map((r) => r.readyMs) },
        { name: 'restart → caught up', values: results.map((r) => r.caughtUpMs) },
      ],
    },
    data: { writes, inFlight, intervals, results },
  };
}
