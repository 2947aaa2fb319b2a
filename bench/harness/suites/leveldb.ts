// Suite `leveldb`: were the store's LevelDB settings tuned, and what do the knobs change?
// Drives the store's own engine (server/src/storage/leveldb-engine.ts) in one process with
// the write shape of a store round: one synced write batch per round carrying a region's new
// Raft log entries, its hard state and apply state, and the user data of the previous
// round's entries; every `snapshotIntervalEntries` the round also deletes the compacted log
// (one delete per entry, as the store does: LevelDB has no range delete). Rounds run one
// after the other, as the store loop's do. Then point reads (getSync) of random keys and a
// forward scan. Each option set runs in turn, the whole rotation `--repeats` times (default
// 2), so every option set sees the same machine load; the report gives medians and ratios to
// the store's settings. Flags: --entries N (log entries written per run, default 200,000;
// quick 20,000), --entries-per-round N (32), --keys N (distinct user keys, 200,000),
// --reads N (100,000), --configs a,b,... (default all).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WriteBatch } from '../../../server/src/storage/engine.js';
import type { LevelDbEngineOptions } from '../../../server/src/storage/leveldb-engine.js';
import { LEVELDB_ENGINE_DEFAULTS, LevelDbEngine } from '../../../server/src/storage/leveldb-engine.js';
import { applyStateKey, dataKey, raftHardStateKey, raftLogKey } from '../../../server/src/storage/keys.js';
import { keyOf, seededRandom } from '../key-chooser.js';
import { LatencyHistogram } from '../latency-histogram.js';
import type { LatencySummary } from '../latency-histogram.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag, ratio } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';

const MIB = 1024 * 1024;
const REGION_ID = 2;
/** A log entry's payload: a put's key, value and framing, about what one 256 B put encodes to. */
const ENTRY_BYTES = 300;
const VALUE_BYTES = 256;
const SNAPSHOT_INTERVAL_ENTRIES = 10_000;
const COMPACTION_KEEP_ENTRIES = 1_000;
const SCAN_PAIRS = 10_000;
const REPEATS_MAX = 10;

const CONFIGS: Readonly<Record<string, LevelDbEngineOptions>> = {
  store: LEVELDB_ENGINE_DEFAULTS,
  'leveldb-defaults': { ...LEVELDB_ENGINE_DEFAULTS, cacheSizeBytes: 8 * MIB, writeBufferSizeBytes: 4 * MIB },
  'write-buffer-128MiB': { ...LEVELDB_ENGINE_DEFAULTS, writeBufferSizeBytes: 128 * MIB },
  'block-16KiB': { ...LEVELDB_ENGINE_DEFAULTS, blockSizeBytes: 16 * 1024 },
  'no-compression': { ...LEVELDB_ENGINE_DEFAULTS, compression: false },
  'cache-256MiB': { ...LEVELDB_ENGINE_DEFAULTS, cacheSizeBytes: 256 * MIB },
};

interface RunResult {
  readonly config: string;
  readonly repeat: number;
  readonly entriesPerSecond: number;
  readonly round: LatencySummary;
  readonly readsPerSecond: number;
  readonly scanPairsPerSecond: number;
  readonly dataDirBytes: number;
  readonly tableFiles: number;
}

interface Workload {
  readonly entries: number;
  readonly entriesPerRound: number;
  readonly keysCount: number;
  readonly reads: number;
}

/** Bytes that snappy can halve: a random half and a repeated half, so compression has work to do. */
function payload(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const randomPart = length >> 1;
  for (let i = 0; i < randomPart; i++) bytes[i] = Math.floor(random() * 256);
  bytes.fill(0x76, randomPart);
  return bytes;
}

function stateBytes(index: number): Uint8Array {
  const bytes = new Uint8Array(24);
  new DataView(bytes.buffer).setFloat64(0, index);
  return bytes;
}

