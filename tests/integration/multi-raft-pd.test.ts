// A Multi-Raft cluster run by a Placement Driver, all real processes: 3 PD members and
// store processes that join through PD. The first store bootstraps the cluster with a
// one-voter region; PD's replica checker grows it to three replicas on the other stores
// (learner, snapshot, promotion). Clients (the SDK) find regions through PD. Then: a split
// through the Admin API with writes flowing, a new store filled by the replica balancer, a
// killed store whose replicas PD repairs onto the others, and a killed PD leader the
// stores and clients ride through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metapb } from '@flotilla/proto';
import { runClientCommand } from '../../server/src/cli/client-commands.js';
import type { FlotillaClient } from '../../sdk/src/index.js';
import type { PdClient } from '../../server/src/pd-client/pd-client.js';
import type { PdProcesses } from '../support/pd-processes.js';
import { PdClusterProcesses } from '../support/pd-cluster-processes.js';
import type { StoreProcesses } from '../support/store-processes.js';
import { adminStatus, eventually, adminSplitRegion } from '../support/store-processes.js';

/** Generous bounds: a busy 2-core CI machine runs 3 PD members and 4 stores here. */
const SETTLE_MS = 90_000;
const STORE_DOWN_MS = 3_000;

const key = (i: number): string => `key-${String(i).padStart(5, '0')}`;

async function regionsFromPd(
  pd: PdClient,
): Promise<Array<{ id: number; voters: number[]; learners: number[]; startKey: string; endKey: string }>> {
  const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 1000);
  return res.regions.map((r) => {
    const peers = r.region?.peers ?? [];
    return {
      id: Number(r.region?.id),
      voters: peers
        .filter((p) => p.role === 0)
        .map((p) => Number(p.storeId))
        .sort((a, b) => a - b),
      learners: peers.filter((p) => p.role !== 0).map((p) => Number(p.storeId)),
      startKey: Buffer.from(r.region?.startKey ?? []).toString(),
      endKey: Buffer.from(r.region?.endKey ?? []).toString(),
    };
  });
}

