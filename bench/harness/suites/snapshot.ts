// Suite `snapshot`: how long a store takes to serve again after a restart once its region has
// applied many writes (default 1,000,000), with log compaction by snapshot every 10,000
// entries vs snapshots off (interval and log-size bound set beyond reach), and how many bytes
// the Raft log and the data directory hold in both. Per mode: a fresh 3 PD + 3 stores cluster
// (splits disabled, so one region takes every write), the writes through the SDK with
// coalescing off (one put per Raft entry) and 256 in flight, then a follower store is killed
// with SIGKILL and restarted on its data: time to its READY line (open LevelDB, load and
// verify the region) and to having applied the leader's index. Flags: --writes N (default 1,000,000; quick 20,000), --snapshot-interval-entries N
// (default 10,000; quick 2,000), --in-flight N (256).
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { raftpb } from '@flotilla/proto';
import { adminStatus, eventually } from '../../../tests/support/store-processes.js';
import { FlotillaCluster } from '../flotilla-cluster.js';
import { flotillaSdkTarget } from '../flotilla-target.js';
import { keyOf } from '../key-chooser.js';
import type { KvTarget } from '../kv-target.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import { VALUE } from '../workload.js';

/** Beyond any run: no compaction by count or by size. */
export const SNAPSHOTS_OFF_INTERVAL_ENTRIES = 1_000_000_000;
const LOG_SIZE_BYTES_MAX_OFF = 64 * 1024 ** 3;
const NO_SPLIT_ARGS = [
  '--region-split-size-bytes',
  String(64 * 1024 ** 3),
  '--region-split-keys',
  '1000000000',
];
/** Distinct keys written (the writes cycle over them): the state machine stays small, the log grows. */
const KEYS_COUNT = 100_000;
const CATCH_UP_WAIT_MS_MAX = 600_000;

export interface ModeResult {
  readonly mode: 'snapshots on' | 'snapshots off';
  readonly snapshotIntervalEntries: number;
  readonly writes: number;
  readonly writeSeconds: number;
  /** Puts that failed (e.g. timed out on an overloaded machine) and were tried again. */
  readonly failedPuts: number;
  readonly appliedIndex: number;
  readonly firstLogIndex: number;
  readonly logEntriesRetained: number;
  readonly logSizeBytes: number;
  readonly dataDirBytes: number;
  readonly readyMs: number;
  readonly caughtUpMs: number;
}

/** Failed puts in a row (all writers together) after which the write phase gives up. */
const CONSECUTIVE_WRITE_ERRORS_MAX = 1000;

/** Puts `writes` writes with `inFlight` in flight; a put that fails is tried again (counted). */
async function writeAll(
  target: KvTarget,
  writes: number,
  inFlight: number,
  progress: (done: number, failed: number) => void,
): Promise<number> {
  let next = 0;
  let done = 0;
  let failed = 0;
  let failedInRow = 0;
  const timer = setInterval(() => progress(done, failed), 1000);
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < writes) {
          const i = next++;
          for (;;) {
            try {
              await target.put(keyOf(i % KEYS_COUNT), VALUE);
              failedInRow = 0;
              break;
            } catch (err) {
              failed++;
              if (++failedInRow >= CONSECUTIVE_WRITE_ERRORS_MAX)
                throw new Error(
                  `${CONSECUTIVE_WRITE_ERRORS_MAX} failed puts in a row; last: ${String(err)}`,
                  {
                    cause: err,
                  },
                );
            }
          }
          done++;
        }
      }),
    );
  } finally {
    clearInterval(timer);
  }
  return failed;
}

async function regionStatus(
  cluster: FlotillaCluster,
  slot: number,
): Promise<raftpb.RegionStatus | undefined> {
  const status = await adminStatus(cluster.stores.addresses.get(slot) as string).catch(() => undefined);
  return status?.regions[0];
}

