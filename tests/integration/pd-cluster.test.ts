// Three real PD member processes: bootstrap happens once, ids never repeat, stores and
// regions are registered and looked up, the region heartbeat stream updates the region map,
// followers redirect to the leader, and a kill -9 of the leader hands PD to another member
// with all state intact; the killed member rejoins when restarted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { metapb, pdpb } from '@flotilla/proto';
import { PdProcesses, pdCall } from '../support/pd-processes.js';
import { eventually } from '../support/store-processes.js';

/** Generous bound for an election plus a state load on a busy 2-core machine. */
const LEADER_TIMEOUT_MS = 30_000;

function storeProto(id: bigint, address: string): metapb.Store {
  return { id, address, labels: [], state: metapb.StoreState.UP, version: '0.1.0', statusAddress: '' };
}

function regionProto(
  id: bigint,
  start: string,
  end: string,
  version: number,
  peers: Array<[bigint, bigint]>,
): metapb.Region {
  return {
    id,
    startKey: Buffer.from(start),
    endKey: Buffer.from(end),
    regionEpoch: { confVer: 1n, version: BigInt(version) },
    peers: peers.map(([peerId, storeId]) => ({ id: peerId, storeId, role: metapb.PeerRole.VOTER })),
  };
}

describe('PD cluster (3 real member processes)', () => {
  let pd: PdProcesses;
  let clusterId = 0n;
  const allocated: bigint[] = [];
  // Filled by bootstrap: the first store, region and peer.
  let storeId = 0n;
  let regionId = 0n;
  let peerId = 0n;

  const header = (): pdpb.RequestHeader => ({ clusterId });
  const leader = (): Promise<number> =>
    eventually(() => pd.leaderId(), LEADER_TIMEOUT_MS, 'a serving PD leader');
  const onLeader = async (): Promise<pdpb.PDClient> => pd.client(await leader());
  const allocId = async (): Promise<bigint> => {
    const res = await pdCall(await onLeader(), 'allocId', { header: header() });
    assert.equal(res.header?.error, undefined);
    allocated.push(res.id);
    return res.id;
  };

  before(async () => {
    pd = await PdProcesses.create([1, 2, 3]);
    await pd.startAll();
  });

  after(async () => {
    await pd?.stopAll();
  });

  it('elects a leader that every member names, and followers answer NOT_LEADER with its address', async () => {
    const leaderId = await leader();
    for (const id of [1, 2, 3]) {
      // A follower names the leader once its first heartbeat arrived, and the cluster id once
      // it applied the entry holding it: wait for both events.
      const members = await eventually(
        async () => {
          const res = await pdCall(pd.client(id), 'getMembers', { header: undefined }).catch(() => undefined);
          const named = res !== undefined && Number(res.leader?.memberId) === leaderId;
          return named && (res.header?.clusterId ?? 0n) > 0n ? res : undefined;
        },
        LEADER_TIMEOUT_MS,
        `member ${id} naming leader ${leaderId}`,
      );
      assert.equal(members.members.length, 3);
      assert.equal(Number(members.leader?.memberId), leaderId, `member ${id} names the leader`);
      assert.ok(members.header !== undefined && members.header.clusterId > 0n);
      clusterId = members.header.clusterId;
    }
    const follower = [1, 2, 3].find((id) => id !== leaderId) as number;
    const refused = await pdCall(pd.client(follower), 'allocId', { header: header() });
    assert.equal(refused.header?.error?.type, pdpb.ErrorType.NOT_LEADER);
    assert.match(refused.header?.error?.message ?? '', new RegExp(pd.addresses.get(leaderId) as string));
  });

  it('bootstraps once; a second bootstrap is ALREADY_BOOTSTRAPPED', async () => {
    const client = await onLeader();
    assert.equal((await pdCall(client, 'isBootstrapped', { header: { clusterId: 0n } })).bootstrapped, false);
    storeId = await allocId();
    regionId = await allocId();
    peerId = await allocId();
    const first = await pdCall(client, 'bootstrap', {
      header: { clusterId: 0n },
      store: storeProto(storeId, '127.0.0.1:40001'),
      region: regionProto(regionId, '', '', 1, [[peerId, storeId]]),
    });
    assert.equal(first.header?.error, undefined);
    const otherStore = await allocId();
    const second = await pdCall(client, 'bootstrap', {
      header: header(),
      store: storeProto(otherStore, '127.0.0.1:40009'),
      region: regionProto(await allocId(), '', '', 1, [[await allocId(), otherStore]]),
    });
    assert.equal(second.header?.error?.type, pdpb.ErrorType.ALREADY_BOOTSTRAPPED);
    assert.equal((await pdCall(client, 'isBootstrapped', { header: header() })).bootstrapped, true);
  });

  it('allocates unique, non-zero ids', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => allocId()));
    assert.ok(ids.every((id) => id > 0n));
    assert.equal(new Set(allocated).size, allocated.length);
  });

  it('registers stores and lists them; checks the cluster id and malformed requests', async () => {
    const client = await onLeader();
    const second = await allocId();
    assert.equal(
      (await pdCall(client, 'putStore', { header: header(), store: storeProto(second, '127.0.0.1:40002') }))
        .header?.error,
      undefined,
    );
    const got = await pdCall(client, 'getStore', { header: header(), storeId: second });
    assert.equal(got.store?.address, '127.0.0.1:40002');
    const all = await pdCall(client, 'getAllStores', { header: header(), excludeTombstoneStores: true });
    assert.deepEqual(
      all.stores.map((s) => s.id),
      [storeId, second],
    );
    const missing = await pdCall(client, 'getStore', { header: header(), storeId: 999_999n });
    assert.equal(missing.header?.error?.type, pdpb.ErrorType.STORE_NOT_FOUND);
    const mismatch = await pdCall(client, 'getStore', { header: { clusterId: clusterId + 1n }, storeId });
    assert.equal(mismatch.header?.error?.type, pdpb.ErrorType.CLUSTER_ID_MISMATCH);
    await assert.rejects(
      pdCall(client, 'putStore', { header: header(), store: storeProto(0n, '127.0.0.1:40003') }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT,
    );
    const heartbeat = await pdCall(client, 'storeHeartbeat', {
      header: header(),
      stats: pdpb.StoreStats.fromPartial({
        storeId: second,
        regionCount: 3,
        capacityBytes: 1000n,
        usedBytes: 10n,
      }),
    });
    assert.equal(heartbeat.header?.error, undefined);
    const withStats = await pdCall(client, 'getStore', { header: header(), storeId: second });
    assert.equal(withStats.stats?.regionCount, 3);
  });

  it('learns regions, leaders and splits from the RegionHeartbeat stream', async () => {
    const leaderId = await leader();
    const stream = pd.client(leaderId).regionHeartbeat();
    const responses: pdpb.RegionHeartbeatResponse[] = [];
    stream.on('data', (r: pdpb.RegionHeartbeatResponse) => responses.push(r));
    stream.on('error', () => undefined);
    const heartbeat = (region: metapb.Region, term = 2n): void => {
      stream.write(
        pdpb.RegionHeartbeatRequest.fromPartial({
          header: header(),
          region,
          leader: region.peers[0],
          term,
          approximateSizeBytes: 4096n,
          approximateKeys: 16n,
        }),
      );
    };
    const client = pd.client(leaderId);
    const [split] = (
      await pdCall(client, 'askBatchSplit', {
        header: header(),
        region: regionProto(regionId, '', '', 1, [[peerId, storeId]]),
        splitCount: 1,
      })
    ).ids;
    assert.ok(split !== undefined && split.newPeerIds.length === 1);
    const right = regionProto(split.newRegionId, 'm', '', 2, [[split.newPeerIds[0] as bigint, storeId]]);
    heartbeat(right);
    await eventually(
      async () => {
        const res = await pdCall(client, 'getRegion', { header: header(), regionKey: Buffer.from('q') });
        return res.region?.region?.id === split.newRegionId ? res : undefined;
      },
      LEADER_TIMEOUT_MS,
      'the split-off region to be found by key',
    );
    // The parent's pre-split report is now stale.
    heartbeat(regionProto(regionId, '', '', 1, [[peerId, storeId]]));
    await eventually(
      () => Promise.resolve(responses.find((r) => r.header?.error?.type === pdpb.ErrorType.STALE_REGION)),
      LEADER_TIMEOUT_MS,
      'a STALE_REGION answer',
    );
    heartbeat(regionProto(regionId, '', 'm', 2, [[peerId, storeId]]));
    const scanned = await eventually(
      async () => {
        const res = await pdCall(client, 'scanRegions', {
          header: header(),
          startKey: Buffer.alloc(0),
          endKey: Buffer.alloc(0),
          limit: 10,
        });
        return res.regions.length === 2 && res.regions[0]?.region?.endKey.toString() === 'm'
          ? res
          : undefined;
      },
      LEADER_TIMEOUT_MS,
      'both halves in ScanRegions',
    );
    assert.deepEqual(
      scanned.regions.map((r) => r.region?.id),
      [regionId, split.newRegionId],
    );
    assert.equal(scanned.regions[0]?.leader?.id, peerId);
    const byId = await pdCall(client, 'getRegionById', { header: header(), regionId: split.newRegionId });
    assert.equal(byId.region?.region?.startKey.toString(), 'm');
    const prev = await pdCall(client, 'getPrevRegion', { header: header(), regionKey: Buffer.from('q') });
    assert.equal(prev.region?.region?.id, regionId);
    stream.end();
  });

  it('survives a kill -9 of the leader: another member leads with all state; the killed member rejoins', async () => {
    const oldLeader = await leader();
    const killedAtMs = Date.now();
    await pd.kill9(oldLeader);
    const newLeader = await leader();
    const failoverMs = Date.now() - killedAtMs;
    assert.notEqual(newLeader, oldLeader);
    console.log(`# PD failover: member ${oldLeader} -> ${newLeader} in ${failoverMs} ms`);
    await assertStateIntact();

    // The killed member rejoins: restart it, then take down the current leader too; the
    // remaining majority includes the restarted member, so it must have caught up.
    await pd.start(oldLeader);
    await eventually(
      async () => {
        const res = await pdCall(pd.client(oldLeader), 'getMembers', { header: undefined }).catch(
          () => undefined,
        );
        return res?.leader !== undefined ? res : undefined;
      },
      LEADER_TIMEOUT_MS,
      'the restarted member to learn the leader',
    );
    await pd.kill9(newLeader);
    const third = await leader();
    assert.notEqual(third, newLeader);
    await assertStateIntact();
  });

  async function assertStateIntact(): Promise<void> {
    const client = await onLeader();
    const members = await pdCall(client, 'getMembers', { header: undefined });
    assert.equal(members.header?.clusterId, clusterId, 'the cluster id survives');
    assert.equal((await pdCall(client, 'isBootstrapped', { header: header() })).bootstrapped, true);
    const stores = await pdCall(client, 'getAllStores', { header: header(), excludeTombstoneStores: false });
    assert.equal(stores.stores.length, 2);
    const regions = await pdCall(client, 'scanRegions', {
      header: header(),
      startKey: Buffer.alloc(0),
      endKey: Buffer.alloc(0),
      limit: 10,
    });
    assert.equal(regions.regions.length, 2);
    const highest = allocated.reduce((a, b) => (a > b ? a : b), 0n);
    const fresh = await allocId();
    assert.ok(
      fresh > highest,
      `id ${fresh} after failover must exceed every id handed out before (${highest})`,
    );
    assert.equal(new Set(allocated).size, allocated.length);
  }
});
