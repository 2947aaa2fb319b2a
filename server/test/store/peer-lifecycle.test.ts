// Peers coming and going: with four stores and region 1 on stores 1-3, a learner added on
// store 4 is created there by the leader's first message (uninitialized: no range, not
// served), initialized by a snapshot, promoted to voter and then serves the same data; a
// removed voter destroys its peer (waiters failed, state deleted, a tombstone kept) and a
// restart on the same engine does not bring it back. A message for a region the store
// never saw creates nothing when its range overlaps a local region or a tombstone covers it.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfChange, Message } from '@flotilla/raft';
import {
  applyStateKey,
  dataKey,
  dataRange,
  raftHardStateKey,
  regionStateKey,
} from '../../src/storage/keys.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { PeerMeta } from '../../src/store/region-meta.js';
import { decodeRegionLocalState } from '../../src/store/region-meta.js';
import type { RaftEnvelope, Store } from '../../src/store/store.js';
import { liveValue } from '../../src/store/user-value.js';
import { MemoryCluster, changePeer } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function put(c: MemoryCluster, key: string, value: string): Promise<void> {
  const { store, peer } = await c.waitForLeader(1);
  const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
    { kind: 'put', key: te.encode(key), value: te.encode(value) },
  ]);
  const result = await c.ticking(store.propose(1, data));
  assert.equal(result.kind, 'write', JSON.stringify(result));
}

function localGet(c: MemoryCluster, storeId: number, key: string): string | undefined {
  const bytes = liveValue(c.engines.get(storeId)?.getSync(dataKey(te.encode(key))), Date.now());
  return bytes === undefined ? undefined : td.decode(bytes);
}

async function confChange(c: MemoryCluster, cc: ConfChange): Promise<void> {
  const { store } = await c.waitForLeader(1);
  const result = await c.ticking(store.proposeConfChange(1, cc));
  assert.notEqual(result.kind, 'regionError', JSON.stringify(result));
}

