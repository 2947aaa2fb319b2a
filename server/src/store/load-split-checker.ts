// Load-based split: a region this store leads that serves more than loadSplitQpsThreshold
// requests per second (reads and writes through the KV service), period after period for
// loadSplitWindowMs, is split where its load divides (load-split-sampler.ts) — even if it
// is far below the size threshold. Splitting lets PD spread the halves' leaders over other
// stores; a region hot on one key gains nothing and is left alone.
//
// The KV service calls record() for every request it routes to a region (for every key of
// a batch of point operations: each is one query); the node calls
// checkOnce() every LOAD_SPLIT_CHECK_INTERVAL_MS. The split takes the ordinary path: the
// leader asks PD for ids and proposes the split admin command at the epoch it sampled.
import type { RandomSource } from '@flotilla/raft';
import { SeededRandom } from '@flotilla/raft';
import type { LoadSample, LoadSplitDecision, LoadSplitThresholds } from './load-split-sampler.js';
import {
  LOAD_SPLIT_THRESHOLDS_DEFAULTS,
  LoadSplitSampler,
  chooseLoadSplitKey,
} from './load-split-sampler.js';
import type { RegionEpoch, RegionMeta } from './region-meta.js';
import type { SplitOutcome } from './region-split.js';
import type { StoreConfig } from './store-config.js';
import type { Store } from './store.js';

/** How often the node runs checkOnce (TiKV's detection period is 1 s too). */
export const LOAD_SPLIT_CHECK_INTERVAL_MS = 1_000;
/** A period shorter than this (the first, or a timer that fired early) is not judged yet. */
const PERIOD_MS_MIN = 500;
/** Regions whose load is tracked at once; requests of further regions are not sampled. */
export const LOAD_TRACKED_REGIONS_MAX = 100_000;

/** The part of the Store the checker uses (the real Store, or a fake in unit tests). */
export interface LoadSplitStore {
  /** The region as this store's peer has it, if the peer is initialized and leads it. */
  ledRegion(regionId: number): RegionMeta | undefined;
  splitRegion(regionId: number, epoch: RegionEpoch, splitKeys: readonly Uint8Array[]): Promise<SplitOutcome>;
}

interface RegionLoadState {
  /** Epoch version the samples belong to: a split or merge starts the region afresh. */
  readonly version: number;
  readonly sampler: LoadSplitSampler;
  requestsSincePeriod: number;
  periodStartUnixMs: number;
  /** Start of the run of hot periods (0: the last period was not hot). */
  hotSinceUnixMs: number;
}

export interface LoadSplitCounters {
  /** Decisions taken (a region hot for a full window). */
  decisions: number;
  splits: number;
  /** Hot for a full window but no key divides the load (one hot key, or too many straddling requests). */
  unsplittable: number;
  splitFailures: number;
}

export class LoadSplitChecker {
  private readonly regions = new Map<number, RegionLoadState>();
  private running = false;
  readonly counters: LoadSplitCounters = { decisions: 0, splits: 0, unsplittable: 0, splitFailures: 0 };
  /** The last decision per region, for logs and tests (bounded by the tracked regions). */
  readonly lastDecisions = new Map<number, LoadSplitDecision>();

  constructor(
    private readonly store: LoadSplitStore,
    private readonly config: Pick<StoreConfig, 'loadSplitQpsThreshold' | 'loadSplitWindowMs'>,
    private readonly nowUnixMs: () => number,
    private readonly log: (line: string) => void,
    private readonly random: RandomSource = new SeededRandom(Date.now()),
    private readonly thresholds: LoadSplitThresholds = LOAD_SPLIT_THRESHOLDS_DEFAULTS,
  ) {}