export async function runMode(
  mode: ModeResult['mode'],
  intervalEntries: number,
  writes: number,
  inFlight: number,
  progress: ProgressLine,
  extraStoreArgs: readonly string[] = [],
): Promise<ModeResult> {
  const storeArgs = [
    ...NO_SPLIT_ARGS,
    ...extraStoreArgs,
    '--snapshot-interval-entries',
    String(intervalEntries),
    ...(mode === 'snapshots off' ? ['--raft-log-size-bytes-max', String(LOG_SIZE_BYTES_MAX_OFF)] : []),
  ];
  progress.update(`${mode}: starting 3 PD + 3 stores`);
  const cluster = await FlotillaCluster.startWithPd(storeArgs);
  try {
    // Coalescing off: each put is its own request and so its own Raft entry (coalesced, one
    // BatchWrite entry carries up to hundreds of puts and the log would hardly grow).
    const target = await flotillaSdkTarget({
      pdEndpoints: cluster.pdEndpoints(),
      timeoutMs: 60_000,
      coalesce: false,
    });
    const t0 = performance.now();
    let failedPuts = 0;
    try {
      failedPuts = await writeAll(target, writes, inFlight, (done, failed) =>
        progress.update(
          `${mode}: ${done.toLocaleString('en-US')}/${writes.toLocaleString('en-US')} writes (${failed} failed and retried)`,
        ),
      );
    } finally {
      await target.close();
    }
    const writeSeconds = Math.round((performance.now() - t0) / 100) / 10;
    const leader = await eventually(() => cluster.leader(), 60_000, 'a leader');
    const follower = [1, 2, 3].find((s) => s !== leader.slot) as number;
    const leaderApplied = Number((await regionStatus(cluster, leader.slot))?.appliedIndex ?? 0);
    // The follower must hold everything before it is killed: the restart then measures its own log.
    await eventually(
      async () =>
        Number((await regionStatus(cluster, follower))?.appliedIndex ?? 0) >= leaderApplied
          ? true
          : undefined,
      CATCH_UP_WAIT_MS_MAX,
      'the follower applying every write',
    );
    const before = await regionStatus(cluster, follower);
    if (before === undefined) throw new Error(`store slot ${follower} did not answer Status`);
    const dataDirBytes = Number(
      execFileSync('du', ['-sb', join(cluster.stores.baseDir, `store-${follower}`)])
        .toString()
        .split('\t')[0],
    );
    progress.update(`${mode}: restarting store slot ${follower}`);
    await cluster.stores.kill9(follower);
    const restartAt = performance.now();
    await cluster.stores.start(follower);
    const readyMs = performance.now() - restartAt;
    await eventually(
      async () => {
        const lead = await cluster.leader();
        if (lead === undefined) return undefined;
        const [l, f] = await Promise.all([regionStatus(cluster, lead.slot), regionStatus(cluster, follower)]);
        return l !== undefined && f !== undefined && Number(f.appliedIndex) >= Number(l.appliedIndex)
          ? true
          : undefined;
      },
      CATCH_UP_WAIT_MS_MAX,
      'the restarted store catching up',
    );
    const caughtUpMs = performance.now() - restartAt;
    return {
      mode,
      snapshotIntervalEntries: intervalEntries,
      writes,
      writeSeconds,
      failedPuts,
      appliedIndex: Number(before.appliedIndex),
      firstLogIndex: Number(before.firstIndex),
      logEntriesRetained: Number(before.lastIndex) - Number(before.firstIndex) + 1,
      logSizeBytes: Number(before.logSizeBytes),
      dataDirBytes,
      readyMs: Math.round(readyMs),
      caughtUpMs: Math.round(caughtUpMs),
    };
  } finally {
    await cluster.stop();
  }
}

export async function runSnapshotSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const writes = intFlag(options, 'writes', options.quick ? 20_000 : 1_000_000);
  const intervalEntries = intFlag(options, 'snapshot-interval-entries', options.quick ? 2_000 : 10_000, 2);
  const inFlight = intFlag(options, 'in-flight', 256);
  const progress = new ProgressLine('snapshot');
  const results: ModeResult[] = [];
  results.push(await runMode('snapshots on', intervalEntries, writes, inFlight, progress));
  results.push(await runMode('snapshots off', SNAPSHOTS_OFF_INTERVAL_ENTRIES, writes, inFlight, progress));
  progress.done();
  const mib = (b: number): number => Math.round((b / 1024 ** 2) * 10) / 10;
  const table: Table = {
    title: `Restart of a follower after ${writes.toLocaleString('en-US')} writes`,
    columns: [
      'mode',
      'snapshot every',
      'applied index',
      'log entries kept',
      'Raft log MiB',
      'data dir MiB',
      'restart → READY ms',
      'restart → caught up ms',
      'write phase s',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: results.map((r) => [
      r.mode,
      r.snapshotIntervalEntries === SNAPSHOTS_OFF_INTERVAL_ENTRIES ? 'never' : r.snapshotIntervalEntries,
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
  const [on, off] = results as [ModeResult, ModeResult];
  return {
    suite: 'snapshot',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline: [
      `Restart to READY: ${on.readyMs} ms with snapshots every ${on.snapshotIntervalEntries.toLocaleString('en-US')} entries vs ${off.readyMs} ms with snapshots off; caught up after ${on.caughtUpMs} vs ${off.caughtUpMs} ms.`,
      `Raft log on disk: ${mib(on.logSizeBytes)} MiB (${on.logEntriesRetained.toLocaleString('en-US')} entries) vs ${mib(off.logSizeBytes)} MiB (${off.logEntriesRetained.toLocaleString('en-US')} entries).`,
    ],
    tables: [table],
    notes: [
      `3 PD + 3 stores, splits disabled (one region), writes through the SDK with coalescing off (one put, one Raft entry) and ${inFlight} in flight: 16 B keys cycling over ${KEYS_COUNT.toLocaleString('en-US')} keys, 256 B values. Snapshots off: --snapshot-interval-entries ${SNAPSHOTS_OFF_INTERVAL_ENTRIES} and --raft-log-size-bytes-max 64 GiB.`,
      "The follower is killed with SIGKILL once it has applied every write, and restarted on its data: READY is the process printing its READY line (LevelDB opened, regions loaded, log checked); caught up is its applied index reaching the leader's (Admin Status polled every 50 ms).",
      "Raft log size is the region's retained log as the store reports it (Admin Status log_size_bytes); data dir is `du -sb` of the store directory (LevelDB: state machine, log, compaction leftovers).",
      'The machine is shared with other engineers: the write phase duration in particular moves with their load.',
    ],
    chart: {
      kind: 'bar',
      title: 'snapshot: restart time (ms)',
      yLabel: 'ms',
      categories: results.map((r) => r.mode),
      series: [
        { name: 'restart → READY', values: results.map((r) => r.readyMs) },
        { name: 'restart → caught up', values: results.map((r) => r.caughtUpMs) },
      ],
    },
    data: { writes, inFlight, results },
  };
}
