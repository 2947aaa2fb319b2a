// Region splits with three stores in one process: a split is a Raft command applied on
// every replica with identical results; the new region elects a leader and serves its
// keys; writes racing the split either succeed (and stay readable) or fail with a region
// error; stale epochs are refused with the regions that now cover the old range; a split
// proposed with a stale epoch or bad keys changes nothing anywhere; a restart loads every
// region.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb, raftpb } from '@flotilla/proto';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { CommandResult } from '../../src/store/command-apply.js';
import type { RegionMeta } from '../../src/store/region-meta.js';
import { epochToProto } from '../../src/store/region-meta.js';
import { encodeSplit } from '../../src/store/region-split.js';
import type { Store } from '../../src/store/store.js';
import { KvHandlers } from '../../src/service/kv-handlers.js';
import { KV_LIMITS_DEFAULTS } from '../../src/service/kv-limits.js';
import { MemoryCluster, localGet, putKey as put } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function started(): Promise<{ c: MemoryCluster; leader: Store }> {
  const c = new MemoryCluster([1, 2, 3]);
  cluster = c;
  await c.start();
  const { store } = await c.waitForLeader(1);
  return { c, leader: store };
}

/** Proposes a put to the region holding `key`, on its current leader. */
function metaJson(meta: RegionMeta | undefined): string {
  return JSON.stringify(meta, (_, v: unknown) => (v instanceof Uint8Array ? td.decode(v) : v));
}

async function split(
  c: MemoryCluster,
  leader: Store,
  regionId: number,
  keys: string[],
): Promise<RegionMeta[]> {
  const region = leader.regionMeta(regionId);
  assert.ok(region);
  const outcome = await c.ticking(
    leader.splitRegion(
      regionId,
      region.epoch,
      keys.map((k) => te.encode(k)),
    ),
  );
  assert.equal(outcome.kind, 'split', JSON.stringify(outcome));
  return outcome.kind === 'split' ? outcome.regions : [];
}

