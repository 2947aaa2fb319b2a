// Frame building: gets of one region and consistency merge into one BatchGet, puts and
// deletes into one BatchWrite, whose answers are split back per request; everything else
// keeps its own request in the shared frame.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb } from '@flotilla/proto';
import {
  FRAME_REQUESTS_MAX,
  FRAME_SIZE_BYTES_MAX,
  MERGED_WRITE_BYTES_MAX,
  buildSlots,
  framesOf,
} from '../src/coalescer.js';
import type { QueuedRequest } from '../src/coalescer.js';
import type { RequestBody } from '../src/store-transport.js';

function context(regionId: bigint, consistency = kvpb.ReadConsistency.LINEARIZABLE): kvpb.Context {
  return {
    regionId,
    regionEpoch: { confVer: 1n, version: 1n },
    peer: { id: 1n, storeId: 1n, role: 0 },
    readConsistency: consistency,
    deadlineMs: 100,
    traceContext: undefined,
  };
}

const get = (key: string, regionId = 1n, consistency?: kvpb.ReadConsistency): QueuedRequest => ({
  body: { $case: 'get', get: { context: context(regionId, consistency), key: Buffer.from(key) } },
  mergeable: true,
});
const put = (key: string): QueuedRequest => ({
  body: {
    $case: 'put',
    put: { context: context(1n), key: Buffer.from(key), value: Buffer.from('v'), ttlMs: undefined },
  },
  mergeable: true,
});

function counter(): () => bigint {
  let n = 0n;
  return () => ++n;
}