async function writePhase(
  engine: LevelDbEngine,
  w: Workload,
  random: () => number,
): Promise<{ seconds: number; round: LatencySummary }> {
  const histogram = new LatencyHistogram();
  let truncatedIndex = 0;
  let lastCompactionIndex = 0;
  let pendingApply: number[] = [];
  const t0 = performance.now();
  for (let first = 1; first <= w.entries; first += w.entriesPerRound) {
    const last = Math.min(w.entries, first + w.entriesPerRound - 1);
    const batch = new WriteBatch();
    const keysThisRound: number[] = [];
    for (let index = first; index <= last; index++) {
      batch.put(raftLogKey(REGION_ID, index), payload(random, ENTRY_BYTES));
      keysThisRound.push(Math.floor(random() * w.keysCount));
    }
    batch.put(raftHardStateKey(REGION_ID), stateBytes(last));
    // The previous round's entries committed meanwhile: applied in this round's batch.
    for (const key of pendingApply) batch.put(dataKey(keyOf(key)), payload(random, VALUE_BYTES));
    const appliedIndex = first - 1;
    batch.put(applyStateKey(REGION_ID), stateBytes(appliedIndex));
    if (appliedIndex - lastCompactionIndex >= SNAPSHOT_INTERVAL_ENTRIES) {
      const to = appliedIndex - COMPACTION_KEEP_ENTRIES;
      for (let index = truncatedIndex + 1; index <= to; index++) batch.delete(raftLogKey(REGION_ID, index));
      truncatedIndex = to;
      lastCompactionIndex = appliedIndex;
    }
    pendingApply = keysThisRound;
    const start = performance.now();
    await engine.write(batch, { sync: true });
    histogram.recordMs(performance.now() - start);
  }
  const seconds = (performance.now() - t0) / 1000;
  const round = histogram.summary();
  histogram.destroy();
  return { seconds, round };
}

function readPhase(engine: LevelDbEngine, w: Workload, random: () => number): number {
  const t0 = performance.now();
  let found = 0;
  for (let i = 0; i < w.reads; i++) {
    if (engine.getSync(dataKey(keyOf(Math.floor(random() * w.keysCount)))) !== undefined) found++;
  }
  if (found === 0) throw new Error('no read found a key: the write phase wrote no user data');
  return w.reads / ((performance.now() - t0) / 1000);
}

async function scanPhase(engine: LevelDbEngine): Promise<number> {
  const t0 = performance.now();
  const pairs = await engine.scan({ start: dataKey(keyOf(0)), end: null }, { limit: SCAN_PAIRS });
  if (pairs.length === 0) throw new Error('the scan found no user data');
  return pairs.length / ((performance.now() - t0) / 1000);
}

