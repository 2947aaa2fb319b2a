// Hibernation of idle regions (hibernation.ts, store-liveness.ts) on three in-memory stores:
// an idle region quiesces on every replica and then exchanges nothing; a proposal or a
// message wakes it; a stopped leader store is suspected and the followers elect a new
// leader; a follower that never gets the notice keeps the region working; and a leader
// woken after a long sleep does not serve a stale lease read.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dataKey } from '../../src/storage/keys.js';
import { encodeWrite } from '../../src/store/command-builder.js';
import type { Store } from '../../src/store/store.js';
import { StoreLiveness } from '../../src/store/store-liveness.js';
import { liveValue } from '../../src/store/user-value.js';
import type { ConfChange } from '@flotilla/raft';
import { MemoryCluster, changePeer } from './helpers/memory-cluster.js';

const te = new TextEncoder();
const td = new TextDecoder();

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

const STORE_IDS: readonly number[] = [1, 2, 3];

async function startCluster(): Promise<MemoryCluster> {
  const c = new MemoryCluster([...STORE_IDS], 7, { hibernateAfterIdleTicks: 10 });
  cluster = c;
  await c.start();
  await c.waitForLeader(1);
  return c;
}

async function put(c: MemoryCluster, key: string, value: string): Promise<void> {
  const { store, peer } = await c.waitForLeader(1);
  const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
    { kind: 'put', key: te.encode(key), value: te.encode(value) },
  ]);
  const result = await c.ticking(store.propose(1, data));
  assert.equal(result.kind, 'write', JSON.stringify(result));
}

function localGet(c: MemoryCluster, storeId: number, key: string): string | undefined {
  const bytes = liveValue(c.engines.get(storeId)?.getSync(dataKey(te.encode(key))), Date.now());
  return bytes === undefined ? undefined : td.decode(bytes);
}

function asleepOn(store: Store | undefined): boolean {
  return store?.region(1)?.hibernation.asleep === true;
}

function allAsleep(c: MemoryCluster, storeIds: readonly number[] = STORE_IDS): boolean {
  return storeIds.every((id) => asleepOn(c.stores.get(id)));
}

function traffic(c: MemoryCluster): number {
  return c.messagesSentCount + c.heartbeatsSentCount;
}

