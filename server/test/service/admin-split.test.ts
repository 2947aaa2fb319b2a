// The Admin SplitRegion RPC: bad split keys are INVALID_ARGUMENT with a message naming the
// problem; a valid request splits through Raft and answers the resulting regions; a stale
// epoch answers EpochNotMatch as a region error.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { raftpb } from '@flotilla/proto';
import { adminServiceImplementation } from '../../src/service/admin-grpc.js';
import { epochToProto } from '../../src/store/region-meta.js';
import type { Store } from '../../src/store/store.js';
import { MemoryCluster } from '../store/helpers/memory-cluster.js';

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

type Answer = { error: Partial<ServiceError> | null; response: raftpb.SplitRegionResponse | undefined };

function callSplit(store: Store, request: raftpb.SplitRegionRequest): Promise<Answer> {
  const service = adminServiceImplementation({
    store,
    address: 'memory',
    version: 'test',
    clusterId: 1,
    startedAtMs: 0,
    nowMs: () => 0,
  });
  return new Promise((resolve) => {
    const call = { request } as Parameters<typeof service.splitRegion>[0];
    service.splitRegion(call, (error, response) =>
      resolve({ error: error as Partial<ServiceError> | null, response: response ?? undefined }),
    );
  });
}

describe('Admin SplitRegion', () => {
  it('validates keys, splits, and answers a stale epoch with EpochNotMatch', async () => {
    const c = new MemoryCluster([1, 2, 3]);
    cluster = c;
    await c.start();
    const { store } = await c.waitForLeader(1);
    const region = store.regionMeta(1);
    assert.ok(region);
    const request = (keys: string[]): raftpb.SplitRegionRequest => ({
      regionId: 1n,
      regionEpoch: epochToProto(region.epoch),
      splitKeys: keys.map((k) => Buffer.from(k)),
    });
    for (const [keys, message] of [
      [[], /no split keys/],
      [['m', 'c'], /ascending/],
      [[''], /empty/],
    ] as const) {
      const answer = await callSplit(store, request([...keys]));
      assert.equal(answer.error?.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(answer.error?.details ?? '', message);
    }
    const ok = await c.ticking(callSplit(store, request(['m'])));
    assert.equal(ok.error, null);
    assert.deepEqual(
      ok.response?.regions.map((r) => [Number(r.id), r.startKey.toString(), r.endKey.toString()]),
      [
        [1, '', 'm'],
        [1000, 'm', ''],
      ],
    );
    const stale = await c.ticking(callSplit(store, request(['t'])));
    assert.equal(stale.response?.regionError?.error?.$case, 'epochNotMatch');
  });
});
