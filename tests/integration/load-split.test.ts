// Load-based split on real processes: 3 PD members and 3 stores. A skewed load — most
// requests on a few dozen keys, the rest spread thin, all in the one region of a fresh
// cluster holding a few kilobytes — keeps the region above the (lowered) QPS threshold for
// the window; the leader splits it where the load divides, although its size is more than
// a thousand times below the size threshold. PD learns the split; no key is lost. Then PD's
// hot-region scheduler, seeing both hot halves led from one store in the heartbeats' rates,
// moves one leader to another store, and GetOperators (flotilla status) shows the operator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlotillaClient } from '../../sdk/src/index.js';
import { pdpb } from '@flotilla/proto';
import { runClientCommand } from '../../server/src/cli/client-commands.js';
import type { PdClient } from '../../server/src/pd-client/pd-client.js';
import type { PdProcesses } from '../support/pd-processes.js';
import { PdClusterProcesses } from '../support/pd-cluster-processes.js';
import type { StoreProcesses } from '../support/store-processes.js';
import { eventually } from '../support/store-processes.js';

/** Generous: a busy 2-core machine runs 3 PD members, 3 stores and the load here. */
const SETTLE_MS = 90_000;
const QPS_THRESHOLD = 20;
const WINDOW_MS = 2_000;
const REGION_SPLIT_SIZE_BYTES = 64 * 1024 * 1024;
const HOT_KEYS_PER_SECOND_MIN = 5;
const WORKERS_COUNT = 12;

const hotKey = (i: number): string => `user-${String(i).padStart(4, '0')}`;

interface RegionView {
  readonly id: number;
  readonly startKey: string;
  readonly endKey: string;
  readonly voterStoreIds: number[];
  readonly leaderStoreId: number | undefined;
}

async function regionsFromPd(pd: PdClient): Promise<RegionView[]> {
  const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 1000);
  return res.regions.map((r) => ({
    id: Number(r.region?.id),
    startKey: Buffer.from(r.region?.startKey ?? []).toString(),
    endKey: Buffer.from(r.region?.endKey ?? []).toString(),
    voterStoreIds: (r.region?.peers ?? []).filter((p) => p.role === 0).map((p) => Number(p.storeId)),
    leaderStoreId: r.leader === undefined ? undefined : Number(r.leader.storeId),
  }));
}

