// `npm run bench:repair`: how long PD takes to restore three replicas of every region after
// a store dies. Starts 3 PD members and 4 stores (real processes, PD mode), splits the key
// space into --regions regions holding some data, waits until PD has spread them, then
// kill -9s the store holding the most replicas and measures:
//   - detection: from the kill until PD judges the store down (maxStoreDownTimeMs, set by
//     --down-after-ms; TiKV's default is 30 min, ours 5 min: a benchmark shortens it);
//   - repair: from the kill until every region again has 3 voters, none on the dead store
//     (a learner added elsewhere, caught up by snapshot, promoted, the dead peer removed).
// Flags: --regions N (default 8), --down-after-ms N (default 3000), --keys N (default 4000).
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { createClient } from '../../sdk/src/index.js';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from '../../tests/support/pd-processes.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';

const { values } = parseArgs({
  options: {
    regions: { type: 'string', default: '8' },
    'down-after-ms': { type: 'string', default: '3000' },
    keys: { type: 'string', default: '4000' },
  },
});
const regionsWanted = Number(values.regions);
const downAfterMs = Number(values['down-after-ms']);
const keysCount = Number(values.keys);

const pds = await PdProcesses.create(
  [1, 2, 3],
  [
    '--max-store-down-time-ms',
    String(downAfterMs),
    '--store-disconnected-time-ms',
    String(Math.min(1500, downAfterMs)),
    '--balance-interval-ms',
    '200',
    '--step-resend-interval-ms',
    '1000',
  ],
);
await pds.startAll();
const stores = await StoreProcesses.createWithPd([1, 2, 3, 4], pds.endpoints(), [
  '--store-heartbeat-interval-ms',
  '300',
  '--region-heartbeat-interval-ms',
  '1000',
  // Small regions so that the requested count comes from the split checker alone.
  '--region-split-keys',
  String(Math.max(16, Math.floor(keysCount / regionsWanted))),
  '--split-check-interval-ms',
  '500',
]);
const pd = new PdClient({ endpoints: pds.endpoints() });

interface RegionView {
  readonly id: number;
  readonly voterStores: number[];
  readonly learners: number;
}
async function regions(): Promise<RegionView[]> {
  const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10_000);
  return res.regions.map((r) => ({
    id: Number(r.region?.id),
    voterStores: (r.region?.peers ?? []).filter((p) => p.role === 0).map((p) => Number(p.storeId)),
    learners: (r.region?.peers ?? []).filter((p) => p.role !== 0).length,
  }));
}

/** What PD and the stores show, for a benchmark that did not converge. */
async function dumpState(): Promise<void> {
  const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10_000);
  for (const r of res.regions) {
    const peers = r.region?.peers.map((p) => `${p.id}@${p.storeId}/${p.role}`).join(',');
    console.error(
      `region ${r.region?.id} peers ${peers} leader ${r.leader?.id} pending ${r.pendingPeers.map((p) => p.id)} down ${r.downPeers.map((d) => d.peer?.id)}`,
    );
  }
  const leader = await pds.leaderId();
  if (leader !== undefined)
    console.error(
      pds
        .log(leader)
        .split('\n')
        .filter((l) => /operator/.test(l))
        .slice(-20)
        .join('\n'),
    );
  for (const slot of [1, 2, 3, 4])
    console.error(
      `--- slot ${slot}\n` +
        stores
          .log(slot)
          .split('\n')
          .filter((l) => /operator|error|fail/i.test(l))
          .slice(-8)
          .join('\n'),
    );
}

try {
  await stores.start(1);
  await Promise.all([stores.start(2), stores.start(3), stores.start(4)]);
  const client = await createClient({ pdEndpoints: pds.endpoints(), timeoutMs: 30_000 });
  const value = Buffer.alloc(1024, 0x62);
  for (let i = 0; i < keysCount; i += 64) {
    await client.batchPut(
      Array.from(
        { length: Math.min(64, keysCount - i) },
        (_, j) => [`key-${String(i + j).padStart(8, '0')}`, value] as const,
      ),
    );
  }
  await client.close();
  let lastCount = 0;
  let stableSinceMs = performance.now();
  // Settled: enough regions, each with 3 voters and no learner, replicas spread over 4 stores.
  await eventually(
    async () => {
      const rs = await regions().catch(() => []);
      const settled = rs.filter((r) => r.voterStores.length === 3 && r.learners === 0).length;
      process.stderr.write(`\r${rs.length} regions, ${settled} with 3 voters and no learner   `);
      // Settled: every region has 3 voters and no learner, and the count held for 10 s
      // (the split checker may stop short of --regions: it splits by measured size and keys).
      if (rs.length !== lastCount || settled !== rs.length) {
        lastCount = rs.length;
        stableSinceMs = performance.now();
      }
      const stable = performance.now() - stableSinceMs >= 10_000;
      return rs.length >= 2 && settled === rs.length && (rs.length >= regionsWanted || stable)
        ? true
        : undefined;
    },
    Number(process.env.SETTLE_TIMEOUT_MS ?? 300_000),
    `${regionsWanted} regions with 3 voters each`,
  ).catch(async (err: unknown) => {
    await dumpState();
    throw err;
  });
  await new Promise((r) => setTimeout(r, 3000)); // let the balancer finish moving replicas
  const before = await regions();
  const perStore = new Map<number, number>();
  for (const r of before) for (const s of r.voterStores) perStore.set(s, (perStore.get(s) ?? 0) + 1);
  const [victim, victimReplicas] = [...perStore].sort((a, b) => b[1] - a[1])[0] as [number, number];
  const slot = stores.slotOfStore(victim) as number;
  const killedAt = performance.now();
  await stores.kill9(slot);
  let lastProgress = '';
  await eventually(
    async () => {
      const rs = await regions().catch(() => undefined);
      if (rs === undefined) return undefined;
      const pending = rs.filter(
        (r) => r.voterStores.length !== 3 || r.voterStores.includes(victim) || r.learners > 0,
      );
      const line = `${pending.length}/${rs.length} regions to repair`;
      if (line !== lastProgress)
        process.stderr.write(`\r${line} at ${Math.round(performance.now() - killedAt)} ms   `);
      lastProgress = line;
      return pending.length === 0 ? true : undefined;
    },
    Number(process.env.REPAIR_TIMEOUT_MS ?? 600_000),
    'every region repaired',
  ).catch(async (err: unknown) => {
    await dumpState();
    throw err;
  });
  const repairedMs = Math.round(performance.now() - killedAt);
  process.stderr.write('\n');
  console.log(
    `# replica repair: ${os.cpus().length} cores, node ${process.version}, 4 stores, ${before.length} regions, ` +
      `${keysCount} keys of 1 KiB; store ${victim} held ${victimReplicas} replicas`,
  );
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| store judged down after (maxStoreDownTimeMs) | ${downAfterMs} ms |`);
  console.log(`| kill → every region back to 3 voters | ${repairedMs} ms |`);
  console.log(`| repair after down detection | ${repairedMs - downAfterMs} ms |`);
} finally {
  pd.close();
  await stores.stopAll();
  await pds.stopAll();
}