describe('Region hibernation', () => {
  it('quiesces an idle region on every replica, after which no Raft message is exchanged', async () => {
    const c = await startCluster();
    await put(c, 'k', 'v');
    await c.tickUntil(() => allAsleep(c), 500);
    for (const id of STORE_IDS) assert.equal(c.stores.get(id)?.stats().awakeRegionsCount, 0);
    const before = traffic(c);
    const pingsBefore = c.pingsSentCount;
    for (let i = 0; i < 200; i++) await c.tickUntil(() => false, 1).catch(() => undefined);
    assert.equal(traffic(c), before, 'no message or heartbeat while quiesced');
    assert.ok(allAsleep(c));
    assert.ok(c.pingsSentCount > pingsBefore, 'the stores keep pinging each other');
    assert.ok(c.leaderOf(1) !== undefined, 'the leader stays leader');
  });

  it('wakes on a proposal, which commits on every replica, and quiesces again', async () => {
    const c = await startCluster();
    await c.tickUntil(() => allAsleep(c), 500);
    const wokenBefore = STORE_IDS.map((id) => c.stores.get(id)?.stats().regionsWokenCount ?? 0);
    await put(c, 'after-sleep', 'yes');
    await c.tickUntil(() => STORE_IDS.every((id) => localGet(c, id, 'after-sleep') === 'yes'), 500);
    // The followers were woken by the leader's append (a message other than a notice).
    STORE_IDS.forEach((id, i) => {
      assert.ok(
        (c.stores.get(id)?.stats().regionsWokenCount ?? 0) > (wokenBefore[i] ?? 0),
        `store ${id} woke`,
      );
    });
    await c.tickUntil(() => allAsleep(c), 500);
  });

  it('wakes a quiesced follower with a message and lets it sleep again on the next notice', async () => {
    const c = await startCluster();
    await c.tickUntil(() => allAsleep(c), 500);
    const { store: leader } = c.leaderOf(1) ?? assert.fail('no leader');
    const followerId = STORE_IDS.find((id) => id !== leader.storeId) as number;
    const follower = c.stores.get(followerId) as Store;
    // A follower read asks the leader for its index: the follower wakes by its mailbox, the
    // leader by the readIndex message.
    const outcome = await c.ticking(follower.readBarrier(1, 'safe'));
    assert.equal(outcome, undefined);
    assert.ok((leader.stats().regionsWokenCount ?? 0) >= 1);
    await c.tickUntil(() => allAsleep(c), 500);
  });

  it('elects a new leader when the store of a quiesced region’s leader stops (suspected store)', async () => {
    const c = await startCluster();
    await put(c, 'k', 'v1');
    await c.tickUntil(() => allAsleep(c), 500);
    const { store: oldLeader } = c.leaderOf(1) ?? assert.fail('no leader');
    await c.crash(oldLeader.storeId);
    const others = STORE_IDS.filter((id) => id !== oldLeader.storeId);
    // Suspicion after storeSuspectAfterTicks, then an election timeout or two.
    await c.tickUntil(() => c.leaderOf(1) !== undefined, 400);
    const { store: newLeader } = c.leaderOf(1) ?? assert.fail('no new leader');
    assert.ok(others.includes(newLeader.storeId));
    assert.ok(others.some((id) => (c.stores.get(id)?.stats().suspectedStoresCount ?? 0) >= 1));
    await put(c, 'k', 'v2');
    await c.tickUntil(() => others.every((id) => localGet(c, id, 'k') === 'v2'), 500);
  });

  it('costs no election when a live leader’s store is falsely suspected: woken followers nudge it', async () => {
    const c = await startCluster();
    await c.tickUntil(() => allAsleep(c), 500);
    const { store: leader, peer } = c.leaderOf(1) ?? assert.fail('no leader');
    const term = peer.node.basicStatus().term;
    for (const id of STORE_IDS.filter((s) => s !== leader.storeId))
      c.stores.get(id)?.reportUnreachable(leader.storeId, []);
    assert.ok(!allAsleep(c), 'the followers woke up');
    await c.tickUntil(() => allAsleep(c), 500);
    assert.equal(c.leaderOf(1)?.peer.node.basicStatus().term, term, 'same leader, same term');
  });

  it('does not suspect a store, nor wake regions, when only the send queue to it was full', async () => {
    const c = await startCluster();
    await c.tickUntil(() => allAsleep(c), 500);
    const { store: leader } = c.leaderOf(1) ?? assert.fail('no leader');
    const follower = c.stores.get(STORE_IDS.find((id) => id !== leader.storeId) as number);
    follower?.reportUnreachable(leader.storeId, [], 'queueFull');
    assert.ok(allAsleep(c), 'congestion on our side is no sign of a dead store');
    assert.equal(follower?.stats().suspectedStoresCount, 0);
    follower?.reportUnreachable(leader.storeId, [], 'streamLost');
    assert.equal(follower?.stats().suspectedStoresCount, 1, 'frames lost with the stream are');
  });

  it('keeps a follower that misses the quiesce notice awake, and the region keeps working', async () => {
    const c = await startCluster();
    const { store: leader } = c.leaderOf(1) ?? assert.fail('no leader');
    const deafId = STORE_IDS.find((id) => id !== leader.storeId) as number;
    const hearingId = STORE_IDS.find((id) => id !== leader.storeId && id !== deafId) as number;
    c.quiesceNoticesDroppedTo.add(deafId);
    await c.tickUntil(() => asleepOn(c.stores.get(hearingId)), 500);
    // Run long enough for the deaf follower to time out at least once while the others sleep.
    for (let i = 0; i < 100; i++) await c.tickUntil(() => false, 1).catch(() => undefined);
    assert.equal(asleepOn(c.stores.get(deafId)), false, 'no notice, no sleep');
    await put(c, 'k', 'while-deaf');
    await c.tickUntil(() => STORE_IDS.every((id) => localGet(c, id, 'k') === 'while-deaf'), 500);
    c.quiesceNoticesDroppedTo.delete(deafId);
    await c.tickUntil(() => allAsleep(c), 1000);
    assert.equal(c.leaderOf(1) !== undefined, true);
  });

  it('does not serve a stale lease read on a leader woken after others elected a new leader', async () => {
    const c = await startCluster();
    await put(c, 'k', 'old');
    await c.tickUntil(() => allAsleep(c), 500);
    const { store: oldLeader } = c.leaderOf(1) ?? assert.fail('no leader');
    c.isolate(oldLeader.storeId);
    const others = STORE_IDS.filter((id) => id !== oldLeader.storeId);
    await c.tickUntil(() => c.leaderOf(1) !== undefined, 400);
    await put(c, 'k', 'new');
    // The old leader slept through all of it: still leader in its own eyes, its tick clock
    // stopped where its lease was fresh.
    const oldPeer = oldLeader.region(1);
    assert.equal(oldPeer?.node.basicStatus().role, 'leader');
    assert.ok(oldPeer?.hibernation.asleep);
    let outcome = 'pending';
    void oldLeader.readBarrier(1, 'lease').then((error) => {
      outcome = error === undefined ? 'served' : error.kind;
    });
    for (let i = 0; i < 60; i++) await c.tickUntil(() => false, 1).catch(() => undefined);
    assert.notEqual(outcome, 'served', 'a lease read from before the sleep would return "old"');
    assert.equal(localGet(c, oldLeader.storeId, 'k'), 'old');
    assert.ok(others.every((id) => localGet(c, id, 'k') === 'new'));
    // Healed, the old leader learns the new term; the read failed or is served after catching up.
    c.heal(oldLeader.storeId);
    await c.tickUntil(() => outcome !== 'pending', 500);
    assert.notEqual(outcome, 'served');
  });
});

