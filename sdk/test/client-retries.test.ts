// Routing and retries against fake stores over real sockets: leader hints, elections,
// splits under a batch and under a scan, busy stores, dead stores, lost answers, deadlines,
// aborts, PD failover, bounded queues — and for writes, that a request which may have
// reached a store is never sent twice.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortedError,
  QueueFullError,
  ResultUnknownError,
  ServerBusyError,
  TimeoutError,
  createClient,
} from '../src/index.js';
import type { ClientOptions, FlotillaClient } from '../src/index.js';
import { FakeCluster, FakePd, refused } from './support/fake-cluster.js';
import type { FakeRegion, Intercept } from './support/fake-cluster.js';

let cluster: FakeCluster | undefined;
let client: FlotillaClient | undefined;

afterEach(async () => {
  await client?.close();
  cluster?.stop();
  client = undefined;
  cluster = undefined;
});

async function setup(
  options: Partial<ClientOptions> = {},
  storeCount = 3,
): Promise<{ cluster: FakeCluster; client: FlotillaClient }> {
  cluster = await FakeCluster.start(storeCount);
  client = await createClient({ pdEndpoints: [cluster.pd.address], timeoutMs: 5_000, ...options });
  return { cluster, client };
}

function region1(c: FakeCluster): FakeRegion {
  return c.state.region(1n) as FakeRegion;
}

/** Answers the first `count` requests matching `match` with `answer`, then serves normally. */
function firstN(
  count: number,
  match: (body: Parameters<Intercept>[1]) => boolean,
  answer: Intercept,
): Intercept {
  let left = count;
  return (storeId, body) => {
    if (left === 0 || !match(body)) return undefined;
    left--;
    return answer(storeId, body);
  };
}

describe('leader changes', () => {
  it('follows a NotLeader hint at once and applies the write once', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    region1(c).leaderStoreId = 2n;
    await k.put('a', '1');
    assert.equal(c.state.writesApplied, 1);
    assert.equal(k.stats().retries.notLeader, 1);
    await k.put('b', '2');
    assert.equal(k.stats().retries.notLeader, 1, 'the new leader is cached');
    assert.equal(c.store(1n).requests, 2, 'warm-up get and the redirected put');
  });

  it('tries the other peers while no leader is known (an election)', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    region1(c).leaderStoreId = 0n;
    let refusals = 0;
    c.setIntercept((_s, body) => {
      if (++refusals === 5) region1(c).leaderStoreId = 3n;
      return undefined;
      void body;
    });
    await k.put('a', '1');
    assert.equal(c.state.writesApplied, 1);
    assert.ok(k.stats().retries.notLeader >= 3);
  });

  it('retries a StaleCommand write (its log slot went to another leader: not applied)', async () => {
    const { cluster: c, client: k } = await setup();
    c.setIntercept(
      firstN(
        1,
        (b) => b.$case === 'put',
        (_s, body) => refused(body, { message: 'stale', error: { $case: 'staleCommand', staleCommand: {} } }),
      ),
    );
    await k.put('a', '1');
    assert.equal((await k.get('a'))?.toString(), '1');
    assert.equal(k.stats().retries.staleCommand, 1);
  });
});

