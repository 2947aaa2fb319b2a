// The Kv API of a 3-store cluster of real processes, call by call: reads and writes, scans
// and their options, batches, compare-and-swap, TTLs, every read consistency, the
// BatchCommands stream, and each kind of bad request getting its documented error while
// the server keeps serving.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';
import { RawKv, regionContext } from './helpers/kv-raw.js';

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string): Buffer => Buffer.from(s);

describe('Kv API (3 real store processes)', () => {
  let cluster: StoreProcesses;
  let client: KvClient;
  let raw: RawKv;

  before(async () => {
    cluster = await StoreProcesses.create([1, 2, 3]);
    await cluster.startAll();
    client = new KvClient({ stores: cluster.addresses, operationTimeoutMs: 30_000 });
    raw = new RawKv(cluster.addresses);
    await client.put(te.encode('warm-up'), te.encode('1'));
  });

  after(async () => {
    client?.close();
    raw?.close();
    await cluster?.stopAll();
  });

  /** A store and the leader it names, observed twice the same (no election in between). */
  async function followerAndLeader(): Promise<{ follower: number; leader: number }> {
    return eventually(
      async () => {
        const leader = await cluster.leaderStoreId();
        if (leader === undefined) return undefined;
        const follower = [1, 2, 3].find((id) => id !== leader) as number;
        return (await cluster.leaderStoreId()) === leader ? { follower, leader } : undefined;
      },
      30_000,
      'a stable leader',
    );
  }

  const keys = (pairs: Array<[Uint8Array, Uint8Array]>): string[] => pairs.map(([k]) => td.decode(k));

  it('puts, gets and deletes a key', async () => {
    await client.put(te.encode('pgd'), te.encode('v1'));
    assert.equal(td.decode(await client.get(te.encode('pgd'))), 'v1');
    await client.put(te.encode('pgd'), te.encode('v2'));
    assert.equal(td.decode(await client.get(te.encode('pgd'))), 'v2');
    await client.delete(te.encode('pgd'));
    assert.equal(await client.get(te.encode('pgd')), undefined);
    await client.delete(te.encode('pgd')); // deleting an absent key is fine
  });

  it('scans forward and in reverse, with a limit, keys only, and says whether more follow', async () => {
    for (let i = 0; i < 10; i++) await client.put(te.encode(`scan-${i}`), te.encode(`value-${i}`));
    const [start, end] = [te.encode('scan-'), te.encode('scan.')];
    const all = await client.scanRange(start, end, { limit: 100 });
    assert.deepEqual(
      keys(all.pairs),
      Array.from({ length: 10 }, (_, i) => `scan-${i}`),
    );
    assert.equal(all.hasMore, false);
    assert.equal(td.decode(all.pairs[3]?.[1]), 'value-3');
    const first = await client.scanRange(start, end, { limit: 3 });
    assert.deepEqual(keys(first.pairs), ['scan-0', 'scan-1', 'scan-2']);
    assert.equal(first.hasMore, true);
    const last = await client.scanRange(start, end, { limit: 3, reverse: true });
    assert.deepEqual(keys(last.pairs), ['scan-9', 'scan-8', 'scan-7']);
    assert.equal(last.hasMore, true);
    const exact = await client.scanRange(start, end, { limit: 10, reverse: true });
    assert.equal(exact.pairs.length, 10);
    assert.equal(exact.hasMore, false);
    const keyOnly = await client.scanRange(start, end, { limit: 100, keyOnly: true });
    assert.equal(keyOnly.pairs.length, 10);
    assert.ok(keyOnly.pairs.every(([, v]) => v.length === 0));
  });

  it('BatchGet returns the present keys once each, in key order', async () => {
    await client.put(te.encode('bg-b'), te.encode('B'));
    await client.put(te.encode('bg-a'), te.encode('A'));
    const pairs = await client.batchGet(['bg-b', 'bg-missing', 'bg-a', 'bg-b'].map((k) => te.encode(k)));
    assert.deepEqual(
      pairs.map(([k, v]) => [td.decode(k), td.decode(v)]),
      [
        ['bg-a', 'A'],
        ['bg-b', 'B'],
      ],
    );
  });

  it('BatchWrite applies all of its mutations or none', async () => {
    await client.put(te.encode('bw-gone'), te.encode('x'));
    await client.batchWrite([
      { kind: 'put', key: te.encode('bw-1'), value: te.encode('one') },
      { kind: 'put', key: te.encode('bw-2'), value: te.encode('two') },
      { kind: 'delete', key: te.encode('bw-gone') },
    ]);
    const pairs = await client.batchGet(['bw-1', 'bw-2', 'bw-gone'].map((k) => te.encode(k)));
    assert.deepEqual(keys(pairs), ['bw-1', 'bw-2']);
    // One invalid mutation refuses the whole batch: the valid one is not applied either.
    await assert.rejects(
      client.batchWrite([
        { kind: 'put', key: te.encode('bw-3'), value: te.encode('three') },
        { kind: 'put', key: new Uint8Array(0), value: te.encode('bad') },
      ]),
      { code: 'invalidArgument' },
    );
    assert.equal(await client.get(te.encode('bw-3')), undefined);
    // A reader never sees half of a batch.
    let torn = 0;
    let stop = false;
    const reader = (async () => {
      for (let reads = 0; !stop && reads < 10_000; reads++) {
        const got = await client.batchGet([te.encode('bw-x'), te.encode('bw-y')]);
        const [x, y] = [got[0]?.[1], got[1]?.[1]].map((v) => (v ? td.decode(v) : undefined));
        if (x !== y) torn++;
      }
    })();
    for (let i = 0; i < 30; i++) {
      await client.batchWrite([
        { kind: 'put', key: te.encode('bw-x'), value: te.encode(`${i}`) },
        { kind: 'put', key: te.encode('bw-y'), value: te.encode(`${i}`) },
      ]);
    }
    stop = true;
    await reader;
    assert.equal(torn, 0, `${torn} reads saw half of a batch`);
  });

  it('DeleteRange removes [start, end), and to the end of the keyspace when end is empty', async () => {
    for (const k of ['dr-1', 'dr-2', 'dr-3', 'dr-4', 'dr-5']) await client.put(te.encode(k), te.encode('v'));
    await client.deleteRange(te.encode('dr-2'), te.encode('dr-4'));
    const left = await client.scanRange(te.encode('dr-'), te.encode('dr.'), { limit: 100 });
    assert.deepEqual(keys(left.pairs), ['dr-1', 'dr-4', 'dr-5']);
    // Nothing else in this file sorts after 'zz-'.
    for (const k of ['zz-1', 'zz-2', 'zzz']) await client.put(te.encode(k), te.encode('v'));
    await client.deleteRange(te.encode('zz-'), new Uint8Array(0));
    assert.deepEqual(
      keys((await client.scanRange(te.encode('zz'), new Uint8Array(0), { limit: 100 })).pairs),
      [],
    );
    assert.equal(td.decode(await client.get(te.encode('dr-1'))), 'v');
  });

  it('CompareAndSwap: expected absent, expected value, and delete', async () => {
    const key = te.encode('cas');
    const created = await client.compareAndSwap(key, undefined, te.encode('v1'));
    assert.deepEqual(created, { succeeded: true, previousValue: undefined });
    const again = await client.compareAndSwap(key, undefined, te.encode('other'));
    assert.equal(again.succeeded, false);
    assert.equal(td.decode(again.previousValue), 'v1');
    const wrong = await client.compareAndSwap(key, te.encode('nope'), te.encode('other'));
    assert.equal(wrong.succeeded, false);
    assert.equal(td.decode(await client.get(key)), 'v1');
    const swapped = await client.compareAndSwap(key, te.encode('v1'), te.encode('v2'));
    assert.equal(swapped.succeeded, true);
    assert.equal(td.decode(swapped.previousValue), 'v1');
    const deleted = await client.compareAndSwap(key, te.encode('v2'), undefined);
    assert.equal(deleted.succeeded, true);
    assert.equal(await client.get(key), undefined);
  });

  it('expires a key written with a TTL; a key without one stays', async () => {
    const ttlMs = 1500;
    const writtenAt = Date.now();
    await client.put(te.encode('ttl-short'), te.encode('soon gone'), ttlMs);
    await client.put(te.encode('ttl-none'), te.encode('stays'));
    const early = await client.get(te.encode('ttl-short'));
    // Only meaningful if the machine was quick enough to read before the TTL could pass.
    if (Date.now() - writtenAt < ttlMs / 2) assert.equal(td.decode(early), 'soon gone');
    await eventually(
      async () => ((await client.get(te.encode('ttl-short'))) === undefined ? true : undefined),
      60_000,
      'the TTL key expiring',
    );
    const scanned = await client.scanRange(te.encode('ttl-'), te.encode('ttl.'), { limit: 10 });
    assert.deepEqual(keys(scanned.pairs), ['ttl-none']);
    assert.equal(td.decode(await client.get(te.encode('ttl-none'))), 'stays');
  });

  it('linearizable, lease and log reads return the latest acknowledged write', async () => {
    const modes = [kvpb.ReadConsistency.LINEARIZABLE, kvpb.ReadConsistency.LEASE, kvpb.ReadConsistency.LOG];
    for (let i = 0; i < 5; i++) {
      await client.put(te.encode('rc'), te.encode(`v${i}`));
      for (const mode of modes) assert.equal(td.decode(await client.get(te.encode('rc'), mode)), `v${i}`);
    }
  });

  it('a follower refuses a linearizable read with NotLeader naming the leader; its stale reads converge', async () => {
    await client.put(te.encode('fr'), te.encode('latest'));
    const { follower, leader } = await eventually(
      async () => {
        const pair = await followerAndLeader();
        const res = await raw.call<kvpb.GetRequest, kvpb.GetResponse>(pair.follower, 'get', {
          context: regionContext(),
          key: b('fr'),
        });
        const hint =
          res.regionError?.error?.$case === 'notLeader' ? res.regionError.error.notLeader.leader : undefined;
        // A leader change between the two looks would make the hint legitimately differ.
        return hint !== undefined && Number(hint.storeId) === pair.leader ? pair : undefined;
      },
      30_000,
      'NotLeader with the leader as hint',
    );
    assert.notEqual(follower, leader);
    await eventually(
      async () => {
        const res = await raw.call<kvpb.GetRequest, kvpb.GetResponse>(follower, 'get', {
          context: regionContext({ readConsistency: kvpb.ReadConsistency.STALE }),
          key: b('fr'),
        });
        assert.equal(res.regionError, undefined);
        return res.found && res.value.toString() === 'latest' ? true : undefined;
      },
      30_000,
      'a stale read on the follower converging',
    );
  });

  it('BatchCommands serves many requests of one frame, refusing only the bad one', async () => {
    const count = 50;
    const outcome = await eventually(
      async () => {
        const { leader } = await followerAndLeader();
        const responses = await batchCommands(raw.client(leader), count);
        // A leader change mid-frame refuses some with a region error: send the frame again.
        const refused = responses.filter((r) => regionErrorOf(r) !== undefined);
        return refused.length === 0 ? responses : undefined;
      },
      60_000,
      'a BatchCommands frame served by a stable leader',
    );
    assert.equal(outcome.length, count + 2);
    const byId = new Map(outcome.map((r) => [Number(r.requestId), r]));
    const bad = byId.get(count);
    assert.equal(bad?.response?.$case, 'put');
    assert.equal(keyErrorOf(bad)?.code, kvpb.KeyErrorCode.INVALID_ARGUMENT);
    for (let i = 0; i < count; i++) assert.equal(keyErrorOf(byId.get(i)), undefined, `request ${i}`);
    const get = byId.get(count + 1);
    assert.equal(get?.response?.$case, 'get');
    assert.equal(keyErrorOf(get), undefined);
    for (const i of [0, 17, count - 1])
      assert.equal(td.decode(await client.get(te.encode(`bc-${i}`))), `v${i}`);
  });

  describe('bad requests get their documented error and the server keeps serving', () => {
    const invalid = (err: unknown): boolean =>
      (err as grpc.ServiceError).code === GrpcStatus.INVALID_ARGUMENT;

    it('refuses an empty key, a key over 8 KiB, a value over 8 MiB and scan limit 0 with INVALID_ARGUMENT', async () => {
      const put = (key: Buffer, value: Buffer) =>
        raw.call<kvpb.PutRequest, kvpb.PutResponse>(1, 'put', { context: regionContext(), key, value });
      await assert.rejects(put(Buffer.alloc(0), b('v')), invalid);
      await assert.rejects(put(Buffer.alloc(8 * 1024 + 1, 97), b('v')), invalid);
      await assert.rejects(put(b('big'), Buffer.alloc(8 * 1024 * 1024 + 1)), invalid);
      const scan = raw.call<kvpb.ScanRequest, kvpb.ScanResponse>(2, 'scan', {
        context: regionContext(),
        startKey: b('a'),
        endKey: b('b'),
        limit: 0,
        reverse: false,
        keyOnly: false,
      });
      await assert.rejects(scan, invalid);
      // The largest key allowed is fine.
      const largest = new Uint8Array(8 * 1024).fill(98);
      await client.put(largest, te.encode('ok'));
      assert.equal(td.decode(await client.get(largest)), 'ok');
    });

    it('refuses a request without a context with INVALID_ARGUMENT', async () => {
      const get = raw.call<kvpb.GetRequest, kvpb.GetResponse>(3, 'get', { context: undefined, key: b('k') });
      await assert.rejects(get, invalid);
    });

    it('answers an unknown region with RegionNotFound', async () => {
      const res = await raw.call<kvpb.GetRequest, kvpb.GetResponse>(1, 'get', {
        context: regionContext({ regionId: 99n }),
        key: b('k'),
      });
      const e = res.regionError?.error;
      assert.equal(e?.$case, 'regionNotFound');
      assert.equal(e.regionNotFound.regionId, 99n);
    });

    it('answers a stale epoch with EpochNotMatch carrying the current region', async () => {
      const res = await raw.call<kvpb.PutRequest, kvpb.PutResponse>(2, 'put', {
        context: regionContext({ regionEpoch: { confVer: 1n, version: 0n } }),
        key: b('k'),
        value: b('v'),
      });
      const e = res.regionError?.error;
      assert.equal(e?.$case, 'epochNotMatch');
      assert.equal(e.epochNotMatch.currentRegions[0]?.id, 1n);
      assert.equal(e.epochNotMatch.currentRegions[0]?.regionEpoch?.version, 1n);
    });

    it('answers a request meant for another store with StoreNotMatch', async () => {
      const res = await raw.call<kvpb.GetRequest, kvpb.GetResponse>(3, 'get', {
        context: regionContext({ peer: { id: 1n, storeId: 1n, role: 0 } }),
        key: b('k'),
      });
      const e = res.regionError?.error;
      assert.equal(e?.$case, 'storeNotMatch');
      assert.deepEqual([e.storeNotMatch.requestStoreId, e.storeNotMatch.actualStoreId], [1n, 3n]);
    });

    it('still serves reads and writes on every store after all of the above', async () => {
      await client.put(te.encode('after-bad'), te.encode('fine'));
      assert.equal(td.decode(await client.get(te.encode('after-bad'))), 'fine');
      for (const id of [1, 2, 3]) {
        await eventually(
          async () => {
            const res = await raw.call<kvpb.GetRequest, kvpb.GetResponse>(id, 'get', {
              context: regionContext({ readConsistency: kvpb.ReadConsistency.STALE }),
              key: b('after-bad'),
            });
            return res.found ? true : undefined;
          },
          30_000,
          `store ${id} serving`,
        );
      }
    });
  });
});

