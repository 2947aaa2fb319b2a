// Hostile input against real processes (one PD member, one store that joined through it, its
// region split at "m"): bytes that are not protobuf, numbers past 2^53, a TTL of 0 and
// DeleteRange with an empty start key each get the documented answer, INVALID_ARGUMENT with
// a message where the request is wrong, and neither process logs an internal error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { kvpb, raftpb } from '@flotilla/proto';
import { metapb } from '@flotilla/proto';
const metapbRegion = metapb.Region;
import { PdProcesses, pdCall } from '../support/pd-processes.js';
import { StoreProcesses, adminSplitRegion, adminStatus, eventually } from '../support/store-processes.js';
import { RawKv, regionContext } from './helpers/kv-raw.js';

const b = (s: string): Buffer => Buffer.from(s);
const EPOCH_VERSION_HUGE = 2n ** 60n;
/** Field 2 (bytes) claims 5 bytes and carries one: no protobuf decoder accepts it. */
const MALFORMED = Buffer.from([0x12, 0x05, 0x61]);
const CALL_DEADLINE_MS = 10_000;

interface Refusal {
  readonly code: grpc.status;
  readonly details: string;
}

/** One unary call whose request is sent as raw bytes; resolves with the status it ended with. */
function rawUnary(address: string, path: string, bytes: Buffer): Promise<Refusal> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (x: Buffer) => x,
      (x: Buffer) => x,
      bytes,
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + CALL_DEADLINE_MS) },
      (err) => {
        client.close();
        resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '' });
      },
    );
  });
}

/** Opens a bidi stream, writes raw bytes on it and resolves with the status it ended with. */
function rawStream(address: string, path: string, bytes: Buffer): Promise<Refusal> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      path,
      (x: Buffer) => x,
      (x: Buffer) => x,
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + CALL_DEADLINE_MS) },
    );
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      client.close();
      resolve({ code: s.code, details: s.details });
    });
    call.write(bytes);
  });
}

const isInvalid =
  (pattern: RegExp) =>
  (err: unknown): boolean => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT, `${grpc.status[e.code]}: ${e.details}`);
    assert.match(e.details, pattern);
    return true;
  };

