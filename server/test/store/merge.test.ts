// Region merges with three stores in one process (region-merge.ts, merge-coordinator.ts):
// the target absorbs the source on every replica with identical metas and no data moved;
// the source refuses requests while frozen; writes racing a merge either apply (and stay
// readable) or fail with a region error; a target replica whose source peer lags waits for
// it and then merges; a commit the target refuses rolls the source back so it serves
// again; a restarted store loads the merged region and not the source.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { regionStateKey } from '../../src/storage/keys.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { CommandResult } from '../../src/store/command-apply.js';
import type { MergeOutcome } from '../../src/store/merge-coordinator.js';
import type { RegionMeta } from '../../src/store/region-meta.js';
import { decodeRegionLocalState } from '../../src/store/region-meta.js';
import { encodeCommitMerge, encodePrepareMerge } from '../../src/store/region-merge.js';
import type { Store } from '../../src/store/store.js';
import { MemoryCluster, changePeer, localGet, putKey as put } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** Three stores, region 1 split at 'm': returns [left id, right id]. */
async function twoRegions(
  storeIds: readonly number[] = [1, 2, 3],
): Promise<{ c: MemoryCluster; left: number; right: number }> {
  const c = new MemoryCluster(storeIds, 1, {}, { regionStoreIds: [1, 2, 3] });
  cluster = c;
  await c.start();
  const { store } = await c.waitForLeader(1);
  const region = store.regionMeta(1) as RegionMeta;
  const outcome = await c.ticking(store.splitRegion(1, region.epoch, [te.encode('m')]));
  assert.equal(outcome.kind, 'split', JSON.stringify(outcome));
  const regions = outcome.kind === 'split' ? outcome.regions : [];
  const right = (regions[1] as RegionMeta).id;
  await c.tickUntil(() => [1, 2, 3].every((id) => c.stores.get(id)?.regionMeta(right) !== undefined));
  await c.waitForLeader(right);
  return { c, left: 1, right };
}

function rangeOf(meta: RegionMeta | undefined): string {
  return meta === undefined ? 'none' : `[${td.decode(meta.startKey)}, ${td.decode(meta.endKey)})`;
}

/**
 * Asks the source's leader to merge until the merge ends one way or the other (a busy or
 * not-leader answer means a step is under way or leadership moved to the target leader's store).
 */
async function mergeUntilEnded(c: MemoryCluster, source: number, target: number): Promise<MergeOutcome> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await c.tickUntil(
      () => c.leaderOf(source) !== undefined || c.live().every((s) => s.region(source) === undefined),
    );
    const leader = c.leaderOf(source);
    if (leader === undefined) {
      const merged = c.live()[0]?.regionMeta(target);
      assert.ok(merged);
      return { kind: 'merged', region: merged };
    }
    const sourceMeta = leader.store.regionMeta(source) as RegionMeta;
    // A frozen source carries its merge on whatever epochs are passed (the target may be gone).
    const targetEpoch = leader.store.regionMeta(target)?.epoch ?? sourceMeta.epoch;
    const outcome = await c.ticking(leader.store.mergeRegion(source, sourceMeta.epoch, target, targetEpoch));
    if (outcome.kind !== 'regionError') return outcome;
    await c.tickUntil(() => false, 5).catch(() => undefined);
  }
  throw new Error(`merge of ${source} into ${target} did not end`);
}

/** Moves the leaders of `regionIds` away from store 3 (to store 1). */
async function leadersOffStore3(c: MemoryCluster, regionIds: readonly number[]): Promise<void> {
  for (const id of regionIds) {
    const leader = c.leaderOf(id);
    if (leader?.store.storeId !== 3) continue;
    const to = leader.peer.region.peers.find((p) => p.storeId === 1);
    assert.ok(to);
    leader.store.transferLeader(id, to.id);
    await c.tickUntil(() => c.leaderOf(id)?.store.storeId !== 3 && c.leaderOf(id) !== undefined);
  }
}

