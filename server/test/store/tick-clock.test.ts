// The store's Raft clock (tick-clock.ts): ticks are logical time that cannot outrun the
// store loop. Unit tests of the clock, then three in-memory stores whose loop is slow against
// wall time (several tick intervals elapse during every round, each network hop takes rounds):
// with one tick per round a region elects a leader and keeps it; with ticks following wall
// time (several per round, as before) its timeouts are shorter than its round trips and it
// does not.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '@flotilla/raft';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { Store } from '../../src/store/store.js';
import type { RaftEnvelope } from '../../src/store/store.js';
import { resolveStoreConfig } from '../../src/store/store-config.js';
import type { StoreConfig } from '../../src/store/store-config.js';
import { bootstrapRegionIfEmpty, loadRegionPeers } from '../../src/store/region-loader.js';
import { TickClock } from '../../src/store/tick-clock.js';
import { MemoryCluster, settle } from './helpers/memory-cluster.js';

describe('TickClock', () => {
  it('hands a round at most ticksPerRoundMax ticks and loses the rest', () => {
    const clock = new TickClock(1, 8, 100);
    clock.elapsed();
    assert.equal(clock.hasDueTicks, true);
    clock.elapsed();
    clock.elapsed();
    assert.equal(clock.takeRoundTicks(0), 1);
    assert.equal(clock.ticksLostCount, 2);
    assert.equal(clock.ticksDeliveredCount, 1);
    assert.equal(clock.hasDueTicks, false);
    assert.equal(clock.takeRoundTicks(1), 0, 'a round with nothing due gets no tick');
    const two = new TickClock(2, 8, 100);
    for (let i = 0; i < 3; i++) two.elapsed();
    assert.equal(two.takeRoundTicks(0), 2);
    assert.equal(two.ticksLostCount, 1);
  });

  it('doubts leases while its recent ticks took an election timeout of wall time or more', () => {
    const leaseTicks = 8;
    const clock = new TickClock(1, leaseTicks, 100);
    let nowMs = 0;
    const tickAt = (stepMs: number): void => {
      nowMs += stepMs;
      clock.elapsed();
      clock.takeRoundTicks(nowMs);
    };
    assert.equal(clock.leaseDoubtful(nowMs), true, 'no ticks yet: no lease window measured');
    for (let i = 0; i < leaseTicks; i++) tickAt(10);
    assert.equal(clock.leaseDoubtful(nowMs), true, 'not more than leaseTicks ticks yet');
    tickAt(10);
    assert.equal(clock.leaseDoubtful(nowMs), false, 'ticks at wall speed');
    tickAt(40); // one slow round: the last 8 ticks took 70 + 40 = 110 ms
    assert.equal(clock.leaseDoubtful(nowMs), true);
    for (let i = 0; i < leaseTicks - 1; i++) tickAt(10);
    assert.equal(clock.leaseDoubtful(nowMs), true, 'the slow tick is still in the window');
    tickAt(10);
    assert.equal(clock.leaseDoubtful(nowMs), false, 'back in step for a whole window');
    assert.equal(clock.leaseDoubtful(nowMs - 500), true, 'wall time going back is doubtful');
    assert.equal(clock.leaseDoubtful(nowMs + 200), true, 'no tick for an election timeout');
  });

  it('rejects a non-positive ticksPerRoundMax', () => {
    assert.throws(() => new TickClock(0, 8, 100), RangeError);
    assert.throws(() => new TickClock(1, 0, 100), RangeError);
  });
});

/**
 * Three stores whose loop is slow against wall time: every step, `intervalsPerStep` tick
 * intervals elapse (the ticker fires that often during a round), and a message sent in one
 * step reaches its store `hopSteps` steps later (it waits behind other rounds and frames).
 */
class SlowLoopCluster {
  readonly stores = new Map<number, Store>();
  private inFlight: Array<{ dueStep: number; to: number; envelopes: RaftEnvelope[] }> = [];
  private step = 0;

  constructor(
    private readonly intervalsPerStep: number,
    private readonly hopSteps: number,
  ) {}

