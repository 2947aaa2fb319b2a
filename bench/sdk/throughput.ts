// `npm run bench:sdk`: throughput and latency through the SDK against a 3-store cluster of
// real processes (the static one-region cluster) with an in-process fake PD, at 1, 64 and
// 256 operations in flight, with request coalescing on and off. Reports ops/s, p50/p99 and
// how many RPCs (unary calls or BatchCommands frames) and store requests each operation
// cost. Workload: 50% puts, 50% linearizable gets, 16-byte keys from a 10,000-key space,
// 256-byte values. Options: --duration-ms N per case (default 4000), --concurrency 1,64,256,
// --json.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient } from '../../sdk/src/index.js';
import type { FlotillaClient } from '../../sdk/src/index.js';
import { FakeKvState, FakePd } from '../../sdk/test/support/fake-cluster.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';
import { round2, summarize } from '../kv/stats.js';
import type { LatencySummary } from '../kv/stats.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '1,64,256' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(values['duration-ms']);
const concurrencies = (values.concurrency ?? '').split(',').map(Number);
if (!Number.isSafeInteger(durationMs) || durationMs < 100)
  throw new Error('--duration-ms must be an integer >= 100');
if (concurrencies.some((c) => !Number.isSafeInteger(c) || c < 1 || c > 4096))
  throw new Error('--concurrency: integers in [1, 4096]');

const KEYS_COUNT = 10_000;
const WARM_UP_MS = 1_000;
const keys = Array.from({ length: KEYS_COUNT }, (_, i) => Buffer.from(`k${String(i).padStart(15, '0')}`));
const value = Buffer.alloc(256, 0x76);

interface CaseResult extends LatencySummary {
  readonly coalesce: boolean;
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly errors: number;
  readonly rpcsPerOp: number;
  readonly requestsPerOp: number;
  readonly opsPerRpc: number;
}

async function runCase(
  client: FlotillaClient,
  coalesce: boolean,
  concurrency: number,
  caseDurationMs = durationMs,
): Promise<CaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const before = client.stats();
  const started = performance.now();
  const endAt = started + caseDurationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const i = next++;
      const key = keys[(i * 7919) % KEYS_COUNT] as Buffer;
      const t0 = performance.now();
      try {
        if (i % 2 === 0) await client.put(key, value);
        else await client.get(key);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  const after = client.stats();
  const ops = after.ops - before.ops;
  const rpcs = after.rpcs - before.rpcs;
  const requests = after.requests - before.requests;
  return {
    coalesce,
    concurrency,
    opsPerSecond: Math.round(latencies.length / elapsedS),
    errors,
    rpcsPerOp: round2(rpcs / ops),
    requestsPerOp: round2(requests / ops),
    opsPerRpc: round2(ops / rpcs),
    ...summarize(latencies),
  };
}

async function main(): Promise<void> {
  const cluster = await StoreProcesses.create([1, 2, 3]);
  const state = new FakeKvState();
  state.regions = [
    {
      id: 1n,
      startKey: Buffer.alloc(0),
      endKey: Buffer.alloc(0),
      version: 1n,
      confVer: 1n,
      storeIds: [1n, 2n, 3n],
      peerIds: [1n, 2n, 3n],
      leaderStoreId: 0n,
    },
  ];
  const pd = new FakePd(state, (id) => cluster.addresses.get(Number(id)));
  const results: CaseResult[] = [];
  try {
    await cluster.startAll();
    await pd.start();
    const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
    (state.regions[0] as { leaderStoreId: bigint }).leaderStoreId = BigInt(leader);
    for (const coalesce of [true, false]) {
      const client = await createClient({ pdEndpoints: [pd.address], coalesce, queuedPerStoreMax: 100_000 });
      try {
        await client.batchPut(keys.slice(0, 1000).map((k) => [k, value] as const));
        // Warm-up, not reported: JIT, connections, the stores' caches.
        await runCase(client, coalesce, 16, WARM_UP_MS);
        for (const concurrency of concurrencies) {
          const r = await runCase(client, coalesce, concurrency);
          results.push(r);
          if (!values.json)
            console.log(
              `coalesce=${coalesce ? 'on ' : 'off'} c=${String(concurrency).padStart(3)}  ${String(r.opsPerSecond).padStart(6)} ops/s  ` +
                `p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  rpcs/op ${r.rpcsPerOp}  requests/op ${r.requestsPerOp}  ops/rpc ${r.opsPerRpc}  errors ${r.errors}`,
            );
        }
      } finally {
        await client.close();
      }
    }
  } finally {
    pd.stop();
    await cluster.stopAll();
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
}

await main();