/**
 * Freezes `source` by proposing its PrepareMerge into `target` directly (as a racing or
 * interrupted coordinator leaves it), recording `targetMeta` (default: the source leader's
 * view of the target). Returns the prepare index.
 */
async function prepareMerge(
  c: MemoryCluster,
  source: number,
  target: number,
  targetMeta?: RegionMeta,
): Promise<number> {
  const leader = await c.waitForLeader(source);
  const meta = targetMeta ?? (leader.store.regionMeta(target) as RegionMeta);
  const origin = { region: leader.peer.region, peerId: leader.peer.peerId, nowUnixMs: Date.now() };
  const prepared = await c.ticking(leader.store.propose(source, encodePrepareMerge(origin, meta)));
  assert.equal(prepared.kind, 'mergePrepared', JSON.stringify(prepared));
  return prepared.kind === 'mergePrepared' ? prepared.prepareIndex : 0;
}

/** Removes store 3's peer of the region (store 3 need not hear of it); returns its id. */
async function removeStore3Peer(c: MemoryCluster, regionId: number): Promise<number> {
  const leader = await c.waitForLeader(regionId);
  const peer = leader.peer.region.peers.find((p) => p.storeId === 3);
  assert.ok(peer);
  const cc = changePeer('removeNode', { ...peer, role: 'voter' });
  const removed = await c.ticking(leader.store.proposeConfChange(regionId, cc));
  assert.notEqual(removed.kind, 'regionError', JSON.stringify(removed));
  return peer.id;
}

