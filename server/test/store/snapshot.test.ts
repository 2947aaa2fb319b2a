// Log compaction and snapshots with three stores in one process and a small interval: the
// leader compacts while a follower is away, the follower comes back behind the leader's
// first index and catches up through a snapshot, ending with exactly the leader's data
// (deletes made while it was away included), and keeps it across a restart.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine, KeyValue, WriteBatch, WriteOptions } from '../../src/storage/engine.js';
import { DATA_PREFIX, applyStateKey, dataKey, dataRange } from '../../src/storage/keys.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { decodeApplyState } from '../../src/storage/raft-state-codec.js';
import type { WriteMutation } from '../../src/store/command-builder.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { Store } from '../../src/store/store.js';
import { SnapshotRejectedError } from '../../src/store/snapshot-installer.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const SMALL_LOG = { snapshotIntervalEntries: 50, compactionKeepEntries: 10 };

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function write(c: MemoryCluster, store: Store, mutations: readonly WriteMutation[]): Promise<void> {
  const peer = store.region(1);
  assert.ok(peer);
  let settled = false;
  const pending = store.propose(
    1,
    encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, mutations),
  );
  void pending.then(() => (settled = true));
  await c.tickUntil(() => settled);
  assert.equal((await pending).kind, 'write');
}

/** Writes `count` entries: puts of k000..k{count}, and every 7th entry deletes an earlier key. */
async function writeEntries(c: MemoryCluster, leader: Store, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const key = te.encode(`k${String(i).padStart(4, '0')}`);
    const mutation: WriteMutation =
      i % 7 === 6
        ? { kind: 'delete', key: te.encode(`k${String(i - 3).padStart(4, '0')}`) }
        : { kind: 'put', key, value: te.encode(`value-${i}`) };
    await write(c, leader, [mutation]);
  }
}

/** Ticks until the store applied `index`, then lets the round holding it finish (write, completions). */
async function untilApplied(c: MemoryCluster, store: Store, index: number): Promise<void> {
  await c.tickUntil(() => (store.region(1)?.storage.appliedIndex ?? 0) >= index);
  await store.whenIdle();
}

async function allData(engine: Engine): Promise<KeyValue[]> {
  return engine.scan(dataRange(new Uint8Array(0), new Uint8Array(0)), { limit: 100_000 });
}

/** A memory engine whose next write matching `failWhen` fails, as a full disk would. */
class FailingEngine extends MemoryEngine {
  failWhen: ((batch: WriteBatch) => boolean) | null = null;

  override write(batch: WriteBatch, options: WriteOptions): Promise<void> {
    if (this.failWhen?.(batch)) {
      this.failWhen = null;
      return Promise.reject(new Error('injected write failure'));
    }
    return super.write(batch, options);
  }
}

function dataPutsCount(batch: WriteBatch): number {
  return batch.operations().filter((op) => op.type === 'put' && op.key[0] === DATA_PREFIX).length;
}

function appliedIndexIn(engine: Engine): number {
  const bytes = engine.getSync(applyStateKey(1));
  assert.ok(bytes);
  return decodeApplyState(bytes).appliedIndex;
}

function engineOf(c: MemoryCluster, storeId: number): Engine {
  const engine = c.engines.get(storeId);
  assert.ok(engine);
  return engine;
}