describe('hostile input (1 PD member, 1 store: real processes)', () => {
  let pds: PdProcesses;
  let stores: StoreProcesses;
  let storeAddress: string;
  let pdAddress: string;
  let raw: RawKv;
  let storeId: number;
  /** The region from "m" to the end of the keyspace, after the split. */
  let right: metapb.Region;
  let left: metapb.Region;

  before(async () => {
    pds = await PdProcesses.create([1]);
    await pds.startAll();
    pdAddress = pds.endpoints()[0] as string;
    stores = await StoreProcesses.createWithPd([1], pds.endpoints());
    await stores.start(1);
    storeAddress = stores.addresses.get(1) as string;
    storeId = stores.storeIdOfSlot.get(1) as number;
    raw = new RawKv(new Map([[storeId, storeAddress]]));
    const region = await eventually(
      async () => {
        const status = await adminStatus(storeAddress).catch(() => undefined);
        const r = status?.regions[0];
        return r?.role === raftpb.RaftRole.LEADER ? r.region : undefined;
      },
      60_000,
      'the store leading its first region',
    );
    assert.ok(region);
    const split = await eventually(
      () =>
        adminSplitRegion(storeAddress, {
          regionId: region.id,
          regionEpoch: region.regionEpoch,
          splitKeys: [b('m')],
        }).catch(() => undefined),
      60_000,
      'the split at "m"',
    );
    assert.equal(split.regions.length, 2);
    left = split.regions.find((r) => r.startKey.length === 0) as metapb.Region;
    right = split.regions.find((r) => r.startKey.equals(b('m'))) as metapb.Region;
    assert.ok(left && right, JSON.stringify(split.regions.map((r) => metapbRegion.toJSON(r))));
  });

  after(async () => {
    raw?.close();
    await stores?.stopAll();
    await pds?.stopAll();
  });

  const contextOf = (region: metapb.Region, overrides: Partial<kvpb.Context> = {}): kvpb.Context =>
    regionContext({ regionId: region.id, regionEpoch: region.regionEpoch, ...overrides });

  const put = (region: metapb.Region, key: string, ttlMs?: bigint): Promise<kvpb.PutResponse> =>
    raw.call(storeId, 'put', { context: contextOf(region), key: b(key), value: b('v'), ttlMs });

  async function keysOf(region: metapb.Region): Promise<string[]> {
    const res = await raw.call<kvpb.ScanRequest, kvpb.ScanResponse>(storeId, 'scan', {
      context: contextOf(region),
      startKey: region.startKey,
      endKey: Buffer.alloc(0),
      limit: 100,
      reverse: false,
      keyOnly: true,
    });
    assert.equal(res.regionError, undefined);
    return res.pairs.map((p) => p.key.toString());
  }

  it('a Kv, Admin or Raft request that is not protobuf ends with INVALID_ARGUMENT naming the method', async () => {
    for (const path of ['/flotilla.kvpb.Kv/Put', '/flotilla.kvpb.Kv/Get', '/flotilla.raftpb.Admin/Status']) {
      const answer = await rawUnary(storeAddress, path, MALFORMED);
      assert.equal(answer.code, grpc.status.INVALID_ARGUMENT, `${path}: ${answer.details}`);
      assert.match(answer.details, new RegExp(`^malformed request to ${path}: \\S`));
    }
    for (const path of ['/flotilla.kvpb.Kv/BatchCommands', '/flotilla.raftpb.Raft/Batch']) {
      const answer = await rawStream(storeAddress, path, MALFORMED);
      assert.equal(answer.code, grpc.status.INVALID_ARGUMENT, `${path}: ${answer.details}`);
      assert.match(answer.details, /^malformed request to /);
    }
  });

  it('a PD request that is not protobuf ends with INVALID_ARGUMENT, unary or stream', async () => {
    const unary = await rawUnary(pdAddress, '/flotilla.pdpb.PD/GetStore', MALFORMED);
    assert.equal(unary.code, grpc.status.INVALID_ARGUMENT, unary.details);
    assert.match(unary.details, /^malformed request to \/flotilla\.pdpb\.PD\/GetStore: /);
    const stream = await rawStream(pdAddress, '/flotilla.pdpb.PD/RegionHeartbeat', MALFORMED);
    assert.equal(stream.code, grpc.status.INVALID_ARGUMENT, stream.details);
  });

  it('an epoch version of 2^60 is INVALID_ARGUMENT naming the field, unary and in a batch', async () => {
    const context = contextOf(left, {
      regionEpoch: { confVer: left.regionEpoch?.confVer ?? 1n, version: EPOCH_VERSION_HUGE },
    });
    await assert.rejects(
      raw.call(storeId, 'get', { context, key: b('a') }),
      isInvalid(/context\.regionEpoch\.version: 1152921504606846976 is larger than/),
    );
    await assert.rejects(
      raw.call(storeId, 'get', { context: contextOf(left, { regionId: EPOCH_VERSION_HUGE }), key: b('a') }),
      isInvalid(/context\.regionId/),
    );
    const batched = await batchCommands([
      { requestId: 1n, request: { $case: 'get', get: { context, key: b('a') } } },
    ]);
    const response = batched[0]?.response;
    assert.equal(response?.$case, 'get');
    assert.equal(response.get.keyError?.code, kvpb.KeyErrorCode.INVALID_ARGUMENT);
    assert.match(response.get.keyError.message, /context\.regionEpoch\.version/);
  });

  it('PD answers ids and epochs past 2^53 with INVALID_ARGUMENT', async () => {
    const client = pds.client(1);
    const members = await pdCall(client, 'getMembers', { header: undefined });
    const header = { clusterId: members.header?.clusterId ?? 0n };
    await assert.rejects(
      pdCall(client, 'getStore', { header, storeId: EPOCH_VERSION_HUGE }),
      isInvalid(/storeId/),
    );
    await assert.rejects(
      pdCall(client, 'askBatchSplit', {
        header,
        region: { ...left, regionEpoch: { confVer: 1n, version: EPOCH_VERSION_HUGE } },
        splitCount: 1,
      }),
      isInvalid(/region\.regionEpoch\.version/),
    );
  });

  it('a TTL of 0 is refused (absent means no expiry), in Put, BatchWrite, CompareAndSwap and a batch', async () => {
    await assert.rejects(put(left, 'a-ttl-zero', 0n), isInvalid(/ttlMs 0 is out of range .*leave it unset/));
    await assert.rejects(
      raw.call(storeId, 'batchWrite', {
        context: contextOf(left),
        mutations: [{ op: { $case: 'put', put: { key: b('a-ttl-zero'), value: b('v'), ttlMs: 0n } } }],
      }),
      isInvalid(/ttlMs 0/),
    );
    await assert.rejects(
      raw.call(storeId, 'compareAndSwap', {
        context: contextOf(left),
        key: b('a-ttl-zero'),
        expected: { $case: 'expectedAbsent', expectedAbsent: {} },
        update: { $case: 'newValue', newValue: b('v') },
        ttlMs: 0n,
      }),
      isInvalid(/ttlMs 0/),
    );
    const batched = await batchCommands([
      {
        requestId: 7n,
        request: {
          $case: 'put',
          put: { context: contextOf(left), key: b('a-ttl-zero'), value: b('v'), ttlMs: 0n },
        },
      },
    ]);
    const response = batched[0]?.response;
    assert.equal(response?.$case, 'put');
    assert.equal(response.put.keyError?.code, kvpb.KeyErrorCode.INVALID_ARGUMENT);
    assert.ok(!(await keysOf(left)).includes('a-ttl-zero'), 'nothing was written');
    // A TTL of 1 ms is the smallest accepted, and an absent TTL is a key that stays.
    assert.equal((await put(left, 'a-ttl-one', 1n)).regionError, undefined);
    assert.equal((await put(left, 'a-ttl-absent')).regionError, undefined);
    assert.ok((await keysOf(left)).includes('a-ttl-absent'));
  });

  it("DeleteRange with an empty start deletes from the region's start (and to its end when end is empty)", async () => {
    for (const k of ['ka', 'kb']) assert.equal((await put(left, k)).regionError, undefined);
    for (const k of ['m', 'ma', 'n', 'p', 'q']) assert.equal((await put(right, k)).regionError, undefined);
    const deleteRange = (region: metapb.Region, start: string, end: string) =>
      raw.call<kvpb.DeleteRangeRequest, kvpb.DeleteRangeResponse>(storeId, 'deleteRange', {
        context: contextOf(region),
        startKey: b(start),
        endKey: b(end),
      });
    // [region start "m", "p") of the right region; the left region is untouched.
    const bounded = await deleteRange(right, '', 'p');
    assert.equal(bounded.regionError, undefined);
    assert.deepEqual(await keysOf(right), ['p', 'q']);
    assert.ok((await keysOf(left)).includes('ka'));
    // An end at or before the region's start: the client's map of the region is wrong.
    const before = await deleteRange(right, '', 'c');
    assert.equal(before.regionError?.error?.$case, 'keyNotInRegion');
    assert.deepEqual(await keysOf(right), ['p', 'q']);
    // Both empty: the whole region, and only it.
    assert.equal((await deleteRange(right, '', '')).regionError, undefined);
    assert.deepEqual(await keysOf(right), []);
    assert.ok((await keysOf(left)).includes('kb'));
  });

  it('neither process logged an internal error, and the store still serves', async () => {
    assert.equal((await put(left, 'a-after-hostile')).regionError, undefined);
    assert.ok((await keysOf(left)).includes('a-after-hostile'));
    assert.doesNotMatch(stores.log(1), /internal error|WireNumberError/);
    assert.doesNotMatch(pds.log(1), /internal error|WireNumberError/);
  });

  /** Sends one BatchCommands frame and collects the responses to its requests. */
  function batchCommands(requests: kvpb.BatchedRequest[]): Promise<kvpb.BatchedResponse[]> {
    const client = raw.client(storeId);
    return new Promise((resolve, reject) => {
      const stream = client.batchCommands(new grpc.Metadata(), {
        deadline: new Date(Date.now() + CALL_DEADLINE_MS),
      });
      const responses: kvpb.BatchedResponse[] = [];
      stream.on('data', (frame: kvpb.BatchCommandsResponse) => {
        responses.push(...frame.responses);
        if (responses.length >= requests.length) stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(responses));
      stream.write({ requests });
    });
  }
});
