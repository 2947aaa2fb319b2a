// The client end to end against fake stores and a fake PD over real sockets: every API call
// does what it says, across several regions, and close() releases everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb } from '@flotilla/proto';
import { ClientClosedError, InvalidArgumentError, createClient } from '../src/index.js';
import type { FlotillaClient } from '../src/index.js';
import { FakeCluster } from './support/fake-cluster.js';

describe('client API against fake stores', () => {
  let cluster: FakeCluster;
  let client: FlotillaClient;

  before(async () => {
    cluster = await FakeCluster.start(3);
    // Three regions: [ , g) on leader 1, [g, p) on leader 2, [p, ) on leader 3.
    cluster.state.split(1n, 'g', 2n);
    cluster.state.split(2n, 'p', 3n);
    (cluster.state.region(2n) as { leaderStoreId: bigint }).leaderStoreId = 2n;
    (cluster.state.region(3n) as { leaderStoreId: bigint }).leaderStoreId = 3n;
    client = await createClient({ pdEndpoints: [cluster.pd.address], timeoutMs: 5_000 });
  });

  after(async () => {
    await client?.close();
    cluster?.stop();
  });

  it('puts, gets and deletes keys given as strings or bytes', async () => {
    await client.put('apple', 'red');
    await client.put(Buffer.from('zebra'), new Uint8Array([1, 2, 3]));
    assert.equal((await client.get('apple'))?.toString(), 'red');
    assert.deepEqual([...((await client.get('zebra')) ?? [])], [1, 2, 3]);
    await client.delete('apple');
    assert.equal(await client.get('apple'), undefined);
  });

  it('batchGet and batchPut span regions and keep the caller order', async () => {
    await client.batchPut([
      ['b1', 'v-b1'],
      ['k1', 'v-k1'],
      ['x1', 'v-x1'],
    ]);
    const values = await client.batchGet(['x1', 'missing', 'b1', 'k1']);
    assert.deepEqual(
      values.map((v) => v?.toString()),
      ['v-x1', undefined, 'v-b1', 'v-k1'],
    );
  });

  it('batchWrite mixes puts and deletes', async () => {
    await client.batchWrite([
      { type: 'put', key: 'c1', value: '1' },
      { type: 'delete', key: 'k1' },
      { type: 'put', key: 'q1', value: '2', ttlMs: 60_000 },
    ]);
    assert.deepEqual(
      (await client.batchGet(['c1', 'k1', 'q1'])).map((v) => v?.toString()),
      ['1', undefined, '2'],
    );
  });

  it('compareAndSwap succeeds only on the expected value, absent included', async () => {
    assert.deepEqual(await client.compareAndSwap('cas', null, 'one'), {
      succeeded: true,
      previousValue: undefined,
    });
    const failed = await client.compareAndSwap('cas', 'nope', 'two');
    assert.equal(failed.succeeded, false);
    assert.equal(failed.previousValue?.toString(), 'one');
    assert.equal((await client.compareAndSwap('cas', 'one', null)).succeeded, true);
    assert.equal(await client.get('cas'), undefined);
  });

  it('scans forward and in reverse across region boundaries, with limit and keysOnly', async () => {
    const keys = ['a0', 'd0', 'f9', 'g0', 'h5', 'o9', 'p0', 's1', 'z9'];
    await client.batchPut(keys.map((k) => [k, k] as const));
    const all: string[] = [];
    for await (const { key } of client.scan({ start: 'a', end: 'zz' })) all.push(key.toString());
    for (const k of keys) assert.ok(all.includes(k), `forward scan missed ${k}`);
    assert.deepEqual(all, [...all].sort());
    const reversed: string[] = [];
    for await (const { key, value } of client.scan({
      start: 'a',
      end: 'zz',
      reverse: true,
      keysOnly: true,
    })) {
      reversed.push(key.toString());
      assert.equal(value.length, 0);
    }
    assert.deepEqual(reversed, [...all].reverse());
    const limited: string[] = [];
    for await (const { key } of client.scan({ start: 'f', limit: 3 })) limited.push(key.toString());
    assert.deepEqual(limited, all.filter((k) => k >= 'f').slice(0, 3));
  });

  it('deleteRange deletes across regions and nothing outside the range', async () => {
    await client.batchPut([
      ['r-a', '1'],
      ['e1', '1'],
      ['h1', '1'],
      ['r1', '1'],
      ['t1', '1'],
    ]);
    await client.deleteRange('e', 't');
    assert.deepEqual(
      (await client.batchGet(['e1', 'h1', 'r1', 't1'])).map((v) => v?.toString()),
      [undefined, undefined, undefined, '1'],
    );
  });

  it('rejects bad arguments with InvalidArgumentError naming the field', async () => {
    await assert.rejects(
      client.get(''),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'key',
    );
    await assert.rejects(
      client.put('k', 'v', { ttlMs: -1 }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'ttlMs',
    );
    await assert.rejects(
      client.get('k', { consistency: 'eventual' as never }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'consistency',
    );
    assert.throws(() => client.scan({ start: 'b', end: 'a' }), InvalidArgumentError);
  });

  it('refuses a timeoutMs that is not an integer in [1, 2^31 - 1] (the longest Node.js timer)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      await client.put('timeout-k', 'v');
      for (const timeoutMs of [
        2 ** 31,
        2 ** 32 - 1,
        2 ** 53,
        Number.POSITIVE_INFINITY,
        Number.NaN,
        -1,
        0,
        1.5,
      ])
        await assert.rejects(
          client.get('timeout-k', { timeoutMs }),
          (e: unknown) => e instanceof InvalidArgumentError && e.field === 'timeoutMs',
          `timeoutMs ${timeoutMs}`,
        );
      assert.throws(
        () => client.scan({ start: 'a', timeoutMs: 2 ** 31 }),
        (e: unknown) => e instanceof InvalidArgumentError && e.field === 'timeoutMs',
      );
      await assert.rejects(
        createClient({ pdEndpoints: [cluster.pd.address], timeoutMs: 2 ** 31 }),
        (e: unknown) => e instanceof InvalidArgumentError && e.field === 'timeoutMs',
      );
      // The largest accepted timeout arms real timers without overflowing them.
      assert.equal((await client.get('timeout-k', { timeoutMs: 2 ** 31 - 1 }))?.toString(), 'v');
      await client.put('timeout-k', 'w', { timeoutMs: 2 ** 31 - 1 });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => w.name === 'TimeoutOverflowWarning').map((w) => w.message),
      [],
    );
  });

  it('refuses strings that are not well-formed UTF-16 (lone surrogates), keys and values alike', async () => {
    const refused = (field: string) => (e: unknown) => e instanceof InvalidArgumentError && e.field === field;
    await client.put('\ufffd', 'the replacement character');
    await assert.rejects(client.get('\ud800'), refused('key'));
    await assert.rejects(client.put('\ud800', 'x'), refused('key'));
    await assert.rejects(client.put('a\udc00b', 'x'), refused('key'));
    await assert.rejects(client.put('k', '\udfff'), refused('value'));
    await assert.rejects(client.compareAndSwap('k', '\ud800', 'x'), refused('expected'));
    await assert.rejects(client.batchPut([['\ud83d', 'x']]), refused('mutations[0].key'));
    await assert.rejects(client.deleteRange('\ud800', ''), refused('startKey'));
    assert.throws(() => client.scan({ start: 'a', end: 'b\ud800' }), refused('end'));
    // U+FFFD and astral characters (well-formed surrogate pairs) are ordinary keys.
    await client.put('\u{1f600}', 'grin');
    assert.equal((await client.get('\u{1f600}'))?.toString(), 'grin');
    assert.equal((await client.get('\ufffd'))?.toString(), 'the replacement character');
  });

  it('reads with log, lease and stale consistency, each asked of the store as such', async () => {
    await client.put('cons', 'x');
    const asked: Array<kvpb.ReadConsistency | undefined> = [];
    cluster.setIntercept((_storeId, body) => {
      if (body.$case === 'get') asked.push(body.get.context?.readConsistency);
      return undefined;
    });
    try {
      for (const consistency of ['linearizable', 'log', 'lease', 'stale'] as const)
        assert.equal((await client.get('cons', { consistency }))?.toString(), 'x');
    } finally {
      cluster.setIntercept(undefined);
    }
    assert.deepEqual(asked, [
      kvpb.ReadConsistency.LINEARIZABLE,
      kvpb.ReadConsistency.LOG,
      kvpb.ReadConsistency.LEASE,
      kvpb.ReadConsistency.STALE,
    ]);
  });

  it('fails calls after close with ClientClosedError', async () => {
    const other = await createClient({ pdEndpoints: [cluster.pd.address] });
    await other.put('closing', '1');
    await other.close();
    await assert.rejects(other.get('closing'), ClientClosedError);
  });
});
