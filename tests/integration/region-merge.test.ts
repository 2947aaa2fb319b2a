// Region merge on real processes: a PD member and 3 stores. The keyspace is cut into five
// small regions (Admin SplitRegion); PD's merge checker, seeing them far below the merge
// size once their ranges have been stable for the (lowered) split-merge interval, merges
// them back one pair at a time while a writer and a scanner run through the SDK. Every
// acknowledged write stays readable; scans running across merging boundaries see every
// key exactly once, in order; PD's operator status shows the merges as succeeded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pdpb, raftpb } from '@flotilla/proto';
import type { FlotillaClient } from '../../sdk/src/index.js';
import type { PdClient } from '../../server/src/pd-client/pd-client.js';
import type { PdProcesses } from '../support/pd-processes.js';
import { PdClusterProcesses } from '../support/pd-cluster-processes.js';
import type { StoreProcesses } from '../support/store-processes.js';
import { adminSplitRegion, adminStatus, eventually } from '../support/store-processes.js';

/** Generous: a busy 2-core machine runs PD, 3 stores, a writer and a scanner here. */
const SETTLE_MS = 150_000;
const KEYS_COUNT = 400;
const SPLIT_KEYS = ['k/00080', 'k/00160', 'k/00240', 'k/00320'];

const key = (i: number): string => `k/${String(i).padStart(5, '0')}`;

async function regionCount(pd: PdClient): Promise<number> {
  const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 1000);
  return res.regions.length;
}

/** Splits the region holding `splitKey` there, through its leader's Admin service. */
async function splitAt(stores: StoreProcesses, splitKey: string): Promise<void> {
  const k = Buffer.from(splitKey);
  await eventually(
    async () => {
      for (const slot of stores.runningStoreIds()) {
        const address = stores.addresses.get(slot) as string;
        const status = await adminStatus(address).catch(() => undefined);
        for (const r of status?.regions ?? []) {
          const region = r.region;
          if (region === undefined || r.role !== raftpb.RaftRole.LEADER) continue;
          const inside =
            Buffer.compare(k, region.startKey) > 0 &&
            (region.endKey.length === 0 || Buffer.compare(k, region.endKey) < 0);
          if (!inside) continue;
          const res = await adminSplitRegion(address, {
            regionId: region.id,
            regionEpoch: region.regionEpoch,
            splitKeys: [k],
          }).catch(() => undefined);
          return res !== undefined && res.regionError === undefined ? true : undefined;
        }
      }
      return undefined;
    },
    SETTLE_MS,
    `a split at ${splitKey}`,
  );
}

function describeRegion(r: raftpb.RegionStatus['region']): string {
  const range = `[${Buffer.from(r?.startKey ?? []).toString()}, ${Buffer.from(r?.endKey ?? []).toString()})`;
  return `region ${r?.id} v${r?.regionEpoch?.version} c${r?.regionEpoch?.confVer} ${range}`;
}

