// Routing from a cold cache through PD: reverse scans that need GetRegion/GetPrevRegion and
// the walk to the last region, PD lagging behind a split, and batches whose regions fail
// differently (a definite error in one region after another region applied its part).
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResultUnknownError, ValueTooLargeError, createClient } from '../src/index.js';
import type { ClientOptions, FlotillaClient } from '../src/index.js';
import { FakeCluster } from './support/fake-cluster.js';
import type { FakeRegion } from './support/fake-cluster.js';
import { kvpb } from '@flotilla/proto';

let cluster: FakeCluster | undefined;
let client: FlotillaClient | undefined;

afterEach(async () => {
  await client?.close();
  cluster?.stop();
  client = undefined;
  cluster = undefined;
});

/** A cluster with regions split at each of `splitKeys`, and a client with a cold cache. */
async function setup(
  splitKeys: string[],
  options: Partial<ClientOptions> = {},
): Promise<{ cluster: FakeCluster; client: FlotillaClient }> {
  cluster = await FakeCluster.start(3);
  splitKeys.forEach((k, i) => cluster!.state.splitAt(k, BigInt(i + 2)));
  client = await createClient({
    pdEndpoints: [cluster.pd.address],
    timeoutMs: 5_000,
    regionPrefetchCount: 1,
    ...options,
  });
  client['runner'].locator.cache.clear();
  return { cluster, client };
}

describe('routing through PD', () => {
  it('a reverse scan from a cold cache finds each region before its end key', async () => {
    const { cluster: c, client: k } = await setup(['d', 'h', 'p', 't']);
    const keys = ['a', 'c', 'd', 'e', 'h', 'o', 'p', 'q', 't', 'z'];
    for (const key of keys) c.state.data.set(Buffer.from(key).toString('latin1'), Buffer.from(key));
    k['runner'].locator.cache.clear();
    const bounded: string[] = [];
    for await (const { key } of k.scan({ start: 'b', end: 'u', reverse: true })) bounded.push(key.toString());
    assert.deepEqual(bounded, ['t', 'q', 'p', 'o', 'h', 'e', 'd', 'c']);
    assert.ok(
      c.pd.count('getPrevRegion') >= 1,
      `end keys on region boundaries need GetPrevRegion: ${JSON.stringify([...c.pd.calls])}`,
    );
    k['runner'].locator.cache.clear();
    const unbounded: string[] = [];
    for await (const { key } of k.scan({ reverse: true })) unbounded.push(key.toString());
    assert.deepEqual(unbounded, [...keys].reverse());
  });

  it('keeps re-routing while PD lags behind a split, and succeeds once it catches up', async () => {
    cluster = await FakeCluster.start(3);
    const c = cluster;
    client = await createClient({ pdEndpoints: [c.pd.address], timeoutMs: 5_000 });
    await client.put('a', '1');
    const before: FakeRegion[] = c.state.regions.map((r) => ({ ...r }));
    c.state.split(1n, 'm', 2n);
    let staleAnswers = 3;
    c.pd.regions = () => (staleAnswers-- > 0 ? before : c.state.regions);
    await client.put('z', '2');
    assert.equal((await client.get('z'))?.toString(), '2');
    assert.ok(client.stats().retries.epochNotMatch >= 1);
  });

  it('a batch write failing in one region after another applied its part is ResultUnknown', async () => {
    const { cluster: c, client: k } = await setup(['m']);
    c.setIntercept((_s, body) => {
      if (body.$case !== 'batchWrite' || body.batchWrite.context?.regionId !== 2n) return undefined;
      const keyError = { code: kvpb.KeyErrorCode.VALUE_TOO_LARGE, message: 'too big', key: Buffer.from('z') };
      return { $case: 'batchWrite', batchWrite: { regionError: undefined, keyError } };
    });
    await assert.rejects(
      k.batchPut([
        ['a', '1'],
        ['z', '2'],
      ]),
      (e: unknown) => e instanceof ResultUnknownError && e.cause instanceof ValueTooLargeError,
    );
    assert.equal((await k.get('a'))?.toString(), '1', "region 1's part was applied");
    await assert.rejects(k.batchPut([['z', '2']]), ValueTooLargeError);
  });
});