describe('coalescer', () => {
  it('merges gets of one region into one BatchGet and answers each key from it', () => {
    const queued = [get('a'), get('b'), get('c')];
    const slots = buildSlots(queued, counter());
    assert.equal(slots.length, 1);
    const slot = slots[0]!;
    assert.equal(slot.request.request?.$case, 'batchGet');
    const response: NonNullable<kvpb.BatchedResponse['response']> = {
      $case: 'batchGet',
      batchGet: {
        regionError: undefined,
        keyError: undefined,
        pairs: [
          { key: Buffer.from('c'), value: Buffer.from('C') },
          { key: Buffer.from('a'), value: Buffer.from('A') },
        ],
      },
    };
    const answers = [0, 1, 2].map((i) => slot.answer(response, i));
    assert.deepEqual(
      answers.map((a) => (a?.$case === 'get' ? (a.get.found ? a.get.value.toString() : null) : 'wrong')),
      ['A', null, 'C'],
    );
  });

  it('passes a region error of the merged BatchGet to every get, and resends on a key error', () => {
    const slot = buildSlots([get('a'), get('b')], counter())[0]!;
    const regionError = {
      message: 'x',
      error: { $case: 'regionNotFound' as const, regionNotFound: { regionId: 1n } },
    };
    const refused = slot.answer(
      { $case: 'batchGet', batchGet: { regionError, keyError: undefined, pairs: [] } },
      1,
    );
    assert.ok(refused?.$case === 'get' && refused.get.regionError === regionError);
    const keyError = { code: kvpb.KeyErrorCode.KEY_TOO_LARGE, message: 'big', key: Buffer.alloc(0) };
    assert.equal(
      slot.answer({ $case: 'batchGet', batchGet: { regionError: undefined, keyError, pairs: [] } }, 0),
      undefined,
    );
  });

  it('keeps gets of different regions or consistencies, and unmergeable gets, apart', () => {
    const queued = [
      get('a', 1n),
      get('b', 2n),
      get('c', 1n, kvpb.ReadConsistency.STALE),
      { ...get('d', 1n), mergeable: false },
      get('e', 1n),
    ];
    const slots = buildSlots(queued, counter());
    assert.deepEqual(
      slots.map((s) => [s.request.request?.$case, s.members.length]),
      [
        ['batchGet', 2],
        ['get', 1],
        ['get', 1],
        ['get', 1],
      ],
    );
  });

  it('merges puts and deletes of one region into one BatchWrite, in submission order', () => {
    const del: QueuedRequest = {
      body: { $case: 'delete', delete: { context: context(1n), key: Buffer.from('b') } },
      mergeable: true,
    };
    const cas: QueuedRequest = {
      body: {
        $case: 'compareAndSwap',
        compareAndSwap: {
          context: context(1n),
          key: Buffer.from('c'),
          expected: { $case: 'expectedAbsent', expectedAbsent: {} },
          update: { $case: 'delete', delete: {} },
          ttlMs: undefined,
        },
      },
      mergeable: true,
    };
    const slots = buildSlots([put('a'), del, get('x'), cas, put('a2')], counter());
    assert.deepEqual(
      slots.map((s) => [s.request.request?.$case, s.members.length]),
      [
        ['batchWrite', 3],
        ['get', 1],
        ['compareAndSwap', 1],
      ],
    );
    const batch = slots[0]!.request.request;
    assert.ok(batch?.$case === 'batchWrite');
    assert.deepEqual(
      batch.batchWrite.mutations.map(
        (m) => `${m.op?.$case}:${m.op?.$case === 'put' ? m.op.put.key : m.op?.delete.key}`,
      ),
      ['put:a', 'delete:b', 'put:a2'],
    );
  });

  it('answers each merged write from the BatchWrite; resends alone only what was refused before proposing', () => {
    const slot = buildSlots([put('a'), put('b')], counter())[0]!;
    const batchWrite = (
      fields: Partial<kvpb.BatchWriteResponse>,
    ): NonNullable<kvpb.BatchedResponse['response']> => ({
      $case: 'batchWrite',
      batchWrite: { regionError: undefined, keyError: undefined, ...fields },
    });
    const ok = slot.answer(batchWrite({}), 1);
    assert.ok(ok?.$case === 'put' && ok.put.regionError === undefined && ok.put.keyError === undefined);
    const busy = {
      message: 'busy',
      error: { $case: 'serverIsBusy' as const, serverIsBusy: { reason: 'x', backoffMs: 5 } },
    };
    const refused = slot.answer(batchWrite({ regionError: busy }), 0);
    assert.ok(refused?.$case === 'put' && refused.put.regionError === busy);
    const keyError = (code: kvpb.KeyErrorCode): kvpb.KeyError => ({
      code,
      message: 'm',
      key: Buffer.alloc(0),
    });
    assert.equal(
      slot.answer(batchWrite({ keyError: keyError(kvpb.KeyErrorCode.VALUE_TOO_LARGE) }), 0),
      undefined,
    );
    assert.equal(
      slot.answer(batchWrite({ keyError: keyError(kvpb.KeyErrorCode.TOO_MANY_KEYS) }), 0),
      undefined,
    );
    const tooLarge = {
      message: 'big',
      error: {
        $case: 'raftEntryTooLarge' as const,
        raftEntryTooLarge: { regionId: 1n, entrySizeBytes: 9n, entrySizeBytesMax: 8n },
      },
    };
    assert.equal(slot.answer(batchWrite({ regionError: tooLarge }), 0), undefined);
    // The store's deadline passed after proposing: the outcome is unknown, never resent.
    const late = slot.answer(batchWrite({ keyError: keyError(kvpb.KeyErrorCode.DEADLINE_EXCEEDED) }), 1);
    assert.ok(late?.$case === 'put' && late.put.keyError?.code === kvpb.KeyErrorCode.DEADLINE_EXCEEDED);
  });

  it('caps a merged BatchWrite by bytes', () => {
    const big = (key: string): QueuedRequest => ({
      body: {
        $case: 'put',
        put: {
          context: context(1n),
          key: Buffer.from(key),
          value: Buffer.alloc(MERGED_WRITE_BYTES_MAX / 2 - 100),
          ttlMs: undefined,
        },
      },
      mergeable: true,
    });
    const slots = buildSlots([big('a'), big('b'), big('c')], counter());
    assert.deepEqual(
      slots.map((s) => s.members.length),
      [2, 1],
    );
  });

  it('splits more requests than a frame holds into several frames', () => {
    const queued = Array.from({ length: FRAME_REQUESTS_MAX + 5 }, (_, i) => ({
      ...put(`k${i}`),
      mergeable: false,
    }));
    const frames = framesOf(buildSlots(queued, counter()));
    assert.deepEqual(
      frames.map((f) => f.requests.length),
      [FRAME_REQUESTS_MAX, 5],
    );
  });

  it('merged BatchGet carries the longest deadline of its gets', () => {
    const a = get('a');
    const b: QueuedRequest = {
      ...get('b'),
      body: {
        $case: 'get',
        get: { context: { ...context(1n), deadlineMs: 900 }, key: Buffer.from('b') },
      } as RequestBody,
    };
    const slot = buildSlots([a, b], counter())[0]!;
    assert.ok(
      slot.request.request?.$case === 'batchGet' && slot.request.request.batchGet.context?.deadlineMs === 900,
    );
  });

  it('cuts frames by size too; a request larger than a frame travels alone', () => {
    const big = (key: string, sizeBytes: number): QueuedRequest => ({
      body: {
        $case: 'put',
        put: {
          context: context(1n),
          key: Buffer.from(key),
          value: Buffer.alloc(sizeBytes),
          ttlMs: undefined,
        },
      },
      mergeable: false,
    });
    const third = Math.floor(FRAME_SIZE_BYTES_MAX / 3) - 100;
    const queued = [
      big('a', third),
      big('b', third),
      big('c', third),
      big('d', FRAME_SIZE_BYTES_MAX * 2),
      { ...put('e'), mergeable: false },
    ];
    const frames = framesOf(buildSlots(queued, counter()));
    assert.deepEqual(
      frames.map((f) =>
        f.requests.map((r) => (r.request?.$case === 'put' ? r.request.put.key.toString() : '?')).join(''),
      ),
      ['abc', 'd', 'e'],
    );
  });
});