  async start(overrides: Partial<StoreConfig>): Promise<void> {
    const storeIds = [1, 2, 3];
    for (const storeId of storeIds) {
      const engine = new MemoryEngine();
      const config = resolveStoreConfig({ storeId, hibernateRegions: false, ...overrides });
      await bootstrapRegionIfEmpty(engine, MemoryCluster.firstRegion(storeIds), storeId);
      const random = (regionId: number): SeededRandom => new SeededRandom(storeId * 104729 + regionId);
      let queued: Array<[number, RaftEnvelope]> = [];
      const store = new Store({
        config,
        engine,
        clock: { nowUnixMs: () => Date.now(), defer: (fn) => setImmediate(fn) },
        onFatal: (error) => {
          throw error;
        },
        randomFor: random,
        outbox: {
          send: (to, envelope) => {
            queued.push([to, envelope]);
            return true;
          },
          flush: () => {
            const byStore = new Map<number, RaftEnvelope[]>();
            for (const [to, envelope] of queued) byStore.set(to, [...(byStore.get(to) ?? []), envelope]);
            queued = [];
            for (const [to, envelopes] of byStore)
              this.inFlight.push({ dueStep: this.step + this.hopSteps, to, envelopes });
          },
          sendSnapshot: () => Promise.reject(new Error('no snapshots in this test')),
        },
      });
      const peers = await loadRegionPeers({
        engine,
        config,
        randomFor: random,
        requestSnapshot: (regionId) => store.requestSnapshot(regionId),
      });
      for (const peer of peers) store.addRegion(peer);
      this.stores.set(storeId, store);
    }
  }

  /** One step: messages due now arrive, the tick intervals elapse, the rounds run. */
  async runStep(): Promise<void> {
    this.step++;
    const due = this.inFlight.filter((m) => m.dueStep <= this.step);
    this.inFlight = this.inFlight.filter((m) => m.dueStep > this.step);
    for (const { to, envelopes } of due) this.stores.get(to)?.deliver(envelopes);
    for (const store of this.stores.values()) for (let i = 0; i < this.intervalsPerStep; i++) store.tick();
    for (const store of this.stores.values()) await store.whenIdle();
    await settle(1);
  }

  /** The leader's term if exactly one store leads region 1. */
  leaderTerm(): number | undefined {
    const leaders = [...this.stores.values()]
      .map((s) => s.node(1)?.status())
      .filter((status) => status?.role === 'leader');
    return leaders.length === 1 ? leaders[0]?.term : undefined;
  }

  async stop(): Promise<void> {
    for (const store of this.stores.values()) await store.stop();
  }
}

/** Steps until a leader is elected (or stepsMax), then counts its term changes over `watchSteps`. */
async function electAndWatch(
  cluster: SlowLoopCluster,
  stepsMax: number,
  watchSteps: number,
): Promise<{ elected: boolean; leaderChanges: number }> {
  let step = 0;
  while (cluster.leaderTerm() === undefined && step < stepsMax) {
    await cluster.runStep();
    step++;
  }
  let term = cluster.leaderTerm();
  if (term === undefined) return { elected: false, leaderChanges: 0 };
  let leaderChanges = 0;
  for (let i = 0; i < watchSteps; i++) {
    await cluster.runStep();
    const now = cluster.leaderTerm();
    if (now !== term) leaderChanges++;
    term = now;
  }
  return { elected: true, leaderChanges };
}

describe('A store loop slower than wall time', () => {
  let cluster: SlowLoopCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('elects a leader and keeps it: one tick per round keeps timeouts longer than round trips', async () => {
    cluster = new SlowLoopCluster(5, 3);
    await cluster.start({});
    const outcome = await electAndWatch(cluster, 400, 200);
    assert.deepEqual(outcome, { elected: true, leaderChanges: 0 });
    const stats = cluster.stores.get(1)?.stats();
    assert.ok((stats?.ticksLostCount ?? 0) > 0, 'the loop was slower than the ticker');
  });

  it('does not, when a round may take every tick interval that elapsed (ticks follow wall time)', async () => {
    cluster = new SlowLoopCluster(5, 3);
    await cluster.start({ ticksPerRoundMax: 5 });
    const outcome = await electAndWatch(cluster, 400, 200);
    assert.ok(
      !outcome.elected || outcome.leaderChanges > 0,
      `with 5 ticks per round the region still elected and kept a leader: ${JSON.stringify(outcome)}`,
    );
  });
});