describe('region changes', () => {
  it('re-splits a batch after EpochNotMatch when its region split', async () => {
    const { cluster: c, client: k } = await setup();
    await k.batchPut([
      ['a', '1'],
      ['z', '2'],
    ]);
    c.state.split(1n, 'm', 2n);
    assert.deepEqual(
      (await k.batchGet(['a', 'z'])).map((v) => v?.toString()),
      ['1', '2'],
    );
    assert.ok(k.stats().retries.epochNotMatch >= 1);
    await k.batchWrite([
      { type: 'put', key: 'b', value: '3' },
      { type: 'put', key: 'y', value: '4' },
    ]);
    assert.deepEqual(
      (await k.batchGet(['b', 'y'])).map((v) => v?.toString()),
      ['3', '4'],
    );
  });

  it('a scan survives splits and a merge in the middle, returning every key once in order', async () => {
    const { cluster: c, client: k } = await setup({ scanPageSize: 20 });
    const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 100)
      await k.batchPut(keys.slice(i, i + 100).map((x) => [x, x] as const));
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      let step = 0;
      for await (const { key } of k.scan({ reverse })) {
        seen.push(key.toString());
        step++;
        // Splits and merges both behind and ahead of the cursor.
        if (step === 50) c.state.splitAt(reverse ? 'k0100' : 'k0200', reverse ? 11n : 10n);
        if (step === 120) c.state.splitAt('k0150', reverse ? 21n : 20n);
        if (step === 200) {
          if (reverse) c.state.merge(1n, 11n);
          else c.state.merge(20n, 10n);
        }
      }
      assert.deepEqual(seen, reverse ? [...keys].reverse() : keys);
      c.state.regions = [
        {
          ...region1(c),
          startKey: Buffer.alloc(0),
          endKey: Buffer.alloc(0),
          version: region1(c).version + 10n,
        },
      ];
    }
  });

  it('after a merge: a write to the vanished source region (RegionNotFound) is routed to the merged region through PD and applied once', async () => {
    const { cluster: c, client: k } = await setup();
    c.state.split(1n, 'm', 2n);
    await k.put('a', '1');
    await k.put('x', '1');
    c.state.merge(1n, 2n);
    const applied = c.state.writesApplied;
    const before = k.stats();
    // 'x' is cached in region 2, which no store has any more.
    await k.put('x', '2');
    const after = k.stats();
    assert.ok(after.retries.regionNotFound > before.retries.regionNotFound, 'the source was found gone');
    // The merged region replaced the target's stale entry too: 'a' goes straight through.
    await k.put('a', '2');
    assert.equal(k.stats().retries.epochNotMatch, after.retries.epochNotMatch);
    assert.equal(c.state.writesApplied - applied, 2, 'each write applied once');
    assert.deepEqual(await k.batchGet(['a', 'x']), [Buffer.from('2'), Buffer.from('2')]);
    // The merged region, learned once, routes both halves of the old key space.
    const pdCalls = k.stats().pdCalls;
    await k.put('b', '3');
    await k.put('y', '3');
    assert.equal(k.stats().pdCalls, pdCalls, 'no PD call once the merged region is cached');
  });

  it('while PD still describes a merged-away region, retries back off (growing pauses) until PD catches up, within the deadline', async () => {
    const { cluster: c, client: k } = await setup({ timeoutMs: 30_000 });
    c.state.split(1n, 'm', 2n);
    await k.put('x', '1');
    // PD lags: it keeps answering with the regions as they were before the merge.
    const before = c.state.regions.map((r) => ({ ...r }));
    c.state.merge(1n, 2n);
    const lagMs = 2_000;
    const lagEndsAtMs = Date.now() + lagMs;
    c.pd.regions = () => (Date.now() < lagEndsAtMs ? before : c.state.regions);
    const startedMs = Date.now();
    // 64 retries with a pause that restarted at 10 ms for every lookup gave up in well under a second.
    await k.put('x', '2');
    assert.ok(Date.now() - startedMs >= lagMs, 'the write waited for PD');
    assert.equal(c.state.data.get('x')?.toString(), '2');
    assert.ok(k.stats().retries.regionNotFound < 64, `${k.stats().retries.regionNotFound} retries`);
  });

  it('after a split, the new region is served at once by its peer on the store that answered EpochNotMatch', async () => {
    const { cluster: c, client: k } = await setup();
    region1(c).leaderStoreId = 2n;
    await k.put('x', '1');
    // The right half's leader is on store 2 too, as after a real split (its peer there campaigns at once).
    c.state.split(1n, 'm', 5n);
    const before = k.stats();
    await k.put('x', '2');
    const after = k.stats();
    assert.equal(after.retries.epochNotMatch - before.retries.epochNotMatch, 1);
    assert.equal(after.retries.notLeader, before.retries.notLeader, 'no NotLeader: the guess was right');
    assert.equal(after.pdCalls, before.pdCalls, 'no PD call: the EpochNotMatch carried the new region');
    assert.equal(c.state.data.get('x')?.toString(), '2');
  });

  it('deleteRange re-splits a part whose region split', async () => {
    const { cluster: c, client: k } = await setup();
    await k.batchPut([
      ['a1', '1'],
      ['m1', '1'],
      ['z1', '1'],
    ]);
    c.state.split(1n, 'f', 2n);
    await k.deleteRange('a', 'n');
    assert.deepEqual(
      (await k.batchGet(['a1', 'm1', 'z1'])).map((v) => v?.toString()),
      [undefined, undefined, '1'],
    );
  });
});