describe('region merge on a 3-store cluster, scheduled by PD', { timeout: 400_000 }, () => {
  let cluster: PdClusterProcesses | undefined;
  let pds: PdProcesses;
  let stores: StoreProcesses;
  let pd: PdClient;
  let client: FlotillaClient;

  before(async () => {
    cluster = await PdClusterProcesses.start({
      pdMemberIds: [1],
      pdArgs: [
        '--balance-interval-ms',
        '200',
        '--split-merge-interval-ms',
        '3000',
        '--step-resend-interval-ms',
        '1000',
        // The scanner's full scans would make every region "hot", and hot regions are neither
        // merged nor left where they are: this test is about merges.
        '--hot-region-keys-per-second-min',
        '1000000000',
      ],
      storeArgs: ['--store-heartbeat-interval-ms', '300', '--region-heartbeat-interval-ms', '1000'],
      client: { timeoutMs: 30_000 },
    });
    ({ pds, stores, pd, client } = cluster);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('small neighbours merge back under writes and scans; nothing lost or seen twice', async () => {
    await client.batchPut(Array.from({ length: KEYS_COUNT }, (_, i) => [key(i), `v${i}`] as const));
    // Three replicas everywhere before cutting (the merge needs identical placement).
    await eventually(
      async () => {
        const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10).catch(() => undefined);
        return res?.regions[0]?.region?.peers.length === 3 ? true : undefined;
      },
      SETTLE_MS,
      'three replicas',
    );
    for (const splitKey of SPLIT_KEYS) await splitAt(stores, splitKey);
    await eventually(
      async () => ((await regionCount(pd)) >= 5 ? true : undefined),
      SETTLE_MS,
      'PD sees 5 regions',
    );

    // Load while PD merges: one writer overwriting keys across all regions, one scanner.
    let stopped = false;
    const acknowledged = new Map<string, string>();
    let writes = 0;
    // A failed load ends the wait below at once and fails the test with its error.
    let loadError: unknown;
    const writer = (async () => {
      for (let n = 0; !stopped; n++) {
        const i = (n * 37) % KEYS_COUNT;
        const value = `w${n}`;
        await client.put(key(i), value);
        acknowledged.set(key(i), value);
        writes++;
      }
    })().catch((err: unknown) => {
      loadError ??= err;
    });
    let scans = 0;
    const scanner = (async () => {
      while (!stopped) {
        const seen: string[] = [];
        for await (const pair of client.scan({ start: 'k/', end: 'k0', limit: 10_000, keysOnly: true }))
          seen.push(pair.key.toString());
        assert.equal(seen.length, KEYS_COUNT, `scan ${scans} saw ${seen.length} keys`);
        for (let i = 0; i < KEYS_COUNT; i++) assert.equal(seen[i], key(i), `scan ${scans} at ${i}`);
        scans++;
      }
    })().catch((err: unknown) => {
      loadError ??= err;
    });
    const startedAtMs = Date.now();
    try {
      await eventually(
        async () => {
          if (loadError !== undefined) throw loadError;
          return (await regionCount(pd)) === 1 ? true : undefined;
        },
        SETTLE_MS,
        'one region left',
      );
      if (loadError !== undefined) throw loadError;
    } catch (err) {
      // What PD and the stores did, for the failure report.
      const ops = await pd.getOperators().catch(() => undefined);
      for (const op of [...(ops?.running ?? []), ...(ops?.finished ?? [])])
        console.log(`# operator ${op.kind} region ${op.regionId}: ${op.steps.join('; ')} -> ${op.status}`);
      for (const line of pds
        .log(1)
        .split('\n')
        .filter((l) => /region|stale/i.test(l))
        .slice(-25))
        console.log(`# pd: ${line}`);
      for (const slot of [1, 2, 3])
        for (const line of stores
          .log(slot)
          .split('\n')
          .filter((l) => /merge|operator/i.test(l))
          .slice(-15))
          console.log(`# store ${slot}: ${line}`);
      const map = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 100).catch(() => undefined);
      for (const r of map?.regions ?? [])
        console.log(`# pd map: ${describeRegion(r.region)} leader store ${r.leader?.storeId}`);
      for (const slot of [1, 2, 3]) {
        const status = await adminStatus(stores.addresses.get(slot) as string).catch(() => undefined);
        for (const r of status?.regions ?? [])
          console.log(
            `# store ${slot} holds ${describeRegion(r.region)} role ${r.role} term ${r.term} commit ${r.commitIndex} applied ${r.appliedIndex}`,
          );
      }
      throw err;
    } finally {
      stopped = true;
      await Promise.all([writer, scanner]);
    }
    console.log(
      `# 5 regions merged into 1 in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s under load ` +
        `(${writes} writes, ${scans} full scans)`,
    );
    assert.ok(scans > 0 && writes > 0);
    for (const [k, v] of acknowledged)
      assert.equal((await client.get(k))?.toString(), v, `${k} after the merges`);
    const ops = await pd.getOperators();
    const merged = ops.finished.filter(
      (op) => op.kind === 'merge' && op.status === pdpb.OperatorStatus.SUCCEEDED,
    );
    assert.ok(merged.length >= 4, `${merged.length} merge operators succeeded`);
    // Every store holds the one region.
    for (const slot of [1, 2, 3]) {
      const status = await adminStatus(stores.addresses.get(slot) as string);
      assert.equal(status.regions.length, 1, `store ${slot} holds ${status.regions.length} regions`);
    }
  });
});