describe('Region split', () => {
  it('applies on every replica with identical region metas, and the new region serves its keys', async () => {
    const { c, leader } = await started();
    for (const k of ['a', 'h', 'p', 'x']) assert.equal((await put(c, k, `v-${k}`)).kind, 'write');
    const regions = await split(c, leader, 1, ['g', 'q']);
    assert.equal(regions.length, 3);
    assert.deepEqual(
      regions.map((r) => [r.startKey, r.endKey].map((k) => td.decode(k))),
      [
        ['', 'g'],
        ['g', 'q'],
        ['q', ''],
      ],
    );
    assert.ok(regions.every((r) => r.epoch.version === 3 && r.epoch.confVer === 1));
    const ids = regions.map((r) => r.id);
    await c.tickUntil(() => c.live().every((s) => ids.every((id) => s.regionMeta(id) !== undefined)));
    for (const id of ids) {
      const metas = c.live().map((s) => metaJson(s.regionMeta(id)));
      assert.equal(new Set(metas).size, 1, `region ${id} differs between replicas: ${metas.join(' / ')}`);
    }
    // Peers of the new regions are on the parent's stores, with new ids.
    for (const r of regions.slice(1)) {
      assert.deepEqual(
        r.peers.map((p) => p.storeId),
        [1, 2, 3],
      );
      assert.ok(r.peers.every((p) => p.id >= 10_000));
    }
    for (const id of ids.slice(1)) await c.waitForLeader(id);
    assert.equal((await put(c, 'k', 'after-split')).kind, 'write');
    assert.equal((await put(c, 'z', 'after-split')).kind, 'write');
    await c.tickUntil(() => [1, 2, 3].every((s) => localGet(c, s, 'z') === 'after-split'));
    assert.equal(localGet(c, 1, 'h'), 'v-h', 'a split moves no data');
    assert.equal(leader.stats().splitsCount, 1);
    const reported = c.regionEvents.filter((e) => e.storeId === leader.storeId);
    assert.equal(reported.length, 1);
    const event = reported[0]?.event;
    assert.equal(event?.kind, 'split');
    assert.deepEqual(event.kind === 'split' ? event.regions.map((r) => r.id) : [], ids);
    assert.deepEqual(c.fatalErrors, []);
  });

  it('keeps every acknowledged write of those racing a split; the others fail with a region error', async () => {
    const { c, leader } = await started();
    const peer = leader.region(1);
    assert.ok(peer);
    // Every write is built against the pre-split region, as a client with a cached epoch would.
    const origin = { region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() };
    const pending: Array<{ key: string; value: string; result: Promise<CommandResult> }> = [];
    const propose = (i: number): void => {
      const key = `w${String(i % 60).padStart(2, '0')}`;
      const value = `v${i}`;
      const data = encodeWrite(origin, [{ kind: 'put', key: te.encode(key), value: te.encode(value) }]);
      pending.push({ key, value, result: leader.propose(1, data) });
    };
    let splitDone = false;
    const splitting = leader.splitRegion(1, peer.region.epoch, [te.encode('w30')]);
    void splitting.then(() => (splitDone = true));
    let i = 0;
    // Writes before, during and after the split is proposed and applied.
    await c.tickUntil(() => {
      for (let k = 0; k < 4; k++) propose(i++);
      return splitDone && i > 40;
    });
    const outcome = await splitting;
    assert.equal(outcome.kind, 'split');
    const results = await c.ticking(Promise.all(pending.map((p) => p.result)));
    const acknowledged = new Map<string, string>();
    let refusedCount = 0;
    results.forEach((r, n) => {
      const { key, value } = pending[n] as { key: string; value: string };
      if (r.kind === 'write') acknowledged.set(key, value);
      else {
        assert.equal(r.kind, 'regionError', `write ${n}: ${JSON.stringify(r)}`);
        refusedCount++;
        if (r.kind === 'regionError' && r.error.kind === 'epochNotMatch')
          assert.equal(r.error.currentRegions.length, 2, 'both halves of the old range');
      }
    });
    assert.ok(acknowledged.size > 0, 'writes before the split succeed');
    assert.ok(refusedCount > 0, 'writes with the pre-split epoch after the split are refused');
    await c.tickUntil(() =>
      [...acknowledged].every(([k, v]) => [1, 2, 3].every((s) => localGet(c, s, k) === v)),
    );
  });

  it('answers a request with the pre-split epoch with EpochNotMatch listing both regions', async () => {
    const { c, leader } = await started();
    const before = leader.regionMeta(1);
    assert.ok(before);
    const [, right] = await split(c, leader, 1, ['m']);
    assert.ok(right);
    const handlers = new KvHandlers(leader, KV_LIMITS_DEFAULTS, {
      nowUnixMs: () => Date.now(),
      defer: (fn) => setImmediate(fn),
    });
    const response = await handlers.put({
      context: {
        regionId: 1n,
        regionEpoch: epochToProto(before.epoch),
        peer: undefined,
        readConsistency: kvpb.ReadConsistency.LINEARIZABLE,
        deadlineMs: 0,
        traceContext: undefined,
      },
      key: Buffer.from('x'),
      value: Buffer.from('v'),
      ttlMs: undefined,
    });
    const error = response.regionError?.error;
    assert.equal(error?.$case, 'epochNotMatch');
    const current = error?.$case === 'epochNotMatch' ? error.epochNotMatch.currentRegions : [];
    assert.deepEqual(
      current.map((r) => Number(r.id)).sort((a, b) => a - b),
      [1, right.id],
    );
    assert.ok(current.every((r) => r.regionEpoch?.version === 2n));
  });

  it('refuses a split with a stale epoch or bad keys on every replica, changing nothing', async () => {
    const { c, leader } = await started();
    const stale = leader.regionMeta(1);
    assert.ok(stale);
    await split(c, leader, 1, ['m']);
    const peer = leader.region(1);
    assert.ok(peer);
    const staleSplit = encodeSplit({ region: stale, peerId: peer.peerId, nowUnixMs: Date.now() }, [
      { splitKey: te.encode('d'), newRegionId: 500, newPeerIds: [501, 502, 503] },
    ]);
    const staleResult = await c.ticking(leader.propose(1, staleSplit));
    assert.ok(staleResult.kind === 'regionError' && staleResult.error.kind === 'epochNotMatch');
    // Current epoch but a key outside the region (past its end 'm'): refused at apply on every replica.
    const outside = encodeSplit({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
      { splitKey: te.encode('t'), newRegionId: 600, newPeerIds: [601, 602, 603] },
    ]);
    const outsideResult = await c.ticking(leader.propose(1, outside));
    assert.equal(outsideResult.kind, 'rejected');
    const applied = peer.storage.appliedIndex;
    await c.tickUntil(() => c.live().every((s) => (s.region(1)?.storage.appliedIndex ?? 0) >= applied));
    for (const s of c.live()) {
      assert.equal(s.region(500), undefined);
      assert.equal(s.region(600), undefined);
      assert.equal(td.decode(s.regionMeta(1)?.endKey ?? new Uint8Array()), 'm');
      assert.equal(s.regionMeta(1)?.epoch.version, 2);
    }
    // Raw split commands with a stale epoch carry the header epoch; the raft command itself is intact.
    assert.equal(raftpb.RaftCommand.decode(staleSplit).command?.$case, 'split');
  });

  it('answers splitRegion with a clear refusal when no id source is configured', async () => {
    const c = new MemoryCluster([1, 2, 3], 1, {}, { withoutSplitIds: true });
    cluster = c;
    await c.start();
    const { store } = await c.waitForLeader(1);
    const region = store.regionMeta(1);
    assert.ok(region);
    const outcome = await store.splitRegion(1, region.epoch, [te.encode('m')]);
    assert.equal(outcome.kind, 'rejected');
    assert.match(outcome.kind === 'rejected' ? outcome.reason : '', /placement driver/);
  });

  it('loads every region after a restart of all stores, and serves them', async () => {
    const { c, leader } = await started();
    await put(c, 'b', 'left');
    await put(c, 'y', 'right');
    const regions = await split(c, leader, 1, ['m']);
    const ids = regions.map((r) => r.id);
    await c.tickUntil(() => c.live().every((s) => ids.every((id) => s.regionMeta(id) !== undefined)));
    const before = ids.map((id) => metaJson(leader.regionMeta(id)));
    await c.stopAll();
    for (const id of [1, 2, 3]) {
      c.stores.delete(id);
      await c.startStore(id, false);
    }
    for (const s of c.live())
      assert.deepEqual(
        ids.map((id) => metaJson(s.regionMeta(id))),
        before,
      );
    for (const id of ids) await c.waitForLeader(id);
    assert.equal((await put(c, 'c', 'again')).kind, 'write');
    assert.equal((await put(c, 'z', 'again')).kind, 'write');
    assert.equal(localGet(c, 1, 'y'), 'right');
  });
});
