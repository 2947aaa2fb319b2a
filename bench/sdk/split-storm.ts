// `npm run bench:sdk-split-storm`: how much the SDK leans on PD while the key space splits
// into many regions under its feet. Starts a PD member and 3 stores (real processes) with a
// small split size, bulk loads through one SDK client (batchPut, keys spread over the key
// space, so regions split everywhere and keep cascading) while another SDK client runs a
// mixed read/write load on the keys already loaded. Reports, per client: operations,
// errors, p99, PD calls, region cache misses and retries by reason; and the number of
// splits (regions at the end minus one), so PD calls per split.
// Flags: --split-size-kib N (default 1024), --total-mib N (default 48), --in-flight N
//   (mixed-load operations in flight, default 64), --loaders N (batchPut calls in flight,
//   default 4), --split-check-interval-ms N (default 500), --json.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { FlotillaError, createClient } from '../../sdk/src/index.js';
import type { ClientStats, FlotillaClient } from '../../sdk/src/index.js';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from '../../tests/support/pd-processes.js';
import { StoreProcesses, adminStatus, eventually } from '../../tests/support/store-processes.js';
import { summarize } from '../kv/stats.js';

const { values } = parseArgs({
  options: {
    'split-size-kib': { type: 'string', default: '1024' },
    'total-mib': { type: 'string', default: '48' },
    'in-flight': { type: 'string', default: '64' },
    loaders: { type: 'string', default: '4' },
    'split-check-interval-ms': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
const KIB = 1024;
const MIB = 1024 * KIB;
const splitSizeBytes = Number(values['split-size-kib']) * KIB;
const totalBytes = Number(values['total-mib']) * MIB;
const inFlight = Number(values['in-flight']);
const loaders = Number(values.loaders);
const splitCheckIntervalMs = Number(values['split-check-interval-ms']);
for (const [name, v] of Object.entries({
  splitSizeBytes,
  totalBytes,
  inFlight,
  loaders,
  splitCheckIntervalMs,
}))
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer (got ${v})`);

const VALUE_BYTES = 4096;
/** Pairs per batchPut: 64 x 4 KiB = 256 KiB, well under the store's entry limit. */
const BATCH_PAIRS = 64;
const loadValue = Buffer.alloc(VALUE_BYTES, 0x6c);
const smallValue = Buffer.alloc(256, 0x76);
const SETTLE_MS = 120_000;

/** Keys spread over the key space (a multiplicative hash of the sequence number). */
/** Counts a failed call under its error code. */
function countError(tally: Record<string, number>, err: unknown): void {
  const code = err instanceof FlotillaError ? err.code : err instanceof Error ? err.name : 'unknown';
  tally[code] = (tally[code] ?? 0) + 1;
}

const keyOf = (i: number): string => `k${String((i * 2654435761) % 4294967296).padStart(10, '0')}`;

interface ClientFigures {
  readonly ops: number;
  readonly errors: number;
  /** Failed calls by error code (FlotillaError.code, or the error's name). */
  readonly errorsByCode: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly pdCalls: number;
  readonly regionCacheMisses: number;
  readonly retries: ClientStats['retries'];
}

function figures(
  before: ClientStats,
  after: ClientStats,
  latenciesMs: number[],
  errorsByCode: Record<string, number>,
): ClientFigures {
  const s = summarize(latenciesMs);
  const retries = { ...after.retries };
  for (const k of Object.keys(retries) as Array<keyof typeof retries>) retries[k] -= before.retries[k];
  return {
    ops: after.ops - before.ops,
    errors: Object.values(errorsByCode).reduce((a, b) => a + b, 0),
    errorsByCode,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    pdCalls: after.pdCalls - before.pdCalls,
    regionCacheMisses: after.regionCacheMisses - before.regionCacheMisses,
    retries,
  };
}

const pds = await PdProcesses.create([1]);
await pds.startAll();
const stores = await StoreProcesses.createWithPd([1, 2, 3], pds.endpoints(), [
  '--region-split-size-bytes',
  String(splitSizeBytes),
  '--split-check-interval-ms',
  String(splitCheckIntervalMs),
  '--region-heartbeat-interval-ms',
  '1000',
  '--store-heartbeat-interval-ms',
  '500',
]);
const pd = new PdClient({ endpoints: pds.endpoints() });
let loader: FlotillaClient | undefined;
let app: FlotillaClient | undefined;
try {
  await stores.start(1);
  await Promise.all([stores.start(2), stores.start(3)]);
  const regionCount = async (): Promise<number> =>
    (await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10_000)).regions.length;
  await eventually(
    async () => {
      const status = await Promise.all(
        [1, 2, 3].map((slot) => adminStatus(stores.addresses.get(slot) as string).catch(() => undefined)),
      );
      return status.every((s) => s?.regions.some((r) => (r.region?.peers.length ?? 0) === 3))
        ? true
        : undefined;
    },
    SETTLE_MS,
    'three replicas of the first region',
  );
  loader = await createClient({ pdEndpoints: pds.endpoints(), timeoutMs: 30_000 });
  app = await createClient({ pdEndpoints: pds.endpoints(), timeoutMs: 30_000 });
  // Seed the keys the mixed load uses, then measure from here on.
  const seedCount = 1024;
  for (let i = 0; i < seedCount; i += BATCH_PAIRS)
    await loader.batchPut(Array.from({ length: BATCH_PAIRS }, (_, j) => [keyOf(i + j), smallValue] as const));
  const regionsBefore = await regionCount();
  const loaderBefore = loader.stats();
  const appBefore = app.stats();

  let loadedBytes = 0;
  let nextBatch = seedCount / BATCH_PAIRS;
  let loading = true;
  const loadLatenciesMs: number[] = [];
  const loadErrors: Record<string, number> = {};
  const started = performance.now();
  const loadWorker = async (client: FlotillaClient): Promise<void> => {
    while (loadedBytes < totalBytes) {
      const first = nextBatch++ * BATCH_PAIRS;
      const pairs = Array.from({ length: BATCH_PAIRS }, (_, j) => [keyOf(first + j), loadValue] as const);
      const t0 = performance.now();
      try {
        await client.batchPut(pairs);
        loadLatenciesMs.push(performance.now() - t0);
      } catch (err) {
        countError(loadErrors, err);
      }
      loadedBytes += BATCH_PAIRS * (VALUE_BYTES + 11);
    }
  };
  const appLatenciesMs: number[] = [];
  const appErrors: Record<string, number> = {};
  let appSeq = 0;
  const appWorker = async (client: FlotillaClient): Promise<void> => {
    while (loading) {
      const i = appSeq++;
      const key = keyOf((i * 7919) % seedCount);
      const t0 = performance.now();
      try {
        if (i % 2 === 0) await client.put(key, smallValue);
        else await client.get(key);
        appLatenciesMs.push(performance.now() - t0);
      } catch (err) {
        countError(appErrors, err);
      }
    }
  };
  let latestRegions = regionsBefore;
  const progress = setInterval(() => {
    void regionCount().then(
      (n) => (latestRegions = n),
      () => undefined,
    );
    process.stderr.write(`\r${(loadedBytes / MIB).toFixed(0)} MiB loaded, ${latestRegions} region(s)   `);
  }, 1000);
  const appLoad = Promise.all(Array.from({ length: inFlight }, () => appWorker(app as FlotillaClient)));
  await Promise.all(Array.from({ length: loaders }, () => loadWorker(loader as FlotillaClient)));
  // Keep the mixed load running while the last splits land: until the region count holds
  // still for three split-check periods (or the settle bound passes).
  let stable = { count: await regionCount(), sinceMs: performance.now() };
  await eventually(
    async () => {
      const n = await regionCount().catch(() => stable.count);
      if (n !== stable.count) stable = { count: n, sinceMs: performance.now() };
      return performance.now() - stable.sinceMs >= 3 * splitCheckIntervalMs + 2_000 ? true : undefined;
    },
    SETTLE_MS,
    'the region count settling',
  );
  loading = false;
  await appLoad;
  clearInterval(progress);
  const elapsedS = (performance.now() - started) / 1000;
  process.stderr.write('\n');
  const regionsAfter = await regionCount();
  const splits = regionsAfter - regionsBefore;
  const result = {
    machine: `${os.cpus().length} cores, node ${process.version}`,
    splitSizeBytes,
    loadedBytes,
    elapsedS: Math.round(elapsedS * 10) / 10,
    regionsBefore,
    regionsAfter,
    splits,
    loader: figures(loaderBefore, loader.stats(), loadLatenciesMs, loadErrors),
    app: figures(appBefore, app.stats(), appLatenciesMs, appErrors),
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `# split storm: ${result.machine}; split size ${splitSizeBytes / KIB} KiB, ${(loadedBytes / MIB).toFixed(0)} MiB ` +
        `bulk loaded by ${loaders} batchPut(s) of ${BATCH_PAIRS} x ${VALUE_BYTES} B in flight, ` +
        `mixed get/put load with ${inFlight} in flight; ${result.elapsedS} s`,
    );
    console.log(`regions ${regionsBefore} → ${regionsAfter} (${splits} splits)`);
    console.log(
      '| client | ops | errors | p50 ms | p99 ms | PD calls | PD calls per split | cache misses | retries |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [name, f] of [
      ['bulk loader (batchPut)', result.loader],
      ['mixed get/put', result.app],
    ] as const) {
      const retries = Object.entries(f.retries)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      const perSplit = splits > 0 ? (f.pdCalls / splits).toFixed(2) : '-';
      console.log(
        `| ${name} | ${f.ops} | ${f.errors}${f.errors > 0 ? ` (${JSON.stringify(f.errorsByCode)})` : ''} | ${f.p50Ms} | ${f.p99Ms} | ${f.pdCalls} | ${perSplit} | ${f.regionCacheMisses} | ${retries || 'none'} |`,
      );
    }
  }
} finally {
  await loader?.close();
  await app?.close();
  pd.close();
  await stores.stopAll();
  await pds.stopAll();
}