type Batched = kvpb.BatchedResponse | undefined;

function regionErrorOf(r: Batched): unknown {
  const res = r?.response;
  if (res === undefined) return undefined;
  return (res as unknown as Record<string, { regionError?: unknown }>)[res.$case]?.regionError;
}

function keyErrorOf(r: Batched): kvpb.KeyError | undefined {
  const res = r?.response;
  if (res === undefined) return undefined;
  return (res as unknown as Record<string, { keyError?: kvpb.KeyError }>)[res.$case]?.keyError;
}

/** One frame: `count` puts (ids 0..count-1), a put with an empty key (id count), a get (id count+1). */
function batchCommands(client: kvpb.KvClient, count: number): Promise<kvpb.BatchedResponse[]> {
  const requests: kvpb.BatchedRequest[] = [];
  for (let i = 0; i < count; i++) {
    requests.push({
      requestId: BigInt(i),
      request: { $case: 'put', put: { context: regionContext(), key: b(`bc-${i}`), value: b(`v${i}`) } },
    });
  }
  requests.push({
    requestId: BigInt(count),
    request: { $case: 'put', put: { context: regionContext(), key: Buffer.alloc(0), value: b('bad') } },
  });
  requests.push({
    requestId: BigInt(count + 1),
    request: { $case: 'get', get: { context: regionContext(), key: b('bc-0') } },
  });
  return new Promise((resolve, reject) => {
    const stream = client.batchCommands();
    const responses: kvpb.BatchedResponse[] = [];
    const timer = setTimeout(() => {
      stream.cancel();
      reject(new Error(`BatchCommands: ${responses.length} of ${requests.length} answered in time`));
    }, 30_000);
    stream.on('data', (frame: kvpb.BatchCommandsResponse) => {
      responses.push(...frame.responses);
      if (responses.length === requests.length) {
        clearTimeout(timer);
        stream.end();
        resolve(responses);
      }
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      if (responses.length < requests.length) reject(err);
    });
    stream.write({ requests });
  });
}
