// The multi-raft store loop with three stores in one process: a region elects a leader,
// writes commit on every replica through one batched write per round, reads wait for the
// ReadIndex to be applied, refusals come back as region errors with hints, and a new leader
// takes over when the old one crashes, with every acknowledged write intact.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dataKey } from '../../src/storage/keys.js';
import { encodeCompareAndSwap, encodeWrite } from '../../src/store/command-builder.js';
import type { CommandResult } from '../../src/store/command-apply.js';
import { liveValue } from '../../src/store/user-value.js';
import type { Store } from '../../src/store/store.js';
import { MemoryCluster, settle } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

function origin(store: Store): {
  region: NonNullable<ReturnType<Store['regionMeta']>>;
  peerId: number;
  nowUnixMs: number;
} {
  const peer = store.region(1);
  assert.ok(peer);
  return { region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() };
}

async function put(c: MemoryCluster, store: Store, key: string, value: string): Promise<CommandResult> {
  const pending = store.propose(
    1,
    encodeWrite(origin(store), [{ kind: 'put', key: te.encode(key), value: te.encode(value) }]),
  );
  return c.ticking(pending);
}

function localGet(c: MemoryCluster, storeId: number, key: string): string | undefined {
  const bytes = liveValue(c.engines.get(storeId)?.getSync(dataKey(te.encode(key))), Date.now());
  return bytes === undefined ? undefined : td.decode(bytes);
}

