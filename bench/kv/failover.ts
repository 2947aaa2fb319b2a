// `npm run bench:failover`: how long clients wait when the leader of a 3-store cluster of
// real processes is killed with SIGKILL under a write load. 8 writers put in a loop; after
// a steady phase the leader process is killed; the client-visible gap is the longest time
// without any successful put around the kill (what a user of the cluster experiences), and
// the election time is from the kill until a store reports itself leader (polled every
// 10 ms). The killed store is restarted and allowed to catch up between tries.
// Options: --tries N (default 5), --writers N (default 8), --steady-ms N (default 2000), --json.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';
import { median, round2 } from './stats.js';

const { values } = parseArgs({
  options: {
    tries: { type: 'string', default: '5' },
    writers: { type: 'string', default: '8' },
    'steady-ms': { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});
const tries = Number(values.tries);
const writers = Number(values.writers);
const steadyMs = Number(values['steady-ms']);
for (const [name, n] of Object.entries({ tries, writers, steadyMs })) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
}

const te = new TextEncoder();
const value = new Uint8Array(256).fill(0x66);

interface TryResult {
  readonly killedStoreId: number;
  readonly clientGapMs: number;
  readonly electionMs: number;
  readonly failedOps: number;
}

async function oneTry(cluster: StoreProcesses, attempt: number): Promise<TryResult> {
  const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
  const client = new KvClient({
    stores: cluster.addresses,
    operationTimeoutMs: 10_000,
    attemptTimeoutMs: 300,
  });
  const completions: number[] = [];
  let failedOps = 0;
  let stop = false;
  let seq = 0;
  const writer = async (): Promise<void> => {
    while (!stop) {
      try {
        await client.put(te.encode(`failover-${attempt}-${seq++}`), value);
        completions.push(performance.now());
      } catch {
        failedOps++;
      }
    }
  };
  const running = Array.from({ length: writers }, writer);
  await new Promise((resolve) => setTimeout(resolve, steadyMs));
  const killedAt = performance.now();
  await cluster.kill9(leader);
  await pollLeader(cluster, leader);
  const electionMs = performance.now() - killedAt;
  await eventually(
    async () => (completions.some((t) => t > killedAt) ? true : undefined),
    30_000,
    'a write after the kill',
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  stop = true;
  await Promise.all(running);
  client.close();
  const before = completions.filter((t) => t <= killedAt);
  const after = completions.filter((t) => t > killedAt);
  const lastBefore = before.at(-1) ?? killedAt;
  const firstAfter = after[0] ?? performance.now();
  await cluster.start(leader);
  return {
    killedStoreId: leader,
    clientGapMs: round2(firstAfter - lastBefore),
    electionMs: round2(electionMs),
    failedOps,
  };
}

/** The first store other than `killed` that reports itself leader. */
async function pollLeader(cluster: StoreProcesses, killed: number): Promise<number> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const id = await cluster.leaderStoreId();
    if (id !== undefined && id !== killed) return id;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no new leader within 30 s');
}

const cluster = await StoreProcesses.create([1, 2, 3]);
try {
  await cluster.startAll();
  const results: TryResult[] = [];
  for (let i = 0; i < tries; i++) {
    results.push(await oneTry(cluster, i));
    // Let the restarted store catch up and its vote hold-back (one election timeout) pass.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const gaps = results.map((r) => r.clientGapMs);
  const elections = results.map((r) => r.electionMs);
  if (values.json)
    console.log(
      JSON.stringify({ writers, results, medianGapMs: median(gaps), maxGapMs: Math.max(...gaps) }, null, 2),
    );
  else {
    console.log(`kill -9 of the leader, 3 stores (processes), ${writers} writers, ${tries} tries`);
    console.log('try  killed store  client gap ms  election ms  failed ops');
    results.forEach((r, i) =>
      console.log(
        `${String(i + 1).padStart(3)}  ${String(r.killedStoreId).padStart(12)}  ${r.clientGapMs.toFixed(0).padStart(13)}  ${r.electionMs.toFixed(0).padStart(11)}  ${String(r.failedOps).padStart(10)}`,
      ),
    );
    console.log(
      `median client gap ${median(gaps).toFixed(0)} ms, max ${Math.max(...gaps).toFixed(0)} ms; median election ${median(elections).toFixed(0)} ms`,
    );
  }
} finally {
  await cluster.stopAll();
}