describe('busy and dead stores', () => {
  it('waits the backoff a busy store asks for, then succeeds', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    c.setIntercept(
      firstN(
        1,
        () => true,
        (_s, body) =>
          refused(body, {
            message: 'busy',
            error: { $case: 'serverIsBusy', serverIsBusy: { reason: 'full', backoffMs: 150 } },
          }),
      ),
    );
    const started = Date.now();
    await k.put('a', '1');
    assert.ok(Date.now() - started >= 140, 'honours backoffMs');
    assert.equal(k.stats().retries.serverIsBusy, 1);
  });

  it('reports ServerBusyError when the store stays busy until the deadline', async () => {
    const { cluster: c, client: k } = await setup();
    c.setIntercept((_s, body) =>
      refused(body, {
        message: 'busy',
        error: { $case: 'serverIsBusy', serverIsBusy: { reason: 'full', backoffMs: 20 } },
      }),
    );
    await assert.rejects(k.get('a', { timeoutMs: 300 }), ServerBusyError);
  });

  it('sends elsewhere when the cached leader is down (nothing was sent, so writes retry too)', async () => {
    const { cluster: c, client: k } = await setup();
    c.store(1n).stop();
    region1(c).leaderStoreId = 2n;
    await k.put('a', '1');
    assert.equal((await k.get('a'))?.toString(), '1');
    assert.equal(c.state.writesApplied, 1);
    assert.ok(k.stats().retries.notSent >= 1);
  });

  for (const coalesce of [true, false]) {
    it(`a write whose store dies after receiving it is ResultUnknown, a read is retried (coalesce ${coalesce})`, async () => {
      const { cluster: c, client: k } = await setup({ coalesce });
      await k.get('warm');
      c.store(1n).intercept = () => 'hang';
      const arrived = c.store(1n).nextHang();
      const put = k.put('a', '1');
      const outcome = put.then(
        () => 'ok',
        (e: unknown) => e,
      );
      await arrived;
      const readArrived = c.store(1n).nextHang();
      const get = k.get('b');
      await readArrived;
      region1(c).leaderStoreId = 2n;
      c.store(1n).stop();
      assert.ok((await outcome) instanceof ResultUnknownError);
      assert.equal(await get, undefined);
      assert.equal(c.state.writesApplied, 0, 'the write was never resent');
    });
  }

  it('resends an idempotent write after its store died with it', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    c.store(1n).intercept = () => 'hang';
    const arrived = c.store(1n).nextHang();
    const put = k.put('a', '1', { idempotent: true });
    await arrived;
    region1(c).leaderStoreId = 2n;
    c.store(1n).stop();
    await put;
    assert.equal((await k.get('a'))?.toString(), '1');
  });
});

describe('deadlines and aborts', () => {
  it('a read past its deadline is a TimeoutError, a sent write is ResultUnknown', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    c.setIntercept(() => 'hang');
    await assert.rejects(k.get('a', { timeoutMs: 200 }), TimeoutError);
    await assert.rejects(k.put('a', '1', { timeoutMs: 200 }), ResultUnknownError);
    await assert.rejects(k.compareAndSwap('a', null, '1', { timeoutMs: 200 }), ResultUnknownError);
    await assert.rejects(k.deleteRange('a', 'b', { timeoutMs: 200 }), ResultUnknownError);
    // Requests the store never answered are forgotten once their callers gave up.
    const connections = [...k['pool']['connections'].values()];
    assert.ok(connections.length > 0);
    for (const connection of connections) assert.equal(connection.stream['stream']?.slots.size ?? 0, 0);
  });

  it('an abort before sending is AbortedError; after a write was sent, ResultUnknown', async () => {
    const { cluster: c, client: k } = await setup();
    await k.get('warm');
    const early = new AbortController();
    early.abort();
    await assert.rejects(k.put('a', '1', { signal: early.signal }), AbortedError);
    c.setIntercept(() => 'hang');
    const late = new AbortController();
    const arrived = c.store(1n).nextHang();
    const put = k.put('a', '1', { signal: late.signal });
    const outcome = put.then(
      () => 'ok',
      (e: unknown) => e,
    );
    await arrived;
    late.abort();
    assert.ok((await outcome) instanceof ResultUnknownError);
    const readAbort = new AbortController();
    const readArrived = c.store(1n).nextHang();
    const get = k.get('a', { signal: readAbort.signal }).then(
      () => 'ok',
      (e: unknown) => e,
    );
    await readArrived;
    readAbort.abort();
    assert.ok((await get) instanceof AbortedError);
  });

  it('fails fast with QueueFullError when a store queue is full', async () => {
    const { cluster: c, client: k } = await setup({ inFlightPerStoreMax: 1, queuedPerStoreMax: 2 });
    await k.get('warm');
    c.setIntercept(() => 'hang');
    const pending = Promise.allSettled([
      k.get('a', { timeoutMs: 2_000 }),
      k.get('b', { timeoutMs: 2_000 }),
      k.get('c', { timeoutMs: 2_000 }),
    ]);
    await assert.rejects(k.get('d'), QueueFullError);
    for (const p of await pending) assert.ok(p.status === 'rejected' && p.reason instanceof TimeoutError);
  });
});