describe('Store (3 stores, one region)', () => {
  it('elects a leader and replicates writes to every store', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    for (let i = 0; i < 20; i++) {
      const result = await put(cluster, store, `k${i}`, `v${i}`);
      assert.equal(result.kind, 'write');
    }
    await cluster.tickUntil(() =>
      [1, 2, 3].every((id) => localGet(cluster as MemoryCluster, id, 'k19') === 'v19'),
    );
    for (const id of [1, 2, 3]) assert.equal(localGet(cluster, id, 'k7'), 'v7');
    assert.deepEqual(cluster.fatalErrors, []);
  });

  it("sends the leader's appends before its own write, and commits only after that write", async () => {
    // Raft thesis §10.2.1: followers persist in parallel with the leader. The leader's own
    // entry counts only once its write is durable: acks are stepped in a later round.
    cluster = new MemoryCluster([1, 2, 3]);
    const c = cluster;
    await c.start();
    const { store, peer } = await c.waitForLeader(1);
    assert.equal((await put(c, store, 'warm', 'up')).kind, 'write');
    const engine = c.engines.get(store.storeId);
    assert.ok(engine);
    const write = engine.write.bind(engine);
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let heldWrites = 0;
    engine.write = async (batch, options) => {
      if (options.sync) {
        heldWrites++;
        await gate;
      }
      return write(batch, options);
    };
    const before = peer.node.basicStatus();
    let answered = false;
    const pending = store
      .propose(1, encodeWrite(origin(store), [{ kind: 'put', key: te.encode('k'), value: te.encode('v') }]))
      .then((result) => {
        answered = true;
        return result;
      });
    const followers = c.live().filter((s) => s !== store);
    await c.tickUntil(() =>
      followers.every((s) => (s.region(1)?.node.basicStatus().lastIndex ?? 0) > before.lastIndex),
    );
    assert.equal(heldWrites, 1, "the leader's write is still held");
    assert.equal(peer.node.basicStatus().commit, before.commit, 'nothing commits before the leader wrote');
    assert.equal(answered, false);
    engine.write = write;
    release();
    assert.equal((await c.ticking(pending)).kind, 'write');
    await c.tickUntil(() => [1, 2, 3].every((id) => localGet(c, id, 'k') === 'v'));
    assert.deepEqual(c.fatalErrors, []);
  });

  it('batches many regions-worth of proposals into few synced writes', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    const before = store.stats().syncedWritesCount;
    const proposals = [];
    for (let i = 0; i < 200; i++) {
      proposals.push(
        store.propose(
          1,
          encodeWrite(origin(store), [{ kind: 'put', key: te.encode(`b${i}`), value: te.encode('x') }]),
        ),
      );
    }
    const results = await cluster.ticking(Promise.all(proposals));
    assert.ok(results.every((r) => r.kind === 'write'));
    const synced = store.stats().syncedWritesCount - before;
    assert.ok(synced < 20, `200 proposals took ${synced} synced writes on the leader; expected a handful`);
  });

  it('serves a linearizable read only after the ReadIndex is applied', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    await put(cluster, store, 'rk', 'before');
    const error = await cluster.ticking(store.readBarrier(1, 'safe'));
    assert.equal(error, undefined);
    assert.equal(localGet(cluster, store.storeId, 'rk'), 'before');
  });

  it('confirms the reads that arrive in one round with one ReadIndex (one heartbeat round, not one per read)', async () => {
    const c = new MemoryCluster([1, 2, 3]);
    cluster = c;
    await c.start();
    const { store } = await c.waitForLeader(1);
    await put(c, store, 'rk', 'before');
    const readsCount = 200;
    const sentCount = (): number => c.messagesSentCount + c.heartbeatsSentCount;
    const sentBefore = sentCount();
    const reads = Array.from({ length: readsCount }, () => store.readBarrier(1, 'safe'));
    const errors = await c.ticking(Promise.all(reads));
    assert.ok(errors.every((e) => e === undefined));
    const sent = sentCount() - sentBefore;
    // One read per heartbeat round would send 2 heartbeats (and get 2 answers) per read.
    assert.ok(sent < readsCount / 4, `${readsCount} reads sent ${sent} Raft messages`);
  });

  it('refuses proposals on a follower with NotLeader naming the leader', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store: leader, peer } = await cluster.waitForLeader(1);
    await put(cluster, leader, 'x', '1');
    const follower = cluster.live().find((s) => s !== leader);
    assert.ok(follower);
    await cluster.tickUntil(() => follower.region(1)?.node.status().leaderId === peer.peerId);
    const result = await cluster.ticking(
      follower.propose(1, encodeWrite(origin(follower), [{ kind: 'delete', key: te.encode('x') }])),
    );
    assert.equal(result.kind, 'regionError');
    assert.ok(result.kind === 'regionError' && result.error.kind === 'notLeader');
    assert.equal(
      result.kind === 'regionError' && result.error.kind === 'notLeader' ? result.error.leader?.id : 0,
      peer.peerId,
    );
  });

  it('serves a follower ReadIndex read once the follower applied the leader-confirmed index', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    const follower = cluster.live().find((s) => s !== leader);
    assert.ok(follower);
    await put(cluster, leader, 'fr', 'latest');
    const readError = await cluster.ticking(follower.readBarrier(1, 'safe'));
    assert.equal(readError, undefined);
    assert.equal(
      localGet(cluster, follower.storeId, 'fr'),
      'latest',
      'the write acknowledged before the read is visible',
    );
  });

  it('answers RegionNotFound for a region the store does not hold', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const store = cluster.live()[0];
    assert.ok(store);
    const result = await store.propose(99, new Uint8Array([1]));
    assert.deepEqual(result, { kind: 'regionError', error: { kind: 'regionNotFound', regionId: 99 } });
  });

  it('decides compare-and-swap at apply time, in log order', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    const o = origin(store);
    const first = store.propose(
      1,
      encodeCompareAndSwap(o, { key: te.encode('lock'), expectedValue: undefined, newValue: te.encode('a') }),
    );
    const second = store.propose(
      1,
      encodeCompareAndSwap(o, { key: te.encode('lock'), expectedValue: undefined, newValue: te.encode('b') }),
    );
    const [r1, r2] = await cluster.ticking(Promise.all([first, second]));
    assert.equal(r1?.kind === 'compareAndSwap' && r1.succeeded, true);
    assert.equal(r2?.kind === 'compareAndSwap' && r2.succeeded, false);
    assert.equal(r2?.kind === 'compareAndSwap' ? td.decode(r2.previousValue) : '', 'a');
  });

  it('elects a new leader after the leader crashes and keeps every acknowledged write', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store: oldLeader } = await cluster.waitForLeader(1);
    for (let i = 0; i < 10; i++)
      assert.equal((await put(cluster, oldLeader, `d${i}`, `v${i}`)).kind, 'write');
    await cluster.crash(oldLeader.storeId);
    const { store: newLeader } = await cluster.waitForLeader(1);
    assert.notEqual(newLeader.storeId, oldLeader.storeId);
    assert.equal((await put(cluster, newLeader, 'after', 'crash')).kind, 'write');
    for (let i = 0; i < 10; i++) assert.equal(localGet(cluster, newLeader.storeId, `d${i}`), `v${i}`);
  });

  it('recovers a restarted store from its engine and catches it up', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    const victim = cluster.live().find((s) => s !== leader);
    assert.ok(victim);
    await put(cluster, leader, 'before', '1');
    await cluster.tickUntil(() => localGet(cluster as MemoryCluster, victim.storeId, 'before') === '1');
    await cluster.crash(victim.storeId);
    for (let i = 0; i < 10; i++) await put(cluster, leader, `while-down-${i}`, 'x');
    await cluster.startStore(victim.storeId, false);
    await settle();
    await cluster.tickUntil(() => localGet(cluster as MemoryCluster, victim.storeId, 'while-down-9') === 'x');
    const peer = cluster.stores.get(victim.storeId)?.region(1);
    assert.ok(peer && peer.storage.appliedIndex >= 12);
  });
});
