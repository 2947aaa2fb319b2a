// `node --import tsx bench/store/restart-time.ts`: how long a store that was down takes to
// serve again. Three store nodes in this process (LevelDB on disk, real gRPC on loopback);
// one follower is stopped, --entries-while-down entries are written, and the follower is
// restarted on its data. Reports the time to start (load regions) and the time until it has
// applied the leader's index, and whether it caught up through a snapshot (the missed
// entries exceed --snapshot-interval-entries) or by log replay (they do not).
// Options: --entries-while-down N (default 20000), --snapshot-interval-entries N (default
// 10000), --compaction-keep-entries N (default 1000), --value-bytes N (default 256), --json.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { StoreNode } from '../../server/src/node/store-node.js';
import type { StoreNodeOptions } from '../../server/src/node/store-node.js';
import { encodeWrite } from '../../server/src/store/command-builder.js';
import type { Store } from '../../server/src/store/store.js';

const { values } = parseArgs({
  options: {
    'entries-while-down': { type: 'string', default: '20000' },
    'snapshot-interval-entries': { type: 'string', default: '10000' },
    'compaction-keep-entries': { type: 'string', default: '1000' },
    'value-bytes': { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const entriesWhileDown = positiveInt('entries-while-down', values['entries-while-down']);
const storeConfig = {
  snapshotIntervalEntries: positiveInt('snapshot-interval-entries', values['snapshot-interval-entries']),
  compactionKeepEntries: positiveInt('compaction-keep-entries', values['compaction-keep-entries']),
};
const valueBytes = positiveInt('value-bytes', values['value-bytes']);
/** Proposals in flight at once while loading (the store batches them per round). */
const PROPOSALS_IN_FLIGHT = 64;
/** Generous bounds: the machine may be busy. */
const LEADER_WAIT_MS_MAX = 30_000;
const CATCH_UP_WAIT_MS_MAX = 600_000;
const POLL_INTERVAL_MS = 10;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` (state of another store's loop, no event to await) until it holds. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

async function write(leader: Store, count: number): Promise<void> {
  const peer = leader.region(1);
  if (peer === undefined) throw new Error('the leader has no region 1');
  const value = new Uint8Array(valueBytes).fill(0x61);
  for (let i = 0; i < count; i += PROPOSALS_IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(PROPOSALS_IN_FLIGHT, count - i) }, (_, j) => {
      const key = new TextEncoder().encode(`bench-${String(i + j).padStart(9, '0')}`);
      const origin = { region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() };
      return leader.propose(1, encodeWrite(origin, [{ kind: 'put', key, value }]));
    });
    for (const result of await Promise.all(batch))
      if (result.kind !== 'write') throw new Error(`write refused: ${JSON.stringify(result)}`);
  }
}

const baseDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-restart-'));
const ids = [1, 2, 3];
const initialCluster = new Map<number, string>();
for (const id of ids) initialCluster.set(id, `127.0.0.1:${await freePort()}`);
const optionsOf = (id: number): StoreNodeOptions => ({
  cluster: { kind: 'static', storeId: id, initialCluster },
  listenAddress: initialCluster.get(id) as string,
  dataDir: join(baseDir, `store-${id}`),
  storeConfig,
  log: () => undefined,
});
const nodes = new Map<number, StoreNode>();
try {
  for (const id of ids) nodes.set(id, await StoreNode.start(optionsOf(id)));
  const leaderOf = (): StoreNode | undefined =>
    [...nodes.values()].find((n) => n.store.node(1)?.status().role === 'leader');
  await until(() => leaderOf() !== undefined, LEADER_WAIT_MS_MAX, 'a leader');
  const leader = leaderOf() as StoreNode;
  await write(leader.store, 100);
  const victimId = ids.find((id) => nodes.get(id) !== leader) as number;
  await nodes.get(victimId)?.stop();
  nodes.delete(victimId);
  await write(leader.store, entriesWhileDown);
  const targetIndex = leader.store.region(1)?.storage.appliedIndex ?? 0;

  const startedAt = performance.now();
  const restarted = await StoreNode.start(optionsOf(victimId));
  nodes.set(victimId, restarted);
  const startMs = performance.now() - startedAt;
  await until(
    () => (restarted.store.region(1)?.storage.appliedIndex ?? 0) >= targetIndex,
    CATCH_UP_WAIT_MS_MAX,
    'catch-up',
  );
  const catchUpMs = performance.now() - startedAt;
  await restarted.store.whenIdle(); // the round that applied it completes (stats are counted then)
  const result = {
    entriesWhileDown,
    ...storeConfig,
    valueBytes,
    startMs: Math.round(startMs),
    catchUpMs: Math.round(catchUpMs),
    viaSnapshot: restarted.store.stats().snapshotsInstalledCount > 0,
  };
  if (values.json) console.log(JSON.stringify(result));
  else
    console.log(
      `restart after ${entriesWhileDown} missed entries: started in ${result.startMs} ms, caught up in ${result.catchUpMs} ms (${result.viaSnapshot ? 'snapshot' : 'log replay'})`,
    );
} finally {
  for (const node of nodes.values()) await node.stop();
  rmSync(baseDir, { recursive: true, force: true });
}