function heartbeat(to: number, from: number): Message {
  return {
    type: 'heartbeat',
    to,
    from,
    term: 9,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
}

function envelope(
  regionId: number,
  toPeer: PeerMeta,
  fromPeer: PeerMeta,
  range: [string, string],
): RaftEnvelope {
  return {
    regionId,
    fromPeer,
    toPeer,
    regionEpoch: { confVer: 2, version: 2 },
    startKey: te.encode(range[0]),
    endKey: te.encode(range[1]),
    message: heartbeat(toPeer.id, fromPeer.id),
    isTombstone: false,
  };
}

describe('Peer creation and destruction', () => {
  it('a second learner gets a snapshot that includes it, not the one generated for the first', async () => {
    // Regression (found with PD adding replicas one by one): the snapshot generated for the
    // first learner predates the second learner's conf change; handed to the second, the
    // core refused it (not in its configuration) and the leader resent it forever.
    const c = new MemoryCluster([1, 2, 3], 1, {}, { regionStoreIds: [1] });
    cluster = c;
    await c.start();
    await put(c, 'k', 'v');
    await confChange(c, changePeer('addLearner', { id: 2, storeId: 2, role: 'learner' }));
    const store2 = c.stores.get(2) as Store;
    await c.tickUntil(() => store2.region(1)?.initialized === true);
    await confChange(c, changePeer('addLearner', { id: 3, storeId: 3, role: 'learner' }));
    const store3 = c.stores.get(3) as Store;
    await c.tickUntil(() => store3.region(1)?.initialized === true);
    await c.tickUntil(() => localGet(c, 3, 'k') === 'v');
    assert.equal(store3.stats().snapshotsInstalledCount, 1);
  });

  it('adds a learner on a new store through a snapshot, promotes it, then removes a voter', async () => {
    const c = new MemoryCluster([1, 2, 3, 4], 1, {}, { regionStoreIds: [1, 2, 3] });
    cluster = c;
    await c.start();
    const store4 = c.stores.get(4) as Store;
    assert.equal(store4.allRegions().length, 0);
    for (let i = 0; i < 30; i++) await put(c, `k${String(i).padStart(2, '0')}`, `v${i}`);

    await confChange(c, changePeer('addLearner', { id: 4, storeId: 4, role: 'learner' }));
    await c.tickUntil(() => store4.region(1)?.initialized === true);
    assert.equal(store4.stats().peersCreatedCount, 1, 'created by the leader’s first message');
    assert.ok(store4.stats().snapshotsInstalledCount >= 1, 'initialized by a snapshot');
    assert.equal(store4.stats().uninitializedPeersCount, 0);
    await c.tickUntil(() => localGet(c, 4, 'k29') === 'v29');
    assert.equal(store4.regionForKey(te.encode('k00'))?.regionId, 1);

    await confChange(c, changePeer('addVoter', { id: 4, storeId: 4, role: 'voter' }));
    await put(c, 'after-promotion', 'yes');
    await c.tickUntil(() => localGet(c, 4, 'after-promotion') === 'yes');
    await c.tickUntil(() => store4.regionMeta(1)?.peers.find((p) => p.id === 4)?.role === 'voter');
    const served = await c.ticking(store4.readBarrier(1, 'safe'));
    // Store 4 follows: it serves a follower read once it applied the leader's index.
    assert.equal(served, undefined);
    assert.equal(localGet(c, 4, 'k07'), 'v7');

    // Remove a voter that is not the leader.
    const { store: leader } = await c.waitForLeader(1);
    const victimId = [1, 2, 3].find((id) => id !== leader.storeId) as number;
    const victim = c.stores.get(victimId) as Store;
    const victimPeer = victim.region(1);
    assert.ok(victimPeer);
    const pendingRead = victim.readBarrier(1, 'safe');
    await confChange(c, changePeer('removeNode', { id: victimId, storeId: victimId, role: 'voter' }));
    await c.tickUntil(() => victim.region(1) === undefined);
    assert.equal(victim.stats().peersDestroyedCount, 1);
    const readOutcome = await pendingRead;
    assert.ok(readOutcome === undefined || readOutcome.kind === 'regionNotFound', 'the waiter completed');
    const engine = c.engines.get(victimId);
    assert.ok(engine);
    assert.equal(engine.getSync(raftHardStateKey(1)), undefined);
    assert.equal(engine.getSync(applyStateKey(1)), undefined);
    assert.deepEqual(await engine.scan(dataRange(new Uint8Array(0), new Uint8Array(0)), { limit: 10 }), []);
    const state = engine.getSync(regionStateKey(1));
    assert.ok(state);
    const tombstone = decodeRegionLocalState(state);
    assert.equal(tombstone.lifecycle, 'tombstone');
    assert.ok(
      tombstone.region.peers.some((p) => p.id === victimId),
      'the tombstone keeps the removed peer id',
    );

    // A late message for the removed peer does not resurrect it, nor does a restart.
    victim.deliver([
      envelope(1, { id: victimId, storeId: victimId, role: 'voter' }, { id: 4, storeId: 4, role: 'voter' }, [
        '',
        '',
      ]),
    ]);
    assert.equal(victim.region(1), undefined);
    await c.crash(victimId);
    const restarted = await c.startStore(victimId, false);
    assert.equal(restarted.region(1), undefined);
    await put(c, 'after-removal', 'ok');
    await c.tickUntil(() => localGet(c, 4, 'after-removal') === 'ok');
    assert.deepEqual(c.fatalErrors, []);
  });

  it('creates no peer for a message whose range overlaps a local region, or beyond the bound', async () => {
    const c = new MemoryCluster([1, 2, 3], 1, { uninitializedPeersMax: 2 });
    cluster = c;
    await c.start();
    const store = c.stores.get(1) as Store;
    const self = (id: number): PeerMeta => ({ id, storeId: 1, role: 'voter' });
    const other = (id: number): PeerMeta => ({ id, storeId: 2, role: 'voter' });
    // Region 1 covers everything on store 1: a new region's message waits for the split there.
    store.deliver([envelope(70, self(700), other(701), ['m', ''])]);
    assert.equal(store.region(70), undefined);
    // A store holding nothing for the range creates an uninitialized peer, not served.
    const c4 = new MemoryCluster(
      [1, 2, 3, 4],
      2,
      { uninitializedPeersMax: 2 },
      { regionStoreIds: [1, 2, 3] },
    );
    await c.stopAll();
    cluster = c4;
    await c4.start();
    const empty = c4.stores.get(4) as Store;
    const on4 = (id: number): PeerMeta => ({ id, storeId: 4, role: 'voter' });
    empty.deliver([envelope(80, on4(800), other(801), ['a', 'b'])]);
    empty.deliver([envelope(81, on4(810), other(811), ['b', 'c'])]);
    empty.deliver([envelope(82, on4(820), other(821), ['c', 'd'])]);
    assert.equal(empty.region(80)?.initialized, false);
    assert.equal(empty.region(81)?.initialized, false);
    assert.equal(empty.region(82), undefined, 'bounded by uninitializedPeersMax');
    assert.equal(empty.regionMeta(80), undefined, 'an uninitialized peer is not served');
    const refused = await empty.propose(80, new Uint8Array([1]));
    assert.deepEqual(refused, { kind: 'regionError', error: { kind: 'regionNotFound', regionId: 80 } });
    // A response never creates a peer.
    const response = { ...envelope(83, on4(830), other(831), ['x', 'y']) };
    empty.deliver([{ ...response, message: { ...response.message, type: 'heartbeatResp' } }]);
    assert.equal(empty.region(83), undefined);
    // A tombstone message destroys an uninitialized peer, and a tombstone is kept.
    empty.deliver([{ ...envelope(80, on4(800), other(801), ['a', 'b']), isTombstone: true }]);
    await c4.tickUntil(() => empty.region(80) === undefined);
    empty.deliver([envelope(80, on4(800), other(801), ['a', 'b'])]);
    assert.equal(empty.region(80), undefined, 'the tombstone covers peer 800');
  });
});
