// The scheduler reads each store's disk from its StoreHeartbeat: through the real PdCluster
// (in-memory meta store) and Scheduler, a store reporting ALMOST_FULL gets no replica, its
// leaders are evicted, an operator still to add a replica there is cancelled, and PD logs
// the store's change of level.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metapb, pdpb } from '@flotilla/proto';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import { PdCluster } from '../../src/cluster/pd-cluster.js';
import { EMPTY_REGION_LOAD } from '../../src/cluster/region-info.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import { MemoryMetaKv } from '../helpers/memory-meta-kv.js';
import { region } from '../helpers/regions.js';

const MiB = 1024n * 1024n;
const LOG_LINES_MAX = 10_000;

function store(id: number): metapb.Store {
  return {
    id: BigInt(id),
    address: `127.0.0.1:${38_000 + id}`,
    labels: [],
    state: metapb.StoreState.UP,
    version: '0.1.0',
    statusAddress: '',
  };
}

/** A PD leader with stores 1-4, a clock the test moves and a log the test can wait on. */
async function setUp(firstRegion: RegionMeta): Promise<{
  cluster: PdCluster;
  scheduler: Scheduler;
  tick: () => void;
  logged: (pattern: RegExp) => Promise<string>;
  heartbeat: (storeId: number, usage: metapb.DiskUsage) => void;
}> {
  const now = { ms: 1_000_000 };
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const log = (line: string): void => {
    if (lines.length < LOG_LINES_MAX) lines.push(line);
    for (const w of [...waiters])
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  };
  const logged = (pattern: RegExp): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
  const cluster = new PdCluster({ kv: new MemoryMetaKv(), nowUnixMs: () => now.ms, idBlockSize: 100, log });
  await cluster.load();
  await cluster.bootstrap(store(1), { ...firstRegion, peers: [{ id: 3, storeId: 1, role: 'voter' }] });
  for (const id of [2, 3, 4]) await cluster.putStore(store(id));
  const heartbeat = (storeId: number, usage: metapb.DiskUsage): void => {
    const full = usage !== metapb.DiskUsage.NORMAL;
    cluster.storeHeartbeat(
      pdpb.StoreStats.fromPartial({
        storeId: BigInt(storeId),
        capacityBytes: 1024n * MiB,
        availableBytes: (full ? 5n : 900n) * MiB,
        reservedBytes: 50n * MiB,
        diskUsage: usage,
      }),
    );
  };
  for (const id of [1, 2, 3, 4]) heartbeat(id, metapb.DiskUsage.NORMAL);
  let pass: (() => void) | undefined;
  const scheduler = new Scheduler({
    cluster,
    nowUnixMs: () => now.ms,
    log,
    every: (_intervalMs, fn) => {
      pass = fn;
      return () => undefined;
    },
  });
  scheduler.start();
  const tick = (): void => {
    now.ms += 1_000;
    pass?.();
  };
  return { cluster, scheduler, tick, logged, heartbeat };
}

function report(meta: RegionMeta, leaderStore: number): Parameters<PdCluster['regionHeartbeat']>[0] {
  return {
    region: meta,
    leader: meta.peers.find((p) => p.storeId === leaderStore),
    term: 2,
    downPeers: [],
    pendingPeers: [],
    load: { ...EMPTY_REGION_LOAD, approximateSizeBytes: 1024 * 1024 },
  };
}

describe('scheduler with store disks', { timeout: 30_000 }, () => {
  it('adds a region replica on a NORMAL store, never on the almost-full one, and logs the change of level', async () => {
    const first = region(2, '', '', {}, [[3, 1]]);
    const { cluster, heartbeat, logged } = await setUp(first);
    heartbeat(2, metapb.DiskUsage.ALMOST_FULL);
    assert.match(
      await logged(/store 2 disk ALMOST_FULL/),
      /5\.0 MiB available of 1024\.0 MiB, reserve 50\.0 MiB\): PD places no data or leaders on it/,
    );
    await cluster.regionHeartbeat(report(first, 1));
    const line = await logged(/operator \d+ for region 2 \(replica\)/);
    assert.match(line, /add a replica on store 3 .*not on store 2: disk almost full/);
  });

  it('evicts the leaders of an almost-full store to voters on NORMAL stores', async () => {
    const meta = region(2, '', '', { confVer: 3 }, [
      [3, 1],
      [4, 2],
      [5, 3],
    ]);
    const { cluster, heartbeat, logged, tick, scheduler } = await setUp(meta);
    heartbeat(1, metapb.DiskUsage.ALMOST_FULL);
    heartbeat(2, metapb.DiskUsage.ALREADY_FULL);
    await cluster.regionHeartbeat(report(meta, 1));
    tick();
    const line = await logged(/\(evictLeader\)/);
    assert.match(line, /evict leader of region 2 off store 1 \(disk almost full .*\) to store 3/);
    const op = scheduler.operators.get(2);
    assert.deepEqual(
      op?.steps.map((s) => [s.kind, s.peer.storeId]),
      [['transferLeader', 3]],
    );
  });

  it('cancels an operator still to add a replica on a store whose disk became almost full, then places it elsewhere', async () => {
    const first = region(2, '', '', {}, [[3, 1]]);
    const { cluster, heartbeat, logged, scheduler } = await setUp(first);
    await cluster.regionHeartbeat(report(first, 1));
    await logged(/operator \d+ for region 2 \(replica\): add a replica on store 2/);
    heartbeat(2, metapb.DiskUsage.ALMOST_FULL);
    await cluster.regionHeartbeat(report(first, 1));
    assert.match(
      await logged(/for region 2 cancelled/),
      /store 2 of addLearner has its disk almost full .*: no new data or leaders go there/,
    );
    await logged(/operator \d+ for region 2 \(replica\): add a replica on store 3/);
    assert.equal(scheduler.operators.get(2)?.steps[0]?.peer.storeId, 3);
  });
});
