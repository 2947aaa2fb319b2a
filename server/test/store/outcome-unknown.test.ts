// A proposal already in the log when its peer goes away (the store stops, or the peer is
// destroyed) may still commit through the other replicas: its waiter must hear "outcome
// unknown", never a retryable refusal — a client retrying on ServerIsBusy could apply the
// write twice. Requests that never reached Raft (still in the mailbox) keep the retryable error.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeWrite } from '../../src/store/command-builder.js';
import { MemoryCluster } from './helpers/memory-cluster.js';

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

test('a write proposed but not committed when the store stops ends as outcomeUnknown', async () => {
  const c = new MemoryCluster([1, 2, 3]);
  cluster = c;
  await c.start();
  const { store, peer } = await c.waitForLeader(1);
  // Cut the leader off: its proposal is appended to its log but cannot commit.
  c.isolate(store.storeId);
  const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
    { kind: 'put', key: new TextEncoder().encode('k'), value: new TextEncoder().encode('v') },
  ]);
  const outcome = store.propose(1, data);
  await store.whenIdle();
  await store.stop();
  const result = await outcome;
  assert.equal(result.kind, 'outcomeUnknown', JSON.stringify(result));
});
