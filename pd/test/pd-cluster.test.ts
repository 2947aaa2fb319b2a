// The leader's cluster state over an in-memory meta store: bootstrap happens once, stores
// and regions survive a leader change (a new PdCluster loading the same meta store), region
// heartbeats update the tree and persist only metadata changes, splits replace parents.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metapb, pdpb } from '@flotilla/proto';
import { PdCluster } from '../src/cluster/pd-cluster.js';
import type { RegionReport } from '../src/cluster/pd-cluster.js';
import { EMPTY_REGION_LOAD } from '../src/cluster/region-info.js';
import { bootstrapKey } from '../src/meta/meta-keys.js';
import { PdRequestError } from '../src/pd-errors.js';
import type { RegionMeta } from '../../server/src/store/region-meta.js';
import { regionToProto } from '../../server/src/store/region-meta.js';
import { MemoryMetaKv } from './helpers/memory-meta-kv.js';
import { key, region } from './helpers/regions.js';

function newCluster(kv: MemoryMetaKv): PdCluster {
  return new PdCluster({ kv, nowUnixMs: () => 1_000, idBlockSize: 10, log: () => undefined });
}

function store(id: number, address = `127.0.0.1:${20_000 + id}`): metapb.Store {
  return {
    id: BigInt(id),
    address,
    labels: [],
    state: metapb.StoreState.UP,
    version: '0.1.0',
    statusAddress: '',
  };
}

function report(meta: RegionMeta, term = 1): RegionReport {
  return {
    region: meta,
    leader: meta.peers[0],
    term,
    downPeers: [],
    pendingPeers: [],
    load: { ...EMPTY_REGION_LOAD, approximateKeys: 42 },
  };
}

async function errorType(promise: Promise<unknown>): Promise<pdpb.ErrorType> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PdRequestError) return err.type;
    throw err;
  }
  throw new Error('expected a PD error');
}

const first = region(2, '', '', {}, [[3, 1]]);