describe('Region merge', () => {
  it('the target absorbs the source on every replica; data stays; the source is gone', async () => {
    const { c, left, right } = await twoRegions();
    for (const k of ['a', 'f', 'n', 'x']) assert.equal((await put(c, k, `v-${k}`)).kind, 'write');
    const before = c.live()[0]?.regionMeta(left) as RegionMeta;
    const sourceBefore = c.live()[0]?.regionMeta(right) as RegionMeta;
    const outcome = await mergeUntilEnded(c, right, left);
    assert.equal(outcome.kind, 'merged', JSON.stringify(outcome));
    await c.tickUntil(() => c.live().every((s) => s.region(right) === undefined));
    for (const store of c.live()) {
      const meta = store.regionMeta(left);
      assert.equal(rangeOf(meta), '[, )', `store ${store.storeId}`);
      // Version above both: the source's (bumped by PrepareMerge) and the target's.
      assert.equal(meta?.epoch.version, Math.max(before.epoch.version, sourceBefore.epoch.version + 1) + 1);
      assert.equal(meta?.epoch.confVer, before.epoch.confVer);
      assert.equal(store.stats().mergesCount, 1);
      const state = c.engines.get(store.storeId)?.getSync(regionStateKey(right));
      assert.ok(state);
      assert.equal(decodeRegionLocalState(state).lifecycle, 'tombstone');
    }
    for (const s of [1, 2, 3])
      for (const k of ['a', 'f', 'n', 'x']) assert.equal(localGet(c, s, k), `v-${k}`);
    // The merged region serves the source's old keys.
    assert.equal((await put(c, 'q', 'after')).kind, 'write');
    await c.tickUntil(() => [1, 2, 3].every((s) => localGet(c, s, 'q') === 'after'));
    assert.equal(c.leaderOfKey(te.encode('q'))?.peer.regionId, left);
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a frozen source refuses writes; writes racing the merge apply or fail, none is lost', async () => {
    const { c, left, right } = await twoRegions();
    const results = new Map<string, CommandResult>();
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 40; i++) {
      const key = `r${String(i).padStart(2, '0')}`;
      const leader = c.leaderOf(right);
      assert.ok(leader);
      const data = encodeWrite(
        { region: leader.peer.region, peerId: leader.peer.peerId, nowUnixMs: Date.now() },
        [{ kind: 'put', key: te.encode(key), value: te.encode(`v${i}`) }],
      );
      writes.push(leader.store.propose(right, data).then((r) => void results.set(key, r)));
      if (i === 20) {
        const s = leader.store;
        const source = s.regionMeta(right) as RegionMeta;
        const target = s.regionMeta(left) as RegionMeta;
        // Racing writes are in flight: the first attempt may find the log not yet replicated.
        void s.mergeRegion(right, source.epoch, left, target.epoch);
      }
    }
    await c.ticking(Promise.all(writes));
    const outcome = await mergeUntilEnded(c, right, left);
    assert.equal(outcome.kind, 'merged', JSON.stringify(outcome));
    await c.tickUntil(() => c.live().every((s) => s.region(right) === undefined));
    let applied = 0;
    for (const [key, result] of results) {
      if (result.kind === 'write') {
        applied++;
        for (const s of [1, 2, 3]) assert.equal(localGet(c, s, key), `v${key.slice(1).replace(/^0/, '')}`);
      } else {
        assert.equal(result.kind, 'regionError', `${key}: ${JSON.stringify(result)}`);
      }
    }
    assert.ok(applied >= 20, `only ${applied} of the writes before the merge applied`);
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a target replica whose source peer missed the PrepareMerge waits for it, then merges', async () => {
    const { c, left, right } = await twoRegions();
    assert.equal((await put(c, 'p', 'before')).kind, 'write');
    await c.tickUntil(() => localGet(c, 3, 'p') === 'before');
    await leadersOffStore3(c, [left, right]);
    c.isolate(3);
    // Freeze the source with store 3 away (the coordinator would wait for it; go direct).
    await prepareMerge(c, right, left);
    const outcome = await mergeUntilEnded(c, right, left);
    assert.equal(outcome.kind, 'merged', JSON.stringify(outcome));
    const s3 = c.stores.get(3) as Store;
    assert.notEqual(rangeOf(s3.regionMeta(left)), '[, )', 'store 3 cannot have merged while cut off');
    c.heal(3);
    await c.tickUntil(() => s3.region(right) === undefined && rangeOf(s3.regionMeta(left)) === '[, )');
    assert.equal(s3.stats().mergesCount, 1);
    assert.equal(s3.stats().mergeWaitingTargetsCount, 0);
    assert.equal(localGet(c, 3, 'p'), 'before');
    assert.equal((await put(c, 'p', 'after')).kind, 'write');
    await c.tickUntil(() => localGet(c, 3, 'p') === 'after');
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a catch-up its source peer cannot take is handed again at most once a tick', async () => {
    // A CommitMerge whose catch-up starts past the end of store 3's source log (made by hand
    // here: the coordinator starts it at the lowest match). Store 3's source peer rejects it;
    // handing it again every round would run rounds back to back and starve the store.
    const { c, left, right } = await twoRegions();
    await leadersOffStore3(c, [left, right]);
    c.isolate(3);
    for (const k of ['q', 'r', 's']) assert.equal((await put(c, k, 'missed by store 3')).kind, 'write');
    const prepareIndex = await prepareMerge(c, right, left);
    const source = c.leaderOf(right);
    assert.ok(source);
    const targetMeta = source.store.regionMeta(left) as RegionMeta;
    const { storage } = source.peer;
    const catchUp = {
      entries: storage.entries(prepareIndex, prepareIndex + 1, 1 << 20),
      prevIndex: prepareIndex - 1,
      prevTerm: storage.term(prepareIndex - 1),
      leaderTerm: source.peer.node.basicStatus().term,
      leaderPeerId: source.peer.peerId,
    };
    const target = c.leaderOf(left);
    assert.ok(target);
    const commit = encodeCommitMerge(
      { region: targetMeta, peerId: target.peer.peerId, nowUnixMs: Date.now() },
      source.peer.region,
      prepareIndex,
      catchUp,
    );
    assert.equal((await c.ticking(target.store.propose(left, commit))).kind, 'merged');
    const s3 = c.stores.get(3) as Store;
    c.heal(3);
    await c.tickUntil(() => s3.stats().mergeWaitingTargetsCount === 1);
    const roundsBefore = s3.stats().roundsCount;
    const ticks = 50;
    await c.tickUntil(() => false, ticks).catch(() => undefined);
    const rounds = s3.stats().roundsCount - roundsBefore;
    assert.ok(rounds <= ticks * 4, `store 3 ran ${rounds} rounds in ${ticks} ticks`);
    assert.equal(s3.stats().mergeWaitingTargetsCount, 1, 'store 3 still waits for its source peer');
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a commit the target refuses (its epoch moved) rolls the source back, and it serves again', async () => {
    const { c, left, right } = await twoRegions();
    const targetBefore = (await c.waitForLeader(right)).store.regionMeta(left) as RegionMeta;
    await prepareMerge(c, right, left, targetBefore);
    // The frozen source refuses writes.
    const refused = await put(c, 'r', 'frozen');
    assert.equal(refused.kind, 'regionError');
    // The target splits meanwhile: its epoch is no longer the one the merge was prepared against.
    const targetLeader = await c.waitForLeader(left);
    const split = await c.ticking(targetLeader.store.splitRegion(left, targetBefore.epoch, [te.encode('c')]));
    assert.equal(split.kind, 'split', JSON.stringify(split));
    const outcome = await mergeUntilEnded(c, right, left);
    assert.equal(outcome.kind, 'rejected', JSON.stringify(outcome));
    await c.tickUntil(() => c.live().every((s) => s.region(right)?.mergeState === null));
    assert.equal((await put(c, 'r', 'served again')).kind, 'write');
    await c.tickUntil(() => [1, 2, 3].every((s) => localGet(c, s, 'r') === 'served again'));
    for (const s of c.live()) assert.equal(rangeOf(s.regionMeta(right)), '[m, )');
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a frozen source peer left out of a newer membership is destroyed as stale; merged away it stays', async () => {
    // Store 3 applied the PrepareMerge, then was cut off while the merge was refused and
    // rolled back and its peer removed: it stays frozen for ever, and its range blocks the
    // region's new peers on store 3. PD's newer membership without it proves the rollback.
    const { c, left, right } = await twoRegions();
    const targetBefore = (await c.waitForLeader(right)).store.regionMeta(left) as RegionMeta;
    await prepareMerge(c, right, left, targetBefore);
    const s3 = c.stores.get(3) as Store;
    await c.tickUntil(() => s3.region(right)?.mergeState !== null);
    await leadersOffStore3(c, [left, right]);
    c.isolate(3);
    const targetLeader = await c.waitForLeader(left);
    const split = await c.ticking(targetLeader.store.splitRegion(left, targetBefore.epoch, [te.encode('c')]));
    assert.equal(split.kind, 'split', JSON.stringify(split));
    assert.equal((await mergeUntilEnded(c, right, left)).kind, 'rejected');
    const peer3 = await removeStore3Peer(c, right);
    assert.notEqual(s3.region(right)?.mergeState, null, 'store 3 is still frozen');
    assert.equal(s3.destroyStalePeer(right, peer3, 'mergedAway'), false);
    assert.equal(s3.destroyStalePeer(right, peer3, 'newerMembership'), true);
    await c.tickUntil(() => s3.region(right) === undefined);
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a source rolls back once its target moved a replica, even when the target is led from a store without a source peer', async () => {
    // The target's membership changed after the PrepareMerge (PD moved a replica to store 4
    // and its leadership followed): no CommitMerge can apply any more, and the source's
    // leadership cannot follow the target's to store 4. The source's store sees the target
    // past the recorded epoch and rolls back.
    const { c, left, right } = await twoRegions([1, 2, 3, 4]);
    const targetBefore = (await c.waitForLeader(right)).store.regionMeta(left) as RegionMeta;
    await prepareMerge(c, right, left, targetBefore);
    const moved = { id: 5000, storeId: 4, role: 'learner' as const };
    for (const cc of [changePeer('addLearner', moved), changePeer('addVoter', { ...moved, role: 'voter' })]) {
      const targetLeader = await c.waitForLeader(left);
      const result = await c.ticking(targetLeader.store.proposeConfChange(left, cc));
      assert.notEqual(result.kind, 'regionError', JSON.stringify(result));
      await c.tickUntil(() => c.stores.get(4)?.region(left)?.initialized === true);
    }
    const s4 = c.stores.get(4) as Store;
    await c.tickUntil(() => s4.regionMeta(left)?.peers.find((p) => p.id === moved.id)?.role === 'voter');
    const from = await c.waitForLeader(left);
    from.store.transferLeader(left, moved.id);
    await c.tickUntil(() => c.leaderOf(left)?.store.storeId === 4);
    assert.equal((await mergeUntilEnded(c, right, left)).kind, 'rejected');
    await c.tickUntil(() => [1, 2, 3].every((id) => c.stores.get(id)?.region(right)?.mergeState === null));
    assert.equal((await put(c, 'x', 'right serves again')).kind, 'write');
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a frozen source merged away elsewhere stays while a local target may absorb it, and goes once none can', async () => {
    // Store 3 froze the source and was cut off; the merge committed on stores 1 and 2, then
    // store 3's target replica was removed. Its frozen source can no longer be absorbed
    // here, and its range would block the merged region's new peer on store 3.
    const { c, left, right } = await twoRegions();
    await prepareMerge(c, right, left);
    const s3 = c.stores.get(3) as Store;
    await c.tickUntil(() => s3.region(right)?.mergeState !== null);
    await leadersOffStore3(c, [left, right]);
    c.isolate(3);
    assert.equal((await mergeUntilEnded(c, right, left)).kind, 'merged');
    const source3 = s3.region(right)?.peerId ?? 0;
    assert.equal(s3.destroyStalePeer(right, source3, 'mergedAway'), false, 'its target peer is still here');
    const target3 = await removeStore3Peer(c, left);
    assert.equal(s3.destroyStalePeer(left, target3, 'newerMembership'), true);
    await c.tickUntil(() => s3.region(left) === undefined);
    assert.equal(s3.destroyStalePeer(right, source3, 'mergedAway'), true);
    await c.tickUntil(() => s3.region(right) === undefined);
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a source whose target merged away elsewhere rolls back (the target is gone for good)', async () => {
    const { c, left, right } = await twoRegions();
    // Cut the right region again: left [, m), middle [m, t), right [t, ).
    const splitLeader = await c.waitForLeader(right);
    const middleMeta = splitLeader.store.regionMeta(right) as RegionMeta;
    const cut = await c.ticking(splitLeader.store.splitRegion(right, middleMeta.epoch, [te.encode('t')]));
    assert.equal(cut.kind, 'split', JSON.stringify(cut));
    const far = cut.kind === 'split' ? (cut.regions[1] as RegionMeta).id : 0;
    await c.tickUntil(() => c.live().every((s) => s.regionMeta(far) !== undefined));
    await c.waitForLeader(far);
    // left freezes to merge into middle; then middle itself merges into the far region.
    await prepareMerge(c, left, right);
    await prepareMerge(c, right, far);
    assert.equal((await mergeUntilEnded(c, right, far)).kind, 'merged');
    await c.tickUntil(() => c.live().every((s) => s.region(right) === undefined));
    // The store holding left's leader rolls it back by itself once its target is gone (at
    // once when the target's peer leaves, else from the node's periodic push).
    await c.tickUntil(() => {
      for (const s of c.live()) s.advanceMerges();
      return c.live().every((s) => s.region(left)?.mergeState === null);
    });
    assert.equal((await put(c, 'a', 'served again')).kind, 'write');
    assert.equal((await put(c, 'q', 'in the far region')).kind, 'write');
    for (const s of c.live()) {
      assert.equal(rangeOf(s.regionMeta(left)), '[, m)');
      assert.equal(rangeOf(s.regionMeta(far)), '[m, )');
    }
    assert.deepEqual(c.fatalErrors, []);
  });

  it('two regions prepared to merge into each other both roll back and serve again', async () => {
    // Two merge operators raced on different stores: each froze its source before seeing
    // the other's PrepareMerge. Each source's store sees its target past the epoch its
    // PrepareMerge recorded (the other's PrepareMerge moved it) and rolls back: neither
    // waits on the other for ever.
    const { c, left, right } = await twoRegions();
    const leftBefore = c.live()[0]?.regionMeta(left) as RegionMeta;
    const rightBefore = c.live()[0]?.regionMeta(right) as RegionMeta;
    await prepareMerge(c, left, right, rightBefore);
    await prepareMerge(c, right, left, leftBefore);
    assert.equal((await mergeUntilEnded(c, right, left)).kind, 'rejected');
    assert.equal((await mergeUntilEnded(c, left, right)).kind, 'rejected');
    await c.tickUntil(() =>
      c.live().every((s) => s.region(left)?.mergeState === null && s.region(right)?.mergeState === null),
    );
    assert.equal((await put(c, 'a', 'left serves')).kind, 'write');
    assert.equal((await put(c, 'x', 'right serves')).kind, 'write');
    for (const s of c.live()) {
      assert.equal(rangeOf(s.regionMeta(left)), '[, m)');
      assert.equal(rangeOf(s.regionMeta(right)), '[m, )');
    }
    assert.deepEqual(c.fatalErrors, []);
  });

  it('a region a prepared merge will extend is not frozen as a source itself', async () => {
    const { c, left, right } = await twoRegions();
    await prepareMerge(c, left, right);
    const rightLeader = await c.waitForLeader(right);
    const rightMeta = rightLeader.store.regionMeta(right) as RegionMeta;
    const leftMeta = rightLeader.store.regionMeta(left) as RegionMeta;
    const outcome = await c.ticking(
      rightLeader.store.mergeRegion(right, rightMeta.epoch, left, leftMeta.epoch),
    );
    assert.equal(outcome.kind, 'rejected', JSON.stringify(outcome));
    assert.equal(rightLeader.store.region(right)?.mergeState, null);
  });

  it('refuses pairs that are not adjacent or not on the same stores, and stale epochs', async () => {
    const { c, left, right } = await twoRegions();
    const leader = c.leaderOf(right);
    assert.ok(leader);
    const source = leader.store.regionMeta(right) as RegionMeta;
    const target = leader.store.regionMeta(left) as RegionMeta;
    const self = await c.ticking(leader.store.mergeRegion(right, source.epoch, right, source.epoch));
    assert.equal(self.kind, 'rejected');
    const stale = await c.ticking(
      leader.store.mergeRegion(
        right,
        { ...source.epoch, version: source.epoch.version - 1 },
        left,
        target.epoch,
      ),
    );
    assert.equal(stale.kind, 'regionError');
    assert.equal(stale.kind === 'regionError' ? stale.error.kind : '', 'epochNotMatch');
    for (const s of c.live()) assert.equal(s.region(right)?.mergeState, null);
  });

  it('a restarted store loads the merged region and not the source', async () => {
    const { c, left, right } = await twoRegions();
    assert.equal((await put(c, 'z', 'kept')).kind, 'write');
    const outcome = await mergeUntilEnded(c, right, left);
    assert.equal(outcome.kind, 'merged');
    await c.tickUntil(() => c.live().every((s) => s.region(right) === undefined));
    await c.crash(2);
    c.heal(2);
    const restarted = await c.startStore(2, false);
    assert.equal(restarted.region(right), undefined);
    assert.equal(rangeOf(restarted.regionMeta(left)), '[, )');
    assert.equal((await put(c, 'z', 'after restart')).kind, 'write');
    await c.tickUntil(() => localGet(c, 2, 'z') === 'after restart');
    assert.deepEqual(c.fatalErrors, []);
  });
});