  /** A request reached the region (called by the KV service for every routed request). */
  record(region: RegionMeta, sample: LoadSample): void {
    let state = this.regions.get(region.id);
    if (state === undefined || state.version !== region.epoch.version) {
      if (state === undefined && this.regions.size >= LOAD_TRACKED_REGIONS_MAX) return;
      state = {
        version: region.epoch.version,
        sampler: new LoadSplitSampler(this.random),
        requestsSincePeriod: 0,
        periodStartUnixMs: this.nowUnixMs(),
        hotSinceUnixMs: 0,
      };
      this.regions.set(region.id, state);
    }
    state.requestsSincePeriod++;
    state.sampler.record(sample);
  }

  /** Closes the current period of every tracked region; splits those hot for a whole window. */
  async checkOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const [regionId, state] of [...this.regions]) {
        const region = this.store.ledRegion(regionId);
        if (region === undefined || region.epoch.version !== state.version) {
          this.regions.delete(regionId);
          this.lastDecisions.delete(regionId);
          continue;
        }
        if (this.closePeriod(regionId, state)) await this.split(region, state);
      }
    } finally {
      this.running = false;
    }
  }

  /** Judges the period since the last check; true when the region has been hot for a full window. */
  private closePeriod(regionId: number, state: RegionLoadState): boolean {
    const now = this.nowUnixMs();
    const periodMs = now - state.periodStartUnixMs;
    if (periodMs < PERIOD_MS_MIN) return false;
    const qps = (state.requestsSincePeriod * 1000) / periodMs;
    const periodStart = state.periodStartUnixMs;
    state.requestsSincePeriod = 0;
    state.periodStartUnixMs = now;
    if (qps < this.config.loadSplitQpsThreshold) {
      // Cold again: forget the region until its next request (keeps the map small).
      if (qps === 0) this.regions.delete(regionId);
      state.hotSinceUnixMs = 0;
      state.sampler.reset();
      return false;
    }
    if (state.hotSinceUnixMs === 0) state.hotSinceUnixMs = periodStart;
    return now - state.hotSinceUnixMs >= this.config.loadSplitWindowMs;
  }

  private async split(region: RegionMeta, state: RegionLoadState): Promise<void> {
    this.counters.decisions++;
    const decision = chooseLoadSplitKey(state.sampler.sampled(), region, this.thresholds);
    const previous = this.lastDecisions.get(region.id);
    this.lastDecisions.set(region.id, decision);
    // Either way, the next decision looks at a fresh window.
    state.hotSinceUnixMs = 0;
    const recorded = state.sampler.recorded;
    state.sampler.reset();
    if (decision.kind === 'none') {
      this.counters.unsplittable++;
      // Once per cause in a row: a region hot on one key would otherwise log every window.
      if (previous?.kind !== 'none' || previous.cause !== decision.cause)
        this.log(`region ${region.id} is hot but not split by load: ${decision.reason}`);
      return;
    }
    const outcome = await this.store.splitRegion(region.id, region.epoch, [decision.splitKey]);
    if (outcome.kind === 'split') {
      this.counters.splits++;
      this.log(
        `region ${region.id} split by load at ${Buffer.from(decision.splitKey).toString('hex')} ` +
          `(${recorded} requests in the window; sampled ${decision.leftCount} left, ` +
          `${decision.rightCount} right, ${decision.crossingCount} across)`,
      );
    } else {
      this.counters.splitFailures++;
      const why = outcome.kind === 'rejected' ? outcome.reason : outcome.error.kind;
      this.log(`region ${region.id} load split failed: ${why}`);
    }
  }

  /** Regions whose load is being tracked now. */
  get trackedRegionsCount(): number {
    return this.regions.size;
  }
}

/** The store as the checker sees it: regions it leads, and the ordinary split path. */
export function loadSplitStoreOf(store: Store): LoadSplitStore {
  return {
    ledRegion: (regionId) => {
      const peer = store.region(regionId);
      if (peer === undefined || !peer.initialized || peer.node.basicStatus().role !== 'leader')
        return undefined;
      return peer.region;
    },
    splitRegion: (regionId, epoch, splitKeys) => store.splitRegion(regionId, epoch, splitKeys),
  };
}
