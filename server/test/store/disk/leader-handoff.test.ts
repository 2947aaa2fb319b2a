// A store whose disk is not normal hands its leaderships to voters with room and does not
// campaign while one exists; with no voter with room, it still leads and campaigns.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '@flotilla/raft';
import type { DiskUsage } from '../../../src/storage/disk-space.js';
import type { StoreDisk } from '../../../src/store/disk/disk-guard.js';
import type { PeerStoresView } from '../../../src/store/disk/leader-handoff.js';
import { handoffTarget, withholdsCampaign, votersWithRoom } from '../../../src/store/disk/leader-handoff.js';
import type { PeerMeta } from '../../../src/store/region-meta.js';
import { encodeWrite } from '../../../src/store/command-builder.js';
import { MemoryCluster, putKey } from '../helpers/memory-cluster.js';

const voter = (id: number, storeId = id): PeerMeta => ({ id, storeId, role: 'voter' });
const learner = (id: number): PeerMeta => ({ id, storeId: id, role: 'learner' });

function view(levels: Record<number, DiskUsage>, suspected: number[] = []): PeerStoresView {
  return {
    usageOf: (storeId) => levels[storeId] ?? 'normal',
    isSuspected: (storeId) => suspected.includes(storeId),
  };
}

const message = (type: Message['type']): Message => ({ type }) as Message;

describe('leader hand-off rules', () => {
  const peers = [voter(1), voter(2), voter(3), learner(4)];

  it('counts only other voters on stores with room that are heard', () => {
    assert.deepEqual(
      votersWithRoom(peers, 1, view({ 2: 'almostFull' })).map((p) => p.id),
      [3],
    );
    assert.deepEqual(
      votersWithRoom(peers, 1, view({}, [3])).map((p) => p.id),
      [2],
    );
    assert.deepEqual(votersWithRoom(peers, 1, view({ 2: 'alreadyFull', 3: 'almostFull' })), []);
  });

  it('hands off to the most caught-up voter with room, the lower id on a tie, never a learner', () => {
    const match: Record<number, number> = { 2: 10, 3: 12, 4: 99 };
    assert.equal(handoffTarget(peers, 1, view({}), (id) => match[id] ?? 0)?.id, 3);
    assert.equal(handoffTarget(peers, 1, view({ 3: 'almostFull' }), (id) => match[id] ?? 0)?.id, 2);
    assert.equal(handoffTarget(peers, 1, view({}), () => 5)?.id, 2);
    assert.equal(
      handoffTarget(peers, 1, view({ 2: 'almostFull', 3: 'almostFull' }), () => 5),
      undefined,
    );
  });

  it('withholds only pre-votes, only on a disk that is not normal, only while a voter has room', () => {
    const v = view({ 3: 'almostFull' });
    assert.equal(withholdsCampaign('almostFull', message('preVote'), peers, 3, v), true);
    assert.equal(withholdsCampaign('alreadyFull', message('preVote'), peers, 3, v), true);
    assert.equal(withholdsCampaign('normal', message('preVote'), peers, 3, v), false);
    // A forced campaign (a transfer someone asked for) and all other traffic go out.
    assert.equal(withholdsCampaign('almostFull', message('vote'), peers, 3, v), false);
    assert.equal(withholdsCampaign('almostFull', message('heartbeatResp'), peers, 3, v), false);
    const allFull = view({ 1: 'almostFull', 2: 'alreadyFull', 3: 'almostFull' });
    assert.equal(withholdsCampaign('almostFull', message('preVote'), peers, 3, allFull), false);
  });
});

/** A disk whose level the test sets. */
class SettableDisk implements StoreDisk {
  usage: DiskUsage = 'normal';
  describe(): string {
    return `test disk ${this.usage}`;
  }
  noteNoSpace(): Promise<void> {
    return Promise.resolve();
  }
  refresh(): Promise<void> {
    return Promise.resolve();
  }
}

function diskCluster(seed: number): { cluster: MemoryCluster; disks: Map<number, SettableDisk> } {
  const disks = new Map([1, 2, 3].map((id) => [id, new SettableDisk()]));
  const cluster = new MemoryCluster([1, 2, 3], seed, {}, { diskOf: (id) => disks.get(id) });
  return { cluster, disks };
}

const te = new TextEncoder();

describe('a store on a full disk (in-memory cluster)', () => {
  const clusters: MemoryCluster[] = [];
  after(async () => {
    for (const c of clusters) await c.stopAll();
  });

  it('hands the leadership to a store with room; a write meanwhile is told to retry, not refused', async () => {
    const { cluster, disks } = diskCluster(1);
    clusters.push(cluster);
    await cluster.start();
    assert.equal((await putKey(cluster, 'before', 'v')).kind, 'write');
    const { store: full } = await cluster.waitForLeader(1);
    (disks.get(full.storeId) as SettableDisk).usage = 'almostFull';
    const peer = full.region(1);
    assert.ok(peer !== undefined);
    const data = encodeWrite({ region: peer.region, peerId: peer.peerId, nowUnixMs: Date.now() }, [
      { kind: 'put', key: te.encode('during'), value: te.encode('v') },
    ]);
    const answer = await cluster.ticking(full.propose(1, data));
    assert.equal(answer.kind, 'regionError');
    assert.equal(answer.kind === 'regionError' && answer.error.kind, 'serverIsBusy');
    await cluster.tickUntil(() => {
      const leader = cluster.leaderOf(1);
      return leader !== undefined && leader.store !== full;
    });
    assert.ok(full.stats().leaderHandoffsCount >= 1);
    assert.equal((await putKey(cluster, 'after', 'v')).kind, 'write');
  });

  it('a full store does not win the election after the leader is lost, across seeds', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const { cluster, disks } = diskCluster(seed);
      clusters.push(cluster);
      await cluster.start();
      const { store: first } = await cluster.waitForLeader(1);
      const others = [1, 2, 3].filter((id) => id !== first.storeId);
      const [withRoom, full] = others as [number, number];
      (disks.get(full) as SettableDisk).usage = 'almostFull';
      await cluster.crash(first.storeId);
      await cluster.tickUntil(() => cluster.leaderOf(1) !== undefined);
      assert.equal(cluster.leaderOf(1)?.store.storeId, withRoom, `seed ${seed}: the full store leads`);
      await cluster.stopAll();
    }
  });

  it('with no voter with room, a full store still campaigns and leads (and refuses writes)', async () => {
    const { cluster, disks } = diskCluster(3);
    clusters.push(cluster);
    await cluster.start();
    const { store: first } = await cluster.waitForLeader(1);
    for (const disk of disks.values()) disk.usage = 'almostFull';
    await cluster.crash(first.storeId);
    await cluster.tickUntil(() => cluster.leaderOf(1) !== undefined);
    const answer = await putKey(cluster, 'k', 'v');
    assert.equal(answer.kind === 'regionError' && answer.error.kind, 'diskFull');
  });
});
