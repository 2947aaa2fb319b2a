// Expired keys are reclaimed from disk on every replica by the leader's sweep, decided at
// apply time against the command's timestamp: live keys, keys without TTL and keys
// rewritten since they expired all survive.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dataKey } from '../../src/storage/keys.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { WriteMutation } from '../../src/store/command-builder.js';
import type { Store } from '../../src/store/store.js';
import { TtlSweeper, TTL_SWEEP_EXPIRE_KEYS_MAX } from '../../src/store/ttl-sweeper.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

const te = new TextEncoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** Writes as if proposed at `atUnixMs` (a TTL then runs from that moment). */
async function write(
  c: MemoryCluster,
  store: Store,
  atUnixMs: number,
  mutations: WriteMutation[],
): Promise<void> {
  const peer = store.region(1);
  assert.ok(peer);
  const result = await c.ticking(
    store.propose(
      1,
      encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: atUnixMs }, mutations),
    ),
  );
  assert.equal(result.kind, 'write');
}

function onDisk(c: MemoryCluster, storeId: number, key: string): boolean {
  return c.engines.get(storeId)?.getSync(dataKey(te.encode(key))) !== undefined;
}

describe('TtlSweeper', () => {
  it('deletes expired keys on every replica and keeps live ones', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    const longAgo = Date.now() - 60_000;
    await write(cluster, store, longAgo, [
      { kind: 'put', key: te.encode('expired-1'), value: te.encode('x'), ttlMs: 1000 },
      { kind: 'put', key: te.encode('expired-2'), value: te.encode('x'), ttlMs: 1000 },
      { kind: 'put', key: te.encode('no-ttl'), value: te.encode('x') },
    ]);
    await write(cluster, store, Date.now(), [
      { kind: 'put', key: te.encode('live'), value: te.encode('x'), ttlMs: 3_600_000 },
    ]);
    const sweeper = new TtlSweeper(store, { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) });
    const report = await cluster.ticking(sweeper.sweepOnce());
    assert.deepEqual(report, { regionsSwept: 1, keysProposed: 2 });
    await cluster.tickUntil(() =>
      [1, 2, 3].every((id) => !onDisk(cluster as MemoryCluster, id, 'expired-2')),
    );
    for (const id of [1, 2, 3]) {
      assert.equal(onDisk(cluster, id, 'expired-1'), false, `store ${id}`);
      assert.equal(onDisk(cluster, id, 'no-ttl'), true, `store ${id}`);
      assert.equal(onDisk(cluster, id, 'live'), true, `store ${id}`);
    }
  });

  it('leaves a key rewritten after it expired (the condition is checked at apply time)', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    await write(cluster, store, Date.now(), [
      { kind: 'put', key: te.encode('k'), value: te.encode('new') },
      { kind: 'expire', key: te.encode('k') },
    ]);
    await cluster.tickUntil(() => [1, 2, 3].every((id) => onDisk(cluster as MemoryCluster, id, 'k')));
  });

  it(`proposes at most ${TTL_SWEEP_EXPIRE_KEYS_MAX} keys per command and resumes after them`, async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    const count = TTL_SWEEP_EXPIRE_KEYS_MAX + 10;
    const mutations: WriteMutation[] = Array.from({ length: count }, (_, i) => ({
      kind: 'put',
      key: te.encode(`e${String(i).padStart(4, '0')}`),
      value: te.encode('x'),
      ttlMs: 1,
    }));
    await write(cluster, store, Date.now() - 60_000, mutations);
    const sweeper = new TtlSweeper(store, { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) });
    assert.equal((await cluster.ticking(sweeper.sweepOnce())).keysProposed, TTL_SWEEP_EXPIRE_KEYS_MAX);
    assert.equal((await cluster.ticking(sweeper.sweepOnce())).keysProposed, 10);
    await cluster.tickUntil(
      () => !onDisk(cluster as MemoryCluster, store.storeId, `e${String(count - 1).padStart(4, '0')}`),
    );
  });

  it('skips a region with nothing expired until it applies a write or a TTL deadline passes', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store } = await cluster.waitForLeader(1);
    const t0 = Date.now();
    await write(cluster, store, t0, [
      { kind: 'put', key: te.encode('plain'), value: te.encode('x') },
      { kind: 'put', key: te.encode('soon'), value: te.encode('x'), ttlMs: 60_000 },
    ]);
    let now = t0;
    const sweeper = new TtlSweeper(store, { nowUnixMs: () => now, defer: (fn) => setImmediate(fn) });
    assert.deepEqual(await cluster.ticking(sweeper.sweepOnce()), { regionsSwept: 1, keysProposed: 0 });
    assert.deepEqual(
      await cluster.ticking(sweeper.sweepOnce()),
      { regionsSwept: 0, keysProposed: 0 },
      'idle: skipped',
    );
    now = t0 + 60_001; // the TTL deadline the clean pass saw has passed
    assert.deepEqual(await cluster.ticking(sweeper.sweepOnce()), { regionsSwept: 1, keysProposed: 1 });
    await cluster.tickUntil(() => !onDisk(cluster as MemoryCluster, 1, 'soon'));
    // The expire write was applied: the next pass looks again, finds nothing, then rests.
    assert.deepEqual(await cluster.ticking(sweeper.sweepOnce()), { regionsSwept: 1, keysProposed: 0 });
    assert.deepEqual(await cluster.ticking(sweeper.sweepOnce()), { regionsSwept: 0, keysProposed: 0 });
    await write(cluster, store, now, [{ kind: 'put', key: te.encode('new'), value: te.encode('y') }]);
    assert.deepEqual(
      await cluster.ticking(sweeper.sweepOnce()),
      { regionsSwept: 1, keysProposed: 0 },
      'a write wakes it',
    );
  });
});