describe('a Multi-Raft cluster under a Placement Driver', { timeout: 600_000 }, () => {
  let cluster: PdClusterProcesses | undefined;
  let pds: PdProcesses;
  let stores: StoreProcesses;
  let pd: PdClient;
  let client: FlotillaClient;
  let written = 0;

  before(async () => {
    cluster = await PdClusterProcesses.start({
      pdMemberIds: [1, 2, 3],
      pdArgs: [
        '--max-store-down-time-ms',
        String(STORE_DOWN_MS),
        '--store-disconnected-time-ms',
        '1500',
        '--balance-interval-ms',
        '200',
        '--step-resend-interval-ms',
        '1000',
      ],
      storeArgs: ['--store-heartbeat-interval-ms', '300', '--region-heartbeat-interval-ms', '1000'],
      client: { timeoutMs: 20_000 },
    });
    ({ pds, stores, pd, client } = cluster);
  });

  after(async () => {
    await cluster?.stop();
  });

  test('the first store bootstraps one region; PD grows it to three voters on three stores', async () => {
    const storeIds = [1, 2, 3].map((slot) => stores.storeIdOfSlot.get(slot));
    assert.equal(new Set(storeIds).size, 3, 'every store got its own id from PD');
    const regions = await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => undefined);
        return rs !== undefined && rs.length === 1 && rs[0]?.voters.length === 3 ? rs : undefined;
      },
      SETTLE_MS,
      'the first region reaching three voters',
    );
    assert.deepEqual(
      regions[0]?.voters,
      [...(storeIds as number[])].sort((a, b) => a - b),
    );
  });

  test('the SDK writes and reads through PD routing', async () => {
    for (; written < 300; written++) await client.put(key(written), `value-${written}`);
    for (let i = 0; i < written; i += 37) assert.equal((await client.get(key(i)))?.toString(), `value-${i}`);
  });

  test('a split with writes flowing: both halves serve, every key is read once by a scan', async () => {
    const [region] = await regionsFromPd(pd);
    assert.ok(region);
    const info = await pd.getRegionById(region.id);
    const leaderStore = Number(info.region?.leader?.storeId);
    const slot = stores.slotOfStore(leaderStore);
    assert.ok(slot !== undefined, `leader store ${leaderStore} is one of ours`);
    const status = await adminStatus(stores.addresses.get(slot) as string);
    const local = status.regions.find((r) => Number(r.region?.id) === region.id);
    assert.ok(local?.region?.regionEpoch);
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await client.put(key(written), `value-${written}`);
        written++;
      }
    })();
    const res = await adminSplitRegion(stores.addresses.get(slot) as string, {
      regionId: BigInt(region.id),
      regionEpoch: local.region.regionEpoch,
      splitKeys: [Buffer.from(key(150))],
    });
    assert.equal(res.regionError, undefined, res.regionError?.message);
    assert.equal(res.regions.length, 2);
    // Keep writing across the split until PD has seen it, then stop.
    await eventually(
      async () => ((await regionsFromPd(pd).catch(() => [])).length === 2 ? true : undefined),
      SETTLE_MS,
      'PD learning of the split',
    );
    writing = false;
    await writer;
    const seen = new Map<string, number>();
    for await (const pair of client.scan({}))
      seen.set(pair.key.toString(), (seen.get(pair.key.toString()) ?? 0) + 1);
    assert.equal(seen.size, written, 'every acknowledged write is in the scan');
    for (const [k, count] of seen) assert.equal(count, 1, `${k} read once`);
    for (let i = 0; i < written; i += 41) assert.equal((await client.get(key(i)))?.toString(), `value-${i}`);
  });

  test('a new store receives replicas from the balancer (scale-out)', async () => {
    await stores.addSlot(4);
    await stores.start(4);
    const newStore = stores.storeIdOfSlot.get(4) as number;
    await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => []);
        const onNew = rs.filter((r) => r.voters.includes(newStore)).length;
        return onNew >= 1 && rs.every((r) => r.voters.length === 3) ? true : undefined;
      },
      SETTLE_MS,
      `store ${newStore} receiving a replica`,
    );
  });

  test('a dead store is repaired: its replicas move to the other stores, clients keep going', async () => {
    const regions = await regionsFromPd(pd);
    // Kill a store that holds a replica of some region and is not needed to keep a quorum elsewhere.
    const victimStore = regions[0]?.voters[0] as number;
    const victimSlot = stores.slotOfStore(victimStore) as number;
    await stores.kill9(victimSlot);
    const start = Date.now();
    await client.put('after-kill', 'still-writing');
    assert.equal((await client.get('after-kill'))?.toString(), 'still-writing');
    const repaired = await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => []);
        return rs.length > 0 && rs.every((r) => r.voters.length === 3 && !r.voters.includes(victimStore))
          ? rs
          : undefined;
      },
      SETTLE_MS,
      `replicas on dead store ${victimStore} replaced`,
    );
    console.log(
      `# repaired ${repaired.length} region(s) ${Date.now() - start} ms after the kill (down after ${STORE_DOWN_MS} ms)`,
    );
    for (let i = 0; i < written; i += 29) assert.equal((await client.get(key(i)))?.toString(), `value-${i}`);
  });

  test('decommission: an Offline store is emptied by PD and retired as a Tombstone', async () => {
    // A fifth store joins, so that three remain after the decommission.
    await stores.addSlot(5);
    await stores.start(5);
    const regionsNow = await regionsFromPd(pd);
    const victim = regionsNow[0]?.voters.find((s) => s !== stores.storeIdOfSlot.get(5)) as number;
    assert.ok(victim !== undefined);
    const out: string[] = [];
    const code = await runClientCommand(
      ['decommission', String(victim)],
      { FLOTILLA_PD: pds.endpoints().join(',') },
      { out: (l) => out.push(l), err: (l) => out.push(l) },
    );
    assert.equal(code, 0, out.join('\n'));
    await eventually(
      async () => {
        const res = await pd.getStore(victim).catch(() => undefined);
        return res?.store?.state === metapb.StoreState.TOMBSTONE ? true : undefined;
      },
      SETTLE_MS,
      `store ${victim} emptied and retired`,
    );
    const after = await regionsFromPd(pd);
    assert.ok(after.every((r) => r.voters.length === 3 && !r.voters.includes(victim)));
    // Going back is refused with a clear error.
    const refused = await pd.setStoreState(victim, metapb.StoreState.UP).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    assert.match(refused?.message ?? '', /only go forward/);
    for (let i = 0; i < written; i += 53) assert.equal((await client.get(key(i)))?.toString(), `value-${i}`);
  });

  test('the PD leader is killed: stores and clients continue', async () => {
    const leader = await eventually(() => pds.leaderId(), SETTLE_MS, 'a PD leader');
    await pds.kill9(leader);
    for (let i = 0; i < 50; i++) await client.put(`after-pd-kill-${i}`, `v${i}`);
    for (let i = 0; i < 50; i += 7)
      assert.equal((await client.get(`after-pd-kill-${i}`))?.toString(), `v${i}`);
    // PD keeps working: a new member leads and still knows every region.
    const regions = await eventually(
      async () => {
        const rs = await regionsFromPd(pd).catch(() => undefined);
        return rs !== undefined && rs.length >= 2 ? rs : undefined;
      },
      SETTLE_MS,
      'the new PD leader answering',
    );
    assert.ok(regions.length >= 2);
  });
});