describe('PdCluster', () => {
  it('refuses work before it is loaded, and store calls before bootstrap', async () => {
    const cluster = newCluster(new MemoryMetaKv());
    assert.throws(() => cluster.isBootstrapped(), PdRequestError);
    await cluster.load();
    assert.equal(cluster.isBootstrapped(), false);
    assert.equal(await errorType(cluster.putStore(store(1))), pdpb.ErrorType.NOT_BOOTSTRAPPED);
  });

  it('bootstraps once; a second bootstrap is ALREADY_BOOTSTRAPPED', async () => {
    const cluster = newCluster(new MemoryMetaKv());
    await cluster.load();
    await cluster.bootstrap(store(1), first);
    assert.equal(cluster.isBootstrapped(), true);
    assert.equal(cluster.getRegionByKey(key('x'))?.region.id, 2);
    assert.equal(
      await errorType(cluster.bootstrap(store(9), region(8, '', '', {}, [[7, 9]]))),
      pdpb.ErrorType.ALREADY_BOOTSTRAPPED,
    );
    assert.equal(cluster.getAllStores(false).length, 1);
  });

  it('keeps the cluster id, stores and regions across a leader change', async () => {
    const kv = new MemoryMetaKv();
    const a = newCluster(kv);
    await a.load();
    await a.bootstrap(store(1), first);
    await a.putStore(store(4));
    const b = newCluster(kv);
    await b.load();
    assert.equal(b.clusterId, a.clusterId);
    assert.ok(Number.isSafeInteger(b.clusterId) && (b.clusterId ?? 0) > 0);
    assert.deepEqual(
      b.getAllStores(false).map((s) => Number(s.store.id)),
      [1, 4],
    );
    assert.equal(b.getRegionById(2)?.region.id, 2);
  });

  it('keeps a restarted store id when its address changes; refuses an address another store uses', async () => {
    const cluster = newCluster(new MemoryMetaKv());
    await cluster.load();
    await cluster.bootstrap(store(1), first);
    await cluster.putStore(store(1, '127.0.0.1:30001'));
    assert.equal(cluster.getStore(1).store.address, '127.0.0.1:30001');
    assert.equal(
      await errorType(cluster.putStore(store(5, '127.0.0.1:30001'))),
      pdpb.ErrorType.INVALID_ARGUMENT,
    );
  });

  it('finishes a bootstrap whose leader died between the marker and the store and region write', async () => {
    const kv = new MemoryMetaKv();
    const record = pdpb.BootstrapRequest.encode({
      header: undefined,
      store: store(1),
      region: regionToProto(first),
    }).finish();
    await kv.compareAndSwap(bootstrapKey, undefined, record);
    const cluster = newCluster(kv);
    await cluster.load();
    assert.equal(cluster.isBootstrapped(), true);
    assert.equal(cluster.getStore(1).store.address, store(1).address);
    assert.equal(cluster.getRegionByKey(key(''))?.region.id, 2);
  });

  it('applies heartbeats in memory, persisting only metadata changes; stale ones are refused', async () => {
    const kv = new MemoryMetaKv();
    const cluster = newCluster(kv);
    await cluster.load();
    await cluster.bootstrap(store(1), first);
    const writes = kv.writesCount;
    const seen = await cluster.regionHeartbeat(report(first, 3));
    assert.equal(seen.load.approximateKeys, 42);
    assert.equal(cluster.getRegionById(2)?.leader?.id, 3);
    assert.equal(kv.writesCount, writes, 'same metadata: nothing written');
    const grown = region(2, '', '', { confVer: 2 }, [
      [3, 1],
      [5, 4],
    ]);
    await cluster.regionHeartbeat(report(grown, 3));
    assert.equal(kv.writesCount, writes + 1);
    assert.equal(await errorType(cluster.regionHeartbeat(report(first, 3))), pdpb.ErrorType.STALE_REGION);
  });

  it('learns a split from heartbeats alone, and the old parent report becomes stale', async () => {
    const kv = new MemoryMetaKv();
    const cluster = newCluster(kv);
    await cluster.load();
    await cluster.bootstrap(store(1), first);
    const [split] = await cluster.askBatchSplit(first, 1);
    assert.ok(split !== undefined && split.newPeerIds.length === 1);
    const right = region(Number(split.newRegionId), 'm', '', { version: 2 }, [
      [Number(split.newPeerIds[0]), 1],
    ]);
    await cluster.regionHeartbeat(report(right));
    assert.equal(await errorType(cluster.regionHeartbeat(report(first))), pdpb.ErrorType.STALE_REGION);
    await cluster.regionHeartbeat(report(region(2, '', 'm', { version: 2 }, [[3, 1]])));
    assert.deepEqual(
      cluster.scanRegions(key(''), key(''), 10).map((r) => r.region.id),
      [2, right.id],
    );
    const reloaded = newCluster(kv);
    await reloaded.load();
    assert.deepEqual(
      reloaded.scanRegions(key(''), key(''), 10).map((r) => r.region.id),
      [2, right.id],
    );
  });

  it('records a reported split in one step', async () => {
    const cluster = newCluster(new MemoryMetaKv());
    await cluster.load();
    await cluster.bootstrap(store(1), first);
    await cluster.reportBatchSplit([
      region(2, '', 'g', { version: 2 }, [[3, 1]]),
      region(20, 'g', '', { version: 2 }, [[21, 1]]),
    ]);
    assert.equal(cluster.getRegionByKey(key('h'))?.region.id, 20);
    assert.equal(cluster.getPrevRegion(key('h'))?.region.id, 2);
  });

  it('drops its state on unload', async () => {
    const cluster = newCluster(new MemoryMetaKv());
    await cluster.load();
    cluster.unload('gone');
    assert.equal(cluster.loaded, false);
    assert.throws(() => cluster.getRegionById(1), PdRequestError);
  });
});
