// Graceful shutdown, first step: once a store begins draining, its KV service turns every
// new request away with NotLeader (no hint while it still leads, so clients try another
// store; the new leader as hint once leadership moved), and serves nothing itself.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb } from '@flotilla/proto';
import { KvHandlers } from '../../src/service/kv-handlers.js';
import { KV_LIMITS_DEFAULTS } from '../../src/service/kv-limits.js';
import { MemoryCluster } from '../store/helpers/memory-cluster.js';

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

const context: kvpb.Context = {
  regionId: 1n,
  regionEpoch: { confVer: 1n, version: 1n },
  peer: undefined,
  readConsistency: kvpb.ReadConsistency.STALE,
  deadlineMs: 0,
  traceContext: undefined,
};

describe('KvHandlers draining', () => {
  it('answers NotLeader without a hint on the leader, and with the new leader once it moved', async () => {
    cluster = new MemoryCluster([1, 2, 3]);
    await cluster.start();
    const { store, peer } = await cluster.waitForLeader(1);
    const handlers = new KvHandlers(store, KV_LIMITS_DEFAULTS, {
      nowUnixMs: () => Date.now(),
      defer: (fn) => setImmediate(fn),
    });
    const before = await handlers.get({ context, key: Buffer.from('k') });
    assert.equal(before.regionError, undefined, 'a stale read is served before draining');

    handlers.beginDraining();
    const whileLeading = await handlers.put({
      context,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      ttlMs: undefined,
    });
    assert.equal(whileLeading.regionError?.error?.$case, 'notLeader');
    assert.equal(
      whileLeading.regionError?.error?.$case === 'notLeader'
        ? whileLeading.regionError.error.notLeader.leader
        : 'x',
      undefined,
    );

    const target = peer.region.peers.find((p) => p.id !== peer.peerId);
    assert.ok(target);
    assert.equal(store.transferLeader(1, target.id), undefined);
    await cluster.tickUntil(() => store.region(1)?.node.basicStatus().leaderId === target.id);
    const afterMove = await handlers.get({ context, key: Buffer.from('k') });
    assert.equal(
      afterMove.regionError?.error?.$case === 'notLeader'
        ? Number(afterMove.regionError.error.notLeader.leader?.id)
        : 0,
      target.id,
    );
  });
});
