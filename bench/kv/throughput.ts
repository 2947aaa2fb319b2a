// `npm run bench:kv`: put and get throughput and latency of a 3-store cluster of real
// processes (LevelDB on disk, gRPC on loopback) driven from this process through the unary
// Kv API, at 1 and 64 requests in flight. Keys are 16 bytes from a 10,000-key space,
// values 256 bytes (the figures ENVIRONMENT.md gives for etcd use the same shape).
// Options: --duration-ms N per case (default 5000), --concurrency 1,64, --ops put,get,
// --read-consistency linearizable|lease|stale|log (for get), --json.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { kvpb } from '@flotilla/proto';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';
import { summarize } from './stats.js';
import type { LatencySummary } from './stats.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '1,64' },
    ops: { type: 'string', default: 'put,get' },
    'read-consistency': { type: 'string', default: 'linearizable' },
    json: { type: 'boolean', default: false },
  },
});

const CONSISTENCY: Record<string, kvpb.ReadConsistency> = {
  linearizable: kvpb.ReadConsistency.LINEARIZABLE,
  lease: kvpb.ReadConsistency.LEASE,
  stale: kvpb.ReadConsistency.STALE,
  log: kvpb.ReadConsistency.LOG,
};
const durationMs = Number(values['duration-ms']);
const concurrencies = (values.concurrency ?? '').split(',').map(Number);
const ops = (values.ops ?? '').split(',') as Array<'put' | 'get'>;
const consistency = CONSISTENCY[values['read-consistency'] ?? ''];
if (!Number.isSafeInteger(durationMs) || durationMs < 100)
  throw new Error('--duration-ms must be an integer >= 100');
if (concurrencies.some((c) => !Number.isSafeInteger(c) || c < 1 || c > 1024))
  throw new Error('--concurrency: integers in [1, 1024]');
if (ops.some((op) => op !== 'put' && op !== 'get')) throw new Error('--ops: put and/or get');
if (consistency === undefined)
  throw new Error(`--read-consistency: one of ${Object.keys(CONSISTENCY).join(', ')}`);

const KEYS_COUNT = 10_000;
const te = new TextEncoder();
const keys = Array.from({ length: KEYS_COUNT }, (_, i) => te.encode(`k${String(i).padStart(15, '0')}`));
const value = new Uint8Array(256).fill(0x76);

interface CaseResult extends LatencySummary {
  readonly op: string;
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly errors: number;
}

async function runCase(client: KvClient, op: 'put' | 'get', concurrency: number): Promise<CaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const endAt = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const key = keys[next++ % KEYS_COUNT] as Uint8Array;
      const t0 = performance.now();
      try {
        if (op === 'put') await client.put(key, value);
        else await client.get(key, consistency);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return {
    op,
    concurrency,
    opsPerSecond: Math.round((latencies.length / elapsedMs) * 1000),
    errors,
    ...summarize(latencies),
  };
}

const cluster = await StoreProcesses.create([1, 2, 3]);
try {
  await cluster.startAll();
  await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
  const client = new KvClient({ stores: cluster.addresses, operationTimeoutMs: 10_000 });
  for (const key of keys.slice(0, 1000)) await client.put(key, value);
  const results: CaseResult[] = [];
  for (const op of ops) for (const c of concurrencies) results.push(await runCase(client, op, c));
  client.close();
  if (values.json)
    console.log(
      JSON.stringify({ durationMs, readConsistency: values['read-consistency'], results }, null, 2),
    );
  else {
    console.log(
      `3 stores (processes), unary gRPC, 16 B keys / 256 B values, ${durationMs} ms per case, get = ${values['read-consistency']}`,
    );
    console.log('op   in-flight    ops/s   p50 ms   p99 ms  p99.9 ms  errors');
    for (const r of results) {
      console.log(
        `${r.op.padEnd(4)} ${String(r.concurrency).padStart(9)} ${String(r.opsPerSecond).padStart(8)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${r.p999Ms.toFixed(2).padStart(9)} ${String(r.errors).padStart(7)}`,
      );
    }
  }
} finally {
  await cluster.stopAll();
}
