// The SDK against real store processes: a static 3-store cluster (one region, id 1, over
// the whole key space; peer id = store id) with an in-process fake PD serving that region
// and the store addresses. Every API call works on the real stores, and under a mixed load
// the leader's store is killed with SIGKILL: the SDK must follow the new leader, every
// acknowledged write must be readable afterwards, and the only failures allowed are
// ResultUnknown (a write whose answer died with the store) and Timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResultUnknownError, TimeoutError, createClient } from '../../sdk/src/index.js';
import type { FlotillaClient } from '../../sdk/src/index.js';
import { FakeKvState, FakePd } from '../../sdk/test/support/fake-cluster.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';

describe('SDK on a static cluster of 3 real stores', () => {
  let cluster: StoreProcesses;
  let pd: FakePd;
  let client: FlotillaClient;

  before(async () => {
    cluster = await StoreProcesses.create([1, 2, 3]);
    await cluster.startAll();
    const state = new FakeKvState();
    state.regions = [
      {
        id: 1n,
        startKey: Buffer.alloc(0),
        endKey: Buffer.alloc(0),
        version: 1n,
        confVer: 1n,
        storeIds: [1n, 2n, 3n],
        peerIds: [1n, 2n, 3n],
        // PD does not know the leader: the SDK finds it through NotLeader hints.
        leaderStoreId: 0n,
      },
    ];
    pd = new FakePd(state, (id) => cluster.addresses.get(Number(id)));
    await pd.start();
    client = await createClient({ pdEndpoints: [pd.address], timeoutMs: 20_000 });
  });

  after(async () => {
    await client?.close();
    pd?.stop();
    await cluster?.stopAll();
  });

  it('serves every API call', async () => {
    await client.put('it/a', 'A');
    assert.equal((await client.get('it/a'))?.toString(), 'A');
    await client.batchWrite([
      { type: 'put', key: 'it/b', value: 'B' },
      { type: 'put', key: 'it/c', value: 'C' },
      { type: 'delete', key: 'it/a' },
    ]);
    assert.deepEqual(
      (await client.batchGet(['it/a', 'it/b', 'it/c'])).map((v) => v?.toString()),
      [undefined, 'B', 'C'],
    );
    assert.deepEqual(await client.compareAndSwap('it/cas', null, '1'), {
      succeeded: true,
      previousValue: undefined,
    });
    const lost = await client.compareAndSwap('it/cas', '0', '2');
    assert.equal(lost.succeeded, false);
    assert.equal(lost.previousValue?.toString(), '1');
    assert.equal((await client.get('it/b', { consistency: 'lease' }))?.toString(), 'B');
    await client.deleteRange('it/', 'it0');
    assert.deepEqual(await client.batchGet(['it/b', 'it/c', 'it/cas']), [undefined, undefined, undefined]);
  });

  it('scans many keys in pages, forward and reverse', async () => {
    const keys = Array.from({ length: 1200 }, (_, i) => `scan/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 400)
      await client.batchPut(keys.slice(i, i + 400).map((k) => [k, k] as const));
    const forward: string[] = [];
    for await (const { key, value } of client.scan({ start: 'scan/', end: 'scan0' })) {
      assert.equal(value.toString(), key.toString());
      forward.push(key.toString());
    }
    assert.deepEqual(forward, keys);
    const reverse: string[] = [];
    for await (const { key } of client.scan({
      start: 'scan/',
      end: 'scan0',
      reverse: true,
      keysOnly: true,
      limit: 500,
    }))
      reverse.push(key.toString());
    assert.deepEqual(reverse, [...keys].reverse().slice(0, 500));
  });

  it('expires a key written with a TTL', async () => {
    await client.put('ttl/short', 'gone soon', { ttlMs: 500 });
    await client.put('ttl/none', 'stays');
    await eventually(
      async () => ((await client.get('ttl/short')) === undefined ? true : undefined),
      15_000,
      'TTL expiry',
    );
    assert.equal((await client.get('ttl/none'))?.toString(), 'stays');
  });

  it('keeps every acknowledged write through a SIGKILL of the leader under load', async () => {
    const leader = await eventually(() => cluster.leaderStoreId(), 15_000, 'a leader');
    const acknowledged = new Map<string, string>();
    const failures = { resultUnknown: 0, timeout: 0 };
    let opsDone = 0;
    let stop = false;
    let afterKillOk = 0;
    let killed = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const key = `load/${w}/${i}`;
        try {
          await client.put(key, `v${i}`, { timeoutMs: 10_000 });
          acknowledged.set(key, `v${i}`);
          if (i > 0) await client.get(`load/${w}/${i - 1}`, { timeoutMs: 10_000 });
          opsDone++;
          if (killed) afterKillOk++;
        } catch (err) {
          if (err instanceof ResultUnknownError) failures.resultUnknown++;
          else if (err instanceof TimeoutError) failures.timeout++;
          else throw err;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await eventually(
      async () => (opsDone >= 300 ? true : undefined),
      60_000,
      '300 operations before the kill',
    );
    await cluster.kill9(leader);
    killed = true;
    const retriesBefore = client.stats().retries;
    await eventually(
      async () => (afterKillOk >= 300 ? true : undefined),
      60_000,
      '300 operations after the kill',
    );
    stop = true;
    await Promise.all(workers);
    const retries = client.stats().retries;
    assert.ok(
      retries.notLeader + retries.notSent + retries.connectionLost >
        retriesBefore.notLeader + retriesBefore.notSent + retriesBefore.connectionLost,
      'the SDK had to find the new leader',
    );
    const newLeader = await eventually(() => cluster.leaderStoreId(), 15_000, 'a new leader');
    assert.notEqual(newLeader, leader);
    const keys = [...acknowledged.keys()];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await client.batchGet(chunk);
      chunk.forEach((k, j) =>
        assert.equal(values[j]?.toString(), acknowledged.get(k), `acknowledged write ${k} lost`),
      );
    }
    // Only the writes in flight to the killed store can have lost their answer: one per worker.
    assert.equal(failures.timeout, 0, 'no call ran out of time');
    assert.ok(
      failures.resultUnknown <= workers.length,
      `${failures.resultUnknown} ResultUnknown for ${workers.length} workers`,
    );
  });
});
