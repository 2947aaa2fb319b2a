// A message for a region whose peer the store is creating right now (its local state is
// durable, its peer not yet added: a split's finishSplit or a load awaiting createRegionPeer)
// creates no uninitialized peer. Found with the many-regions benchmark: such a vote request
// made createUninitializedPeer throw inside Store.deliver, which killed the whole Batch
// stream from the sending store, lost every frame in flight and reported all their regions
// unreachable (which wakes every hibernated region with a peer there).
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '@flotilla/raft';
import { SeededRandom } from '@flotilla/raft';
import { WriteBatch } from '../../src/storage/engine.js';
import type { RegionMeta } from '../../src/store/region-meta.js';
import { createRegionPeer } from '../../src/store/region-loader.js';
import { writeInitialRegionState } from '../../src/store/region-split.js';
import type { RaftEnvelope, Store } from '../../src/store/store.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

const te = new TextEncoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

function preVote(regionId: number, region: RegionMeta, fromStoreId: number, toStoreId: number): RaftEnvelope {
  const from = region.peers.find((p) => p.storeId === fromStoreId);
  const to = region.peers.find((p) => p.storeId === toStoreId);
  if (from === undefined || to === undefined) throw new Error('test region lacks a peer');
  const message: Message = {
    type: 'preVote',
    to: to.id,
    from: from.id,
    term: 6,
    logTerm: 5,
    index: 5,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
  return {
    regionId,
    fromPeer: from,
    toPeer: to,
    regionEpoch: region.epoch,
    startKey: region.startKey,
    endKey: region.endKey,
    message,
    isTombstone: false,
  };
}

describe('Peer creation while the region is being created', () => {
  it('drops a message for a region whose local state is on disk but whose peer is not added yet', async () => {
    const c = new MemoryCluster([1, 2, 3, 4], 3, {}, { regionStoreIds: [1, 2, 3] });
    cluster = c;
    await c.start();
    const store = c.stores.get(4) as Store;
    const engine = c.engines.get(4);
    const config = c.configs.get(4);
    assert.ok(engine && config);
    const region: RegionMeta = {
      id: 90,
      startKey: te.encode('p'),
      endKey: te.encode('q'),
      epoch: { confVer: 1, version: 1 },
      peers: [2, 3, 4].map((storeId) => ({ id: 900 + storeId, storeId, role: 'voter' as const })),
    };
    const batch = new WriteBatch();
    writeInitialRegionState(batch, region, undefined);
    await engine.write(batch, { sync: true });
    const droppedBefore = store.stats().droppedRaftMessagesCount;

    assert.doesNotThrow(() => store.deliver([preVote(90, region, 2, 4)]));
    assert.equal(store.region(90), undefined, 'no uninitialized peer for a region being created');
    assert.equal(store.stats().droppedRaftMessagesCount, droppedBefore + 1);

    // The creation then completes, and the next message reaches the real peer.
    const peer = await createRegionPeer(region, 904, {
      engine,
      config,
      randomFor: (regionId) => new SeededRandom(regionId),
      requestSnapshot: () => {},
    });
    store.addRegion(peer);
    store.deliver([preVote(90, region, 2, 4)]);
    assert.equal(store.region(90)?.initialized, true);
    assert.equal(store.stats().droppedRaftMessagesCount, droppedBefore + 1);
    assert.deepEqual(c.fatalErrors, []);
  });
});