describe('load-based split on a 3-store cluster', { timeout: 300_000 }, () => {
  let cluster: PdClusterProcesses | undefined;
  let pds: PdProcesses;
  let stores: StoreProcesses;
  let pd: PdClient;
  let client: FlotillaClient;
  let load: SkewedLoad | undefined;

  before(async () => {
    cluster = await PdClusterProcesses.start({
      pdMemberIds: [1, 2, 3],
      pdArgs: [
        '--balance-interval-ms',
        '200',
        '--hot-region-keys-per-second-min',
        String(HOT_KEYS_PER_SECOND_MIN),
        // Leaders move by rate only here: the count balancer could otherwise move the new
        // region's leader before its first report shows it hot.
        '--leader-schedule-limit',
        '0',
      ],
      storeArgs: [
        '--store-heartbeat-interval-ms',
        '300',
        '--region-heartbeat-interval-ms',
        '1000',
        '--region-split-size-bytes',
        String(REGION_SPLIT_SIZE_BYTES),
        '--load-split-qps-threshold',
        String(QPS_THRESHOLD),
        '--load-split-window-ms',
        String(WINDOW_MS),
      ],
      client: { timeoutMs: 20_000 },
    });
    ({ pds, stores, pd, client } = cluster);
  });

  after(async () => {
    try {
      await load?.stop();
    } finally {
      await cluster?.stop();
    }
  });

  test('a region far below the size threshold splits under sustained skewed load', async () => {
    await client.batchPut(Array.from({ length: 200 }, (_, i) => [hotKey(i), `v${i}`] as const));
    // PD grows the first region to three voters before the load starts.
    await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => undefined);
        return rs?.length === 1 && rs[0]?.voterStoreIds.length === 3 ? rs : undefined;
      },
      SETTLE_MS,
      'the first region reaching three voters',
    );

    load = skewedLoad(client);
    const split = await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => undefined);
        return rs !== undefined && rs.length >= 2 ? rs : undefined;
      },
      SETTLE_MS,
      'a split by load',
    );
    const elapsedS = (Date.now() - load.startedAtMs) / 1000;
    console.log(
      `# split by load after ${elapsedS.toFixed(1)} s of load (${(load.requests / elapsedS).toFixed(0)} requests/s)`,
    );

    const logs = [1, 2, 3].map((slot) => stores.log(slot)).join('');
    assert.match(logs, /split by load at/, 'the split was a load-based split');
    // Everything ever written is far below the size threshold: the split was not by size.
    assert.ok(load.writtenBytes < REGION_SPLIT_SIZE_BYTES / 100, `${load.writtenBytes} bytes written`);
    // The first cut lies among the loaded keys, where the load divides.
    const cuts = split.slice(1).map((r) => r.startKey);
    assert.ok(
      cuts.some((c) => c > hotKey(0) && c <= hotKey(199)),
      `cut keys ${cuts.join(', ')} inside the loaded range`,
    );
    // Regions still cover the key space once, and no key was lost.
    assert.equal(split[0]?.startKey, '');
    assert.equal(split.at(-1)?.endKey, '');
    for (let i = 1; i < split.length; i++) assert.equal(split[i]?.startKey, split[i - 1]?.endKey);
    for (let i = 0; i < 200; i++)
      assert.ok((await client.get(hotKey(i))) !== undefined, `${hotKey(i)} readable`);
  });

  test('PD moves a hot leader off the store leading both hot halves; status shows the operator', async () => {
    assert.ok(load, 'the load of the previous test still runs');
    const moved = await eventually(
      async () => {
        const res = await pd.getOperators().catch(() => undefined);
        return res?.finished.find(
          (op) => op.kind === 'hotRegion' && op.status === pdpb.OperatorStatus.SUCCEEDED,
        );
      },
      SETTLE_MS,
      'a hot-region leader move',
    ).catch(async (err: unknown) => {
      const regions = await regionsFromPd(pd).catch(() => []);
      const ops = await pd.getOperators().catch(() => undefined);
      throw new Error(
        `${String(err)}; regions ${JSON.stringify(regions)}; operators ${JSON.stringify(
          ops?.finished.map((o) => [o.kind, Number(o.regionId), o.status, o.description]),
        )}`,
      );
    });
    // When the operator finished, from its age (the previous test's checks ran meanwhile).
    const finishedAtMs = Date.now() - Number(moved.ageMs) + Number(moved.durationMs);
    console.log(
      `# hot leader moved ${((finishedAtMs - load.startedAtMs) / 1000).toFixed(1)} s after the load began ` +
        `(operator ran ${moved.durationMs} ms)`,
    );
    assert.equal(moved.steps.length, 1);
    assert.match(moved.steps[0] ?? '', /^transferLeader /);
    assert.equal(moved.fromStoreIds.length, 1);
    assert.equal(moved.toStoreIds.length, 1);
    assert.notEqual(moved.fromStoreIds[0], moved.toStoreIds[0]);
    const out: string[] = [];
    const code = await runClientCommand(
      ['status'],
      { FLOTILLA_PD: pds.endpoints().join(',') },
      { out: (l) => out.push(l), err: (l) => out.push(l) },
    );
    assert.equal(code, 0, out.join('\n'));
    const text = out.join('\n');
    assert.match(text, /^operators: \d+ running \(replica \d+\/64, .*hotRegion \d+\/4[,)]/m);
    // A PD failover (this machine is busy) drops the history: the line must be there as long
    // as the leader that ran the operator still lists it after the status call.
    const stillListed = (await pd.getOperators()).finished.some(
      (op) => op.id === moved.id && op.regionId === moved.regionId && op.kind === 'hotRegion',
    );
    if (stillListed)
      assert.match(
        text,
        new RegExp(`#${moved.id} hotRegion region ${moved.regionId} store \\d+ -> \\d+ +succeeded`),
      );
    await load.stop();
  });
});

interface SkewedLoad {
  readonly startedAtMs: number;
  requests: number;
  writtenBytes: number;
  /** Requests that failed after the SDK's own retries (the machine may be overloaded). */
  errors: number;
  stop(): Promise<void>;
}

/** WORKERS_COUNT workers, 3 of 4 requests on user-0040..user-0079, the rest on all 200 keys; a third are puts. */
function skewedLoad(client: FlotillaClient): SkewedLoad {
  let stopped = false;
  const state: SkewedLoad = {
    startedAtMs: Date.now(),
    requests: 0,
    writtenBytes: 0,
    errors: 0,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
  const worker = async (seed: number): Promise<void> => {
    let i = seed;
    while (!stopped) {
      i = (i * 1103515245 + 12345) % 2 ** 31;
      const k = i % 4 === 0 ? hotKey(i % 200) : hotKey(40 + (i % 40));
      try {
        if (i % 3 === 0) {
          const value = `w${i}`;
          state.writtenBytes += k.length + value.length;
          await client.put(k, value);
        } else await client.get(k);
        state.requests++;
      } catch {
        state.errors++;
      }
    }
  };
  const workers = Array.from({ length: WORKERS_COUNT }, (_, n) => worker(n + 1));
  return state;
}
