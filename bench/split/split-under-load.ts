// `npm run bench:split`: a region grows past the split size under a steady write load and
// splits. Starts 3 PD members and 3 stores (real processes, PD mode, default 64 MiB split
// size), writes through the SDK with a fixed number of writes in flight, and reports:
//   - the write latency in 1 s buckets (p50, p99, max) with the region count in each, so
//     the buckets around the split can be compared with those before it;
//   - the time from the moment the bytes written crossed the split size to PD showing the
//     split (the split check period, the measuring scan and the Raft split together);
//   - for a bulk load well past the size, how the regions cascade.
// Values are 4 KiB (not the suite default of 256 B) so that 64 MiB is written in seconds.
// Flags: --split-size-mib N (default 64), --total-mib N (default 3x the split size),
//   --in-flight N (default 32), --split-check-interval-ms N (default 1000).
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { createClient } from '../../sdk/src/index.js';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from '../../tests/support/pd-processes.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';
import { summarize } from '../kv/stats.js';

const { values } = parseArgs({
  options: {
    'split-size-mib': { type: 'string', default: '64' },
    'total-mib': { type: 'string' },
    'in-flight': { type: 'string', default: '32' },
    'split-check-interval-ms': { type: 'string', default: '1000' },
  },
});
const MIB = 1024 * 1024;
const splitSizeBytes = Number(values['split-size-mib']) * MIB;
const totalBytes = Number(values['total-mib'] ?? 3 * Number(values['split-size-mib'])) * MIB;
const inFlight = Number(values['in-flight']);
const VALUE_BYTES = 4096;
const value = Buffer.alloc(VALUE_BYTES, 0x61);

const pds = await PdProcesses.create([1, 2, 3], ['--balance-interval-ms', '1000']);
await pds.startAll();
const stores = await StoreProcesses.createWithPd([1, 2, 3], pds.endpoints(), [
  '--region-split-size-bytes',
  String(splitSizeBytes),
  '--split-check-interval-ms',
  String(values['split-check-interval-ms']),
  '--region-heartbeat-interval-ms',
  '1000',
]);
const pd = new PdClient({ endpoints: pds.endpoints() });
try {
  await stores.start(1);
  await Promise.all([stores.start(2), stores.start(3)]);
  const regionCount = async (): Promise<number> =>
    (await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10_000)).regions.length;
  const votersReady = async (): Promise<true | undefined> => {
    const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10);
    return res.regions.length === 1 && res.regions[0]?.region?.peers.length === 3 ? true : undefined;
  };
  await eventually(votersReady, 120_000, 'three replicas of the first region');
  const client = await createClient({ pdEndpoints: pds.endpoints(), timeoutMs: 30_000 });

  interface Bucket {
    latenciesMs: number[];
    regions: number;
  }
  const buckets: Bucket[] = [];
  const t0 = performance.now();
  const bucketAt = (ms: number): Bucket => {
    const i = Math.floor((ms - t0) / 1000);
    while (buckets.length <= i) buckets.push({ latenciesMs: [], regions: 0 });
    return buckets[i] as Bucket;
  };
  let written = 0;
  let seq = 0;
  let crossedAtMs: number | undefined;
  let firstSplitSeenAtMs: number | undefined;
  let latestRegionCount = 1;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const n = await regionCount().catch(() => latestRegionCount);
      latestRegionCount = n;
      const now = performance.now();
      bucketAt(now).regions = Math.max(bucketAt(now).regions, n);
      if (n > 1 && firstSplitSeenAtMs === undefined) firstSplitSeenAtMs = now;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const worker = async (): Promise<void> => {
    while (written < totalBytes) {
      const i = seq++;
      // Keys spread over the key space (hash-like order) so both halves keep receiving writes.
      const key = `k${String((i * 2654435761) % 4294967296).padStart(10, '0')}`;
      const start = performance.now();
      await client.put(key, value);
      const end = performance.now();
      bucketAt(end).latenciesMs.push(end - start);
      written += key.length + VALUE_BYTES;
      if (crossedAtMs === undefined && written >= splitSizeBytes) crossedAtMs = end;
    }
  };
  const progress = setInterval(() => {
    process.stderr.write(`\r${(written / MIB).toFixed(0)} MiB written, ${latestRegionCount} region(s)   `);
  }, 1000);
  await Promise.all(Array.from({ length: inFlight }, worker));
  clearInterval(progress);
  // Let the last checks run: the cascade settles after the load.
  await new Promise((r) => setTimeout(r, 3 * Number(values['split-check-interval-ms']) + 2000));
  sampling = false;
  await sampler;
  const finalRegions = await regionCount();
  const clientStats = client.stats();
  await client.close();
  process.stderr.write('\n');

  console.log(
    `# split under load: ${os.cpus().length} cores, node ${process.version}, split size ${splitSizeBytes / MIB} MiB, ` +
      `${(totalBytes / MIB).toFixed(0)} MiB written with ${inFlight} in flight, values ${VALUE_BYTES} B`,
  );
  console.log('| second | writes | p50 ms | p99 ms | max ms | regions |');
  console.log('|---|---|---|---|---|---|');
  buckets.forEach((b, i) => {
    const s = summarize(b.latenciesMs);
    console.log(`| ${i} | ${s.count} | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} | ${b.regions} |`);
  });
  const splitSecond =
    firstSplitSeenAtMs === undefined ? undefined : Math.floor((firstSplitSeenAtMs - t0) / 1000);
  const before = buckets.slice(0, Math.max(1, (splitSecond ?? 1) - 1)).flatMap((b) => b.latenciesMs);
  const around =
    splitSecond === undefined
      ? []
      : buckets.slice(Math.max(0, splitSecond - 1), splitSecond + 2).flatMap((b) => b.latenciesMs);
  console.log('');
  console.log(`| measure | value |`);
  console.log(`|---|---|`);
  console.log(
    `| split size crossed → split visible in PD | ${
      crossedAtMs !== undefined && firstSplitSeenAtMs !== undefined
        ? `${Math.round(firstSplitSeenAtMs - crossedAtMs)} ms`
        : 'no split'
    } |`,
  );
  console.log(`| write p99 before the split | ${summarize(before).p99Ms} ms |`);
  console.log(`| write p99 in the 3 s around the split | ${summarize(around).p99Ms} ms |`);
  console.log(`| regions after ${(totalBytes / MIB).toFixed(0)} MiB | ${finalRegions} |`);
  console.log(`| SDK calls to PD during the run (region lookups) | ${clientStats.pdCalls} |`);
  console.log(`| SDK retries by reason | ${JSON.stringify(clientStats.retries)} |`);
} finally {
  pd.close();
  await stores.stopAll();
  await pds.stopAll();
}
