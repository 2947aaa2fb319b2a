// The leadership drain run on SIGTERM: it hands each led region to the most caught-up
// active voter, asks again when a transfer stalls, waits until another peer leads, and
// gives up at its deadline without throwing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerProgressStatus, RaftStatus } from '@flotilla/raft';
import type { DrainablePeer, DrainableStore } from '../../src/node/leadership-drain.js';
import { chooseTransferTarget, drainLeadership } from '../../src/node/leadership-drain.js';
import type { PeerMeta } from '../../src/store/region-meta.js';

type Status = Pick<RaftStatus, 'role' | 'leaderId' | 'lastIndex' | 'progress'>;

function progress(id: number, match: number, recentActive = true, isLearner = false): PeerProgressStatus {
  return {
    id,
    match,
    next: match + 1,
    state: 'replicate',
    recentActive,
    isLearner,
    pendingSnapshot: 0,
    inflightCount: 0,
  };
}

const PEERS: PeerMeta[] = [
  { id: 1, storeId: 1, role: 'voter' },
  { id: 2, storeId: 2, role: 'voter' },
  { id: 3, storeId: 3, role: 'voter' },
  { id: 4, storeId: 4, role: 'learner' },
];

class FakeRegion implements DrainablePeer {
  readonly region = { peers: PEERS };
  readonly node = { status: (): Status => this.status };
  constructor(
    readonly regionId: number,
    readonly peerId: number,
    public status: Status,
  ) {}
}

/** A store whose transfers succeed once `acceptAfter` requests were made for a region (0: never). */
class FakeStore implements DrainableStore {
  readonly requests: Array<[number, number]> = [];
  constructor(
    private readonly regions: FakeRegion[],
    private readonly acceptAfter: number,
  ) {}
  allRegions(): FakeRegion[] {
    return this.regions;
  }
  transferLeader(regionId: number, toPeerId: number): undefined {
    this.requests.push([regionId, toPeerId]);
    const count = this.requests.filter(([r]) => r === regionId).length;
    const region = this.regions.find((r) => r.regionId === regionId);
    if (region && this.acceptAfter > 0 && count >= this.acceptAfter) {
      region.status = { ...region.status, role: 'follower', leaderId: toPeerId, progress: [] };
    }
    return undefined;
  }
}

/** A clock that advances only when the drain sleeps: no real waiting, deterministic. */
function fakeTime(): { nowMs: () => number; sleep: (ms: number) => Promise<void> } {
  let now = 0;
  return { nowMs: () => now, sleep: async (ms) => void (now += ms) };
}

const leaderStatus = (lastIndex: number, prs: PeerProgressStatus[]): Status => ({
  role: 'leader',
  leaderId: 1,
  lastIndex,
  progress: prs,
});

describe('leadership drain', () => {
  it('picks the caught-up, recently active voter; never a learner or itself', () => {
    const region = new FakeRegion(1, 1, leaderStatus(10, []));
    const prs = [progress(1, 10), progress(2, 9), progress(3, 10, false), progress(4, 10)];
    assert.equal(chooseTransferTarget(region, { lastIndex: 10, progress: prs }), 2);
    const caughtUp = [progress(1, 10), progress(2, 9), progress(3, 10), progress(4, 10)];
    assert.equal(chooseTransferTarget(region, { lastIndex: 10, progress: caughtUp }), 3);
    assert.equal(
      chooseTransferTarget(region, { lastIndex: 10, progress: [progress(1, 10), progress(4, 10)] }),
      undefined,
    );
  });

  it('moves every led region and leaves followers alone', async () => {
    const prs = [progress(1, 5), progress(2, 5), progress(3, 4)];
    const led = [new FakeRegion(1, 1, leaderStatus(5, prs)), new FakeRegion(2, 1, leaderStatus(5, prs))];
    const follower = new FakeRegion(3, 1, { role: 'follower', leaderId: 2, lastIndex: 5, progress: [] });
    const store = new FakeStore([...led, follower], 1);
    const report = await drainLeadership(store, {
      timeoutMs: 200,
      pollIntervalMs: 10,
      retryIntervalMs: 100,
      ...fakeTime(),
    });
    assert.deepEqual(report, { movedRegionIds: [1, 2], stuckRegionIds: [] });
    assert.deepEqual(store.requests, [
      [1, 2],
      [2, 2],
    ]);
  });

  it('asks again after the retry interval when a transfer stalls', async () => {
    const region = new FakeRegion(1, 1, leaderStatus(5, [progress(1, 5), progress(2, 5), progress(3, 5)]));
    const store = new FakeStore([region], 2);
    const report = await drainLeadership(store, {
      timeoutMs: 200,
      pollIntervalMs: 10,
      retryIntervalMs: 100,
      ...fakeTime(),
    });
    assert.deepEqual(report.movedRegionIds, [1]);
    assert.equal(store.requests.length, 2);
  });

  it('reports a region still led at the deadline, bounded in attempts', async () => {
    const region = new FakeRegion(1, 1, leaderStatus(5, [progress(1, 5), progress(2, 5)]));
    const store = new FakeStore([region], 0);
    const report = await drainLeadership(store, {
      timeoutMs: 200,
      pollIntervalMs: 10,
      retryIntervalMs: 100,
      ...fakeTime(),
    });
    assert.deepEqual(report, { movedRegionIds: [], stuckRegionIds: [1] });
    assert.ok(store.requests.length <= 3, `${store.requests.length} transfer requests`);
  });

  it('gives up at once when there is no voter to hand over to', async () => {
    const region = new FakeRegion(1, 1, leaderStatus(5, [progress(1, 5)]));
    const store = new FakeStore([region], 1);
    const report = await drainLeadership(store, {
      timeoutMs: 200,
      pollIntervalMs: 10,
      retryIntervalMs: 100,
      ...fakeTime(),
    });
    assert.deepEqual(report.stuckRegionIds, [1]);
    assert.deepEqual(store.requests, []);
  });
});