describe('Store liveness', () => {
  it('suspects a store silent for suspectAfterTicks once, and clears it when heard', () => {
    const liveness = new StoreLiveness(1, 3);
    liveness.expect(2);
    liveness.expect(3);
    assert.deepEqual(liveness.tick(), []);
    liveness.heard(2);
    assert.deepEqual(liveness.tick(), []);
    assert.deepEqual(liveness.tick(), [3], 'store 3 silent for 3 ticks');
    assert.deepEqual(liveness.tick(), [2], 'store 2 silent for 3 ticks; store 3 not again');
    assert.deepEqual(liveness.tick(), [], 'an edge, not a level');
    assert.equal(liveness.heard(3), true, 'was suspected');
    assert.equal(liveness.isSuspected(3), false);
    assert.equal(liveness.suspect(3), true);
    assert.equal(liveness.suspect(3), false, 'already suspected');
    assert.equal(liveness.suspect(1), false, 'never itself');
  });
});

// Issue 23: an idle fresh cluster left a learner unpromoted for 20 minutes. PD's replica
// operator had added the learner, the region quiesced, and the sleeping leader, whose core no
// longer ticked, reported the learner down for ever, so PD never promoted it.
describe('Hibernation while PD changes a region’s membership', () => {
  /** Ticks several times the idle threshold: a region allowed to quiesce would have. */
  const IDLE_TICKS = 200;

  async function twoVotersAndANewStore(): Promise<MemoryCluster> {
    const c = new MemoryCluster(
      [...STORE_IDS],
      7,
      { hibernateAfterIdleTicks: 10 },
      { regionStoreIds: [1, 2] },
    );
    cluster = c;
    await c.start();
    await c.waitForLeader(1);
    return c;
  }

  async function confChange(c: MemoryCluster, cc: ConfChange): Promise<void> {
    const { store } = await c.waitForLeader(1);
    const result = await c.ticking(store.proposeConfChange(1, cc));
    assert.equal(result.kind, 'noop', JSON.stringify(result));
  }

  async function idle(c: MemoryCluster, ticks: number): Promise<void> {
    for (let i = 0; i < ticks; i++) await c.tickUntil(() => false, 1).catch(() => undefined);
  }

  function leaderAsleep(c: MemoryCluster): boolean {
    return c.leaderOf(1)?.peer.hibernation.asleep === true;
  }

  it('keeps a region with a caught-up learner awake, and quiesces it once the learner is promoted', async () => {
    const c = await twoVotersAndANewStore();
    await put(c, 'k', 'v');
    await confChange(c, changePeer('addLearner', { id: 3, storeId: 3, role: 'learner' }));
    await c.tickUntil(() => localGet(c, 3, 'k') === 'v', 500);
    await idle(c, IDLE_TICKS);
    assert.equal(leaderAsleep(c), false, 'a learner keeps its region awake');
    assert.equal(asleepOn(c.stores.get(3)), false);
    await confChange(c, changePeer('addVoter', { id: 3, storeId: 3, role: 'voter' }));
    await c.tickUntil(() => allAsleep(c), 500);
  });

  it('keeps a region with fewer voters than PD’s max-replicas awake, and lets it quiesce at that count', async () => {
    const c = await twoVotersAndANewStore();
    for (const id of STORE_IDS) c.stores.get(id)?.setVotersWanted(3);
    await put(c, 'k', 'v');
    await idle(c, IDLE_TICKS);
    assert.equal(leaderAsleep(c), false, 'two voters of three wanted: PD has a replica to add');
    for (const id of STORE_IDS) c.stores.get(id)?.setVotersWanted(2);
    await c.tickUntil(() => allAsleep(c, [1, 2]), 500);
  });

  it('wakes a quiesced leader for PD’s conf change, and the new learner catches up', async () => {
    const c = await twoVotersAndANewStore();
    await put(c, 'k', 'v');
    await c.tickUntil(() => allAsleep(c, [1, 2]), 500);
    const woken = c.leaderOf(1)?.store.stats().regionsWokenCount ?? 0;
    await confChange(c, changePeer('addLearner', { id: 3, storeId: 3, role: 'learner' }));
    assert.ok((c.leaderOf(1)?.store.stats().regionsWokenCount ?? 0) > woken, 'the step woke the leader');
    await c.tickUntil(() => localGet(c, 3, 'k') === 'v', 500);
  });

  it('reports to PD at once when a membership change applies and when the new learner catches up', async () => {
    const c = await twoVotersAndANewStore();
    await put(c, 'k', 'v');
    const { store: leader } = c.leaderOf(1) ?? assert.fail('no leader');
    const reportsOfLeader = (): number =>
      c.reportsDue.filter((r) => r.storeId === leader.storeId && r.regionId === 1).length;
    await idle(c, 20);
    const before = reportsOfLeader();
    await confChange(c, changePeer('addLearner', { id: 3, storeId: 3, role: 'learner' }));
    assert.equal(reportsOfLeader(), before + 1, 'the applied change is reported');
    assert.ok((leader.region(1)?.laggingLearnersCount ?? 0) > 0, 'the learner needs a snapshot first');
    await c.tickUntil(() => reportsOfLeader() === before + 2, 500);
    assert.equal(leader.region(1)?.laggingLearnersCount, 0, 'reported once it caught up');
    const followers = c.reportsDue.filter((r) => r.storeId !== leader.storeId);
    assert.deepEqual(followers, [], 'followers report nothing');
  });
});