async function runOne(config: string, repeat: number, w: Workload): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-leveldb-'));
  const random = seededRandom(1000 + repeat);
  try {
    const engine = await LevelDbEngine.open(dir, CONFIGS[config] as LevelDbEngineOptions);
    try {
      const { seconds, round } = await writePhase(engine, w, random);
      const readsPerSecond = readPhase(engine, w, random);
      const scanPairsPerSecond = await scanPhase(engine);
      const dataDirBytes = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
      const tableFiles = readdirSync(dir).filter((f) => f.endsWith('.ldb') || f.endsWith('.sst')).length;
      return {
        config,
        repeat,
        entriesPerSecond: Math.round(w.entries / seconds),
        round,
        readsPerSecond: Math.round(readsPerSecond),
        scanPairsPerSecond: Math.round(scanPairsPerSecond),
        dataDirBytes,
        tableFiles,
      };
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function describe(o: LevelDbEngineOptions): string {
  const d = { ...LEVELDB_ENGINE_DEFAULTS, ...o };
  return `cache ${d.cacheSizeBytes / MIB} MiB, memtable ${d.writeBufferSizeBytes / MIB} MiB, block ${d.blockSizeBytes / 1024} KiB, ${d.compression ? 'snappy' : 'no compression'}`;
}

export async function runLevelDbSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const w: Workload = {
    entries: intFlag(options, 'entries', options.quick ? 20_000 : 200_000),
    entriesPerRound: intFlag(options, 'entries-per-round', 32),
    keysCount: intFlag(options, 'keys', 200_000, 2),
    reads: intFlag(options, 'reads', options.quick ? 10_000 : 100_000),
  };
  const configs = listFlag(options, 'configs', Object.keys(CONFIGS));
  for (const c of configs)
    if (CONFIGS[c] === undefined)
      throw new Error(`--configs: unknown '${c}' (${Object.keys(CONFIGS).join(', ')})`);
  const repeats = Math.min(
    REPEATS_MAX,
    options.flags.repeats === undefined ? (options.quick ? 1 : 2) : options.repeats,
  );
  const progress = new ProgressLine('leveldb');
  const runs: RunResult[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const config of configs) {
      progress.update(`repeat ${repeat + 1}/${repeats}: ${config}`);
      runs.push(await runOne(config, repeat, w));
    }
  }
  progress.done();
  const med = (config: string, pick: (r: RunResult) => number): number =>
    median(runs.filter((r) => r.config === config).map(pick));
  const base = (pick: (r: RunResult) => number): number => med('store', pick);
  const hasBase = configs.includes('store');
  const rows = configs.map((c) => {
    const eps = med(c, (r) => r.entriesPerSecond);
    const p99 = round2(med(c, (r) => r.round.p99Ms));
    const reads = med(c, (r) => r.readsPerSecond);
    return [
      c,
      describe(CONFIGS[c] as LevelDbEngineOptions),
      Math.round(eps),
      hasBase
        ? ratio(
            eps,
            base((r) => r.entriesPerSecond),
          )
        : '-',
      med(c, (r) => r.round.p50Ms),
      p99,
      med(c, (r) => r.round.maxMs),
      Math.round(reads),
      hasBase
        ? ratio(
            reads,
            base((r) => r.readsPerSecond),
          )
        : '-',
      Math.round(med(c, (r) => r.scanPairsPerSecond)),
      Math.round((med(c, (r) => r.dataDirBytes) / MIB) * 10) / 10,
      med(c, (r) => r.tableFiles),
    ];
  });
  const table: Table = {
    title: `Store-shaped writes (${w.entries.toLocaleString('en-US')} log entries, ${w.entriesPerRound} per synced round) and reads, by LevelDB options (medians of ${repeats})`,
    columns: [
      'options',
      'settings',
      'entries/s',
      'vs store',
      'round p50 ms',
      'round p99 ms',
      'round max ms',
      'getSync/s',
      'vs store',
      'scan pairs/s',
      'dir MiB',
      'table files',
    ],
    align: ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows,
  };
  const spread: Table = {
    title: 'Every run (the rotation order is the row order)',
    columns: ['repeat', 'options', 'entries/s', 'round p99 ms', 'getSync/s'],
    align: ['r', 'l', 'r', 'r', 'r'],
    rows: runs.map((r) => [r.repeat + 1, r.config, r.entriesPerSecond, r.round.p99Ms, r.readsPerSecond]),
  };
  const headline = hasBase
    ? configs
        .filter((c) => c !== 'store')
        .map(
          (c) =>
            `${c}: writes ${ratio(
              med(c, (r) => r.entriesPerSecond),
              base((r) => r.entriesPerSecond),
            )}x the store's settings, round p99 ${round2(med(c, (r) => r.round.p99Ms))} vs ${round2(base((r) => r.round.p99Ms))} ms, point reads ${ratio(
              med(c, (r) => r.readsPerSecond),
              base((r) => r.readsPerSecond),
            )}x.`,
        )
    : [];
  return {
    suite: 'leveldb',
    command: options.command,
    quick: options.quick,
    facts,
    durationS: Math.round((Date.now() - startedMs) / 1000),
    headline,
    tables: [table, spread],
    notes: [
      `One process drives LevelDbEngine directly (no Raft, no network), in a fresh directory under ${tmpdir()} per run: each round is one synced batch of ${w.entriesPerRound} log entries of ${ENTRY_BYTES} B, the hard and apply states, and ${w.entriesPerRound} user puts (16 B keys uniform over ${w.keysCount.toLocaleString('en-US')}, ${VALUE_BYTES} B values) for the previous round's entries; every ${SNAPSHOT_INTERVAL_ENTRIES.toLocaleString('en-US')} applied entries the round deletes the log below applied − ${COMPACTION_KEEP_ENTRIES.toLocaleString('en-US')}, one delete per entry.`,
      'Payloads are half random, half a repeated byte, so snappy has something to compress (the other suites write 256 B of one repeated byte).',
      `Reads: ${w.reads.toLocaleString('en-US')} getSync of random user keys after the writes, then one scan of up to ${SCAN_PAIRS.toLocaleString('en-US')} pairs. dir MiB and table files: the directory after the reads (LevelDB compacts in the background, so both depend on when it stopped).`,
      'The machine is shared with other engineers: compare rows of one run; the rotation runs every option set once per repeat so load drift spreads over all of them.',
    ],
    chart: {
      kind: 'bar',
      title: 'leveldb: store-shaped write throughput by options (entries/s)',
      yLabel: 'entries/s',
      categories: configs,
      series: [
        {
          name: 'entries/s (median)',
          values: configs.map((c) => Math.round(med(c, (r) => r.entriesPerSecond))),
        },
      ],
    },
    data: { workload: w, configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])), runs },
  };
}