describe('coalescing and PD', () => {
  it('64 concurrent gets and puts share a few frames (at least 4 operations per RPC)', async () => {
    const { client: k } = await setup();
    await k.get('warm');
    const before = k.stats();
    await Promise.all(
      Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? k.put(`k${i}`, 'v') : k.get(`k${i}`))),
    );
    const after = k.stats();
    const ops = after.ops - before.ops;
    const rpcs = after.rpcs - before.rpcs;
    assert.equal(ops, 64);
    assert.ok(ops / rpcs >= 4, `${ops} ops in ${rpcs} rpcs`);
  });

  it('a coalescing window gathers requests issued in different event-loop turns', async () => {
    for (const [coalesceWindowMs, frames] of [
      [0, 2],
      [200, 1],
    ] as const) {
      const c = cluster ?? (await FakeCluster.start(3));
      cluster = c;
      const k = await createClient({ pdEndpoints: [c.pd.address], coalesceWindowMs });
      try {
        await k.get('warm');
        const before = k.stats().rpcs;
        const first = k.get('a');
        // Two turns later: the first request's turn-end flush has run.
        for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
        await Promise.all([first, k.put('b', '1')]);
        assert.equal(k.stats().rpcs - before, frames, `window ${coalesceWindowMs} ms`);
      } finally {
        await k.close();
      }
    }
  });

  it('without coalescing every operation is its own RPC', async () => {
    const { client: k } = await setup({ coalesce: false });
    await k.get('warm');
    const before = k.stats().rpcs;
    await Promise.all(Array.from({ length: 16 }, (_, i) => k.get(`k${i}`)));
    assert.equal(k.stats().rpcs - before, 16);
  });

  it('concurrent cache misses share one PD lookup', async () => {
    const c = await FakeCluster.start(3);
    cluster = c;
    c.state.split(1n, 'm', 2n);
    client = await createClient({ pdEndpoints: [c.pd.address] });
    const lookupsBefore = c.pd.count('scanRegions');
    await Promise.all(Array.from({ length: 50 }, (_, i) => client!.get(`key-${i}`)));
    assert.equal(c.pd.count('scanRegions') - lookupsBefore, 0, 'createClient prefetched both regions');
    const cold = await createClient({ pdEndpoints: [c.pd.address] });
    try {
      const base = c.pd.count('scanRegions');
      cold['runner'].locator.cache.clear();
      await Promise.all(Array.from({ length: 50 }, (_, i) => cold.get(`key-${i}`)));
      assert.equal(c.pd.count('scanRegions') - base, 1);
    } finally {
      await cold.close();
    }
  });

  it('follows the PD leader named by GetMembers, and a new one after failover', async () => {
    const c = await FakeCluster.start(3);
    cluster = c;
    const second = new FakePd(c.state, (id) => c.stores.get(id)?.address);
    await second.start();
    try {
      let leader = second.address;
      c.pd.leaderAddress = () => leader;
      second.leaderAddress = () => leader;
      client = await createClient({ pdEndpoints: [c.pd.address, second.address], timeoutMs: 5_000 });
      await client.put('a', '1');
      assert.ok(second.count('scanRegions') >= 1 && c.pd.count('scanRegions') === 0);
      leader = c.pd.address;
      second.stop();
      // A cold cache: the next call must ask PD (an EpochNotMatch would carry the regions).
      client['runner'].locator.cache.clear();
      await client.put('z', '2');
      assert.ok(c.pd.count('scanRegions') >= 1, 'asked the new leader');
    } finally {
      second.stop();
    }
  });
});