describe('Store snapshots and log compaction', () => {
  it('compacts the log every snapshotIntervalEntries applied entries, keeping compactionKeepEntries', async () => {
    cluster = new MemoryCluster([1, 2, 3], 1, SMALL_LOG);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    await writeEntries(cluster, leader, 0, 120);
    const c = cluster;
    await c.tickUntil(() => c.live().every((s) => (s.region(1)?.storage.appliedIndex ?? 0) >= 120));
    for (const store of cluster.live()) {
      const storage = store.region(1)?.storage;
      assert.ok(storage);
      assert.ok(storage.truncatedIndex > 0, `store ${store.storeId} compacted its log`);
      assert.ok(storage.appliedIndex - storage.truncatedIndex >= SMALL_LOG.compactionKeepEntries);
      assert.ok(storage.retainedLogEntriesCount < SMALL_LOG.snapshotIntervalEntries + 20);
      assert.ok(store.stats().logCompactionsCount >= 2);
    }
  });

  it('catches up an isolated follower through a snapshot with exactly the leader data', async () => {
    cluster = new MemoryCluster([1, 2, 3], 3, SMALL_LOG);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    await writeEntries(cluster, leader, 0, 30);
    const follower = cluster.live().find((s) => s !== leader);
    assert.ok(follower);
    const c = cluster;
    await c.tickUntil(
      () => follower.region(1)?.storage.appliedIndex === leader.region(1)?.storage.appliedIndex,
    );
    const followerLastIndex = follower.region(1)?.storage.lastIndex() ?? 0;
    const k0001 = te.encode('k0001');
    assert.ok(engineOf(cluster, follower.storeId).getSync(dataKey(k0001)), 'the follower holds k0001');
    cluster.isolate(follower.storeId);
    await write(cluster, leader, [{ kind: 'delete', key: k0001 }]);
    await writeEntries(cluster, leader, 30, 220);
    const leaderStorage = leader.region(1)?.storage;
    assert.ok(
      leaderStorage && leaderStorage.truncatedIndex > followerLastIndex,
      'the entries it needs are gone',
    );

    cluster.heal(follower.storeId);
    await untilApplied(c, follower, leaderStorage.appliedIndex);
    assert.equal(follower.stats().snapshotsInstalledCount, 1);
    assert.ok((follower.region(1)?.storage.firstIndex() ?? 0) > followerLastIndex + 1);
    assert.equal(engineOf(cluster, follower.storeId).getSync(dataKey(k0001)), undefined);
    assert.deepEqual(
      await allData(engineOf(cluster, follower.storeId)),
      await allData(engineOf(cluster, leader.storeId)),
    );
    assert.deepEqual(cluster.fatalErrors, []);

    // It keeps following with plain appends after the snapshot.
    await writeEntries(cluster, leader, 250, 5);
    await untilApplied(c, follower, leaderStorage.appliedIndex);
    assert.deepEqual(
      await allData(engineOf(cluster, follower.storeId)),
      await allData(engineOf(cluster, leader.storeId)),
    );
  });

  it('catches up a crashed follower through a snapshot and keeps the installed state across a restart', async () => {
    cluster = new MemoryCluster([1, 2, 3], 5, SMALL_LOG);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    await writeEntries(cluster, leader, 0, 20);
    const victimId = cluster.live().find((s) => s !== leader)?.storeId;
    assert.ok(victimId !== undefined);
    await cluster.crash(victimId);
    await writeEntries(cluster, leader, 20, 210);
    const leaderStorage = leader.region(1)?.storage;
    assert.ok(leaderStorage);

    const c = cluster;
    const restarted = await cluster.startStore(victimId, false);
    await untilApplied(c, restarted, leaderStorage.appliedIndex);
    assert.equal(restarted.stats().snapshotsInstalledCount, 1);
    const expected = await allData(engineOf(cluster, leader.storeId));
    assert.deepEqual(await allData(engineOf(cluster, victimId)), expected);

    await cluster.crash(victimId);
    const again = await cluster.startStore(victimId, false);
    const storage = again.region(1)?.storage;
    assert.ok(storage && storage.appliedIndex >= leaderStorage.appliedIndex - 1);
    assert.ok(storage.firstIndex() > 21);
    assert.deepEqual(await allData(engineOf(cluster, victimId)), expected);
    assert.deepEqual(cluster.fatalErrors, []);
  });

  it('leaves no half snapshot when the install write fails, and installs it after a restart', async () => {
    cluster = new MemoryCluster([1, 2, 3], 11, SMALL_LOG);
    const engines = new Map([1, 2, 3].map((id) => [id, new FailingEngine()]));
    for (const [id, engine] of engines) cluster.engines.set(id, engine);
    await cluster.start();
    const { store: leader } = await cluster.waitForLeader(1);
    await writeEntries(cluster, leader, 0, 20);
    const victim = cluster.live().find((s) => s !== leader);
    assert.ok(victim);
    const c = cluster;
    const leaderStorage = leader.region(1)?.storage;
    assert.ok(leaderStorage);
    await untilApplied(c, victim, leaderStorage.appliedIndex);
    await cluster.crash(victim.storeId);
    const victimEngine = engines.get(victim.storeId) as FailingEngine;
    const dataBefore = await allData(victimEngine);
    const appliedBefore = appliedIndexIn(victimEngine);
    await writeEntries(cluster, leader, 20, 210);

    victimEngine.failWhen = (batch) => dataPutsCount(batch) > 100;
    await cluster.startStore(victim.storeId, false);
    await c.tickUntil(() => c.fatalErrors.length > 0);
    assert.match(String(cluster.fatalErrors[0]?.message), /injected write failure/);
    assert.deepEqual(await allData(victimEngine), dataBefore);
    assert.equal(appliedIndexIn(victimEngine), appliedBefore);

    await cluster.crash(victim.storeId);
    cluster.fatalErrors.length = 0;
    const again = await cluster.startStore(victim.storeId, false);
    await untilApplied(c, again, leaderStorage.appliedIndex);
    assert.equal(again.stats().snapshotsInstalledCount, 1);
    assert.deepEqual(await allData(victimEngine), await allData(engineOf(cluster, leader.storeId)));
    assert.deepEqual(cluster.fatalErrors, []);
  });

  it('rejects a snapshot addressed to another peer without touching the store', async () => {
    cluster = new MemoryCluster([1, 2, 3], 7, SMALL_LOG);
    await cluster.start();
    const { store: leader, peer } = await cluster.waitForLeader(1);
    const other = cluster.live().find((s) => s !== leader);
    assert.ok(other);
    const region = peer.region;
    const before = await allData(engineOf(cluster, other.storeId));
    const envelope = {
      regionId: 1,
      fromPeer: region.peers[0] as (typeof region.peers)[number],
      toPeer: { id: 99, storeId: other.storeId, role: 'voter' as const },
      regionEpoch: region.epoch,
      startKey: region.startKey,
      endKey: region.endKey,
      isTombstone: false,
      message: {
        type: 'snap' as const,
        to: 99,
        from: peer.peerId,
        term: 1,
        logTerm: 0,
        index: 0,
        entries: [],
        commit: 0,
        reject: false,
        rejectHint: 0,
        snapshot: {
          metadata: { index: 5, term: 1, confState: peer.node.status().confState },
          data: new Uint8Array(0),
        },
        context: new Uint8Array(0),
      },
    };
    await assert.rejects(
      other.receiveSnapshot(envelope, (async function* () {})()),
      (err: unknown) => err instanceof SnapshotRejectedError && /peer 99/.test(err.message),
    );
    assert.deepEqual(await allData(engineOf(cluster, other.storeId)), before);
  });
});
