// Where to cut a region that is hot by load rather than by size (load-based split, after
// TiKV's load-base-split). The KV service records the keys its requests touch; a bounded
// reservoir keeps a uniform sample of them (Algorithm R: every request has the same chance
// to be in it, however many arrive). The decision is a pure function of the sample: among
// the sampled keys strictly inside the region, pick the one that best balances the sampled
// requests left and right, provided few ranged requests (scans, batches, range deletes)
// straddle it — such a request would hit two regions after the split. Load on one key
// cannot be divided: no key then balances, and nothing is split.
import type { RandomSource } from '@flotilla/raft';
import { compareBytes } from '../storage/bytes.js';
import type { RegionMeta } from './region-meta.js';

/** The keys one request touched. */
export interface LoadSample {
  /** The key of a point request, or the first key of a ranged one. */
  readonly startKey: Uint8Array;
  /**
   * Ranged requests only: the end of the range, exclusive (clamped to the region; empty: to
   * the end of the key space). Undefined for a point request.
   */
  readonly endKey: Uint8Array | undefined;
}

/** Requests kept per region (TiKV keeps 20 per detection tick; we sample the whole window). */
export const LOAD_SPLIT_SAMPLES_MAX = 256;
/** Candidate split keys evaluated per decision (evenly picked from the distinct sampled keys). */
export const LOAD_SPLIT_CANDIDATES_MAX = 64;

export interface LoadSplitThresholds {
  /** Fewer sampled requests than this tell too little: no decision (TiKV: 100). */
  readonly samplesMin: number;
  /** |left - right| / (left + right) must stay below this (TiKV: 0.25). */
  readonly balanceScoreMax: number;
  /** Straddling requests / all requests must stay below this (TiKV: 0.5). */
  readonly crossingScoreMax: number;
}

export const LOAD_SPLIT_THRESHOLDS_DEFAULTS: LoadSplitThresholds = {
  samplesMin: 100,
  balanceScoreMax: 0.25,
  crossingScoreMax: 0.5,
};

export type LoadSplitDecision =
  | {
      readonly kind: 'split';
      readonly splitKey: Uint8Array;
      /** Sampled requests wholly below, wholly at or above, and across the key. */
      readonly leftCount: number;
      readonly rightCount: number;
      readonly crossingCount: number;
    }
  | {
      readonly kind: 'none';
      /** Too few samples to judge; all load on one key; no key balanced enough with few straddling. */
      readonly cause: 'fewSamples' | 'oneKey' | 'unbalanced';
      readonly reason: string;
    };

/** A uniform sample of at most `capacity` requests out of all recorded since the last reset. */
export class LoadSplitSampler {
  private readonly samples: LoadSample[] = [];
  private recordedCount = 0;

  constructor(
    private readonly random: RandomSource,
    private readonly capacity: number = LOAD_SPLIT_SAMPLES_MAX,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`sampler capacity must be a positive integer, got ${capacity}`);
  }

  /** Requests recorded since the last reset (sampled or not). */
  get recorded(): number {
    return this.recordedCount;
  }

  record(sample: LoadSample): void {
    this.recordedCount++;
    let slot = this.samples.length;
    if (slot >= this.capacity) {
      // Keep the new request with probability capacity / recorded, in a random slot.
      slot = this.random.nextInt(this.recordedCount);
      if (slot >= this.capacity) return;
    }
    // Copied: a key decoded from a request may be a view into the whole (batched) frame.
    this.samples[slot] = {
      startKey: new Uint8Array(sample.startKey),
      endKey: sample.endKey === undefined ? undefined : new Uint8Array(sample.endKey),
    };
    if (this.samples.length > this.capacity)
      throw new Error(`load sampler holds ${this.samples.length} samples, capacity ${this.capacity}`);
  }

  sampled(): readonly LoadSample[] {
    return this.samples;
  }

  reset(): void {
    this.samples.length = 0;
    this.recordedCount = 0;
  }
}

/** Where a sampled request lies relative to a candidate split key. */
function sideOf(sample: LoadSample, key: Uint8Array): 'left' | 'right' | 'crossing' {
  if (compareBytes(sample.startKey, key) >= 0) return 'right';
  if (sample.endKey === undefined) return 'left';
  if (sample.endKey.length > 0 && compareBytes(sample.endKey, key) <= 0) return 'left';
  return 'crossing';
}

/** Whether `key` lies strictly inside the region: both sides of a split there are non-empty ranges. */
function strictlyInside(region: Pick<RegionMeta, 'startKey' | 'endKey'>, key: Uint8Array): boolean {
  return (
    compareBytes(key, region.startKey) > 0 &&
    (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0)
  );
}

/** The distinct sampled boundaries strictly inside the region, sorted, at most LOAD_SPLIT_CANDIDATES_MAX. */
function candidateKeys(
  samples: readonly LoadSample[],
  region: Pick<RegionMeta, 'startKey' | 'endKey'>,
): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (const s of samples) {
    keys.push(s.startKey);
    if (s.endKey !== undefined && s.endKey.length > 0) keys.push(s.endKey);
  }
  const inside = keys.filter((k) => strictlyInside(region, k)).sort(compareBytes);
  const distinct = inside.filter((k, i) => i === 0 || compareBytes(k, inside[i - 1] as Uint8Array) !== 0);
  if (distinct.length <= LOAD_SPLIT_CANDIDATES_MAX) return distinct;
  const step = distinct.length / LOAD_SPLIT_CANDIDATES_MAX;
  return Array.from(
    { length: LOAD_SPLIT_CANDIDATES_MAX },
    (_, i) => distinct[Math.floor(i * step)] as Uint8Array,
  );
}

/**
 * The key that best divides the sampled load of the region, or why there is none: too few
 * samples, all load on one key, or no key both balanced enough and crossed by few enough
 * ranged requests. A chosen key is always strictly inside the region (never an empty side)
 * and has sampled load on both sides.
 */
export function chooseLoadSplitKey(
  samples: readonly LoadSample[],
  region: Pick<RegionMeta, 'startKey' | 'endKey'>,
  thresholds: LoadSplitThresholds = LOAD_SPLIT_THRESHOLDS_DEFAULTS,
): LoadSplitDecision {
  if (samples.length < thresholds.samplesMin)
    return {
      kind: 'none',
      cause: 'fewSamples',
      reason: `${samples.length} sampled requests, need ${thresholds.samplesMin}`,
    };
  const first = samples[0] as LoadSample;
  if (samples.every((s) => s.endKey === undefined && compareBytes(s.startKey, first.startKey) === 0))
    return { kind: 'none', cause: 'oneKey', reason: 'all sampled load is on one key' };
  let best: Extract<LoadSplitDecision, { kind: 'split' }> | undefined;
  let bestBalance = Infinity;
  for (const key of candidateKeys(samples, region)) {
    let left = 0;
    let right = 0;
    let crossing = 0;
    for (const s of samples) {
      const side = sideOf(s, key);
      if (side === 'left') left++;
      else if (side === 'right') right++;
      else crossing++;
    }
    if (left === 0 || right === 0) continue;
    const balance = Math.abs(left - right) / (left + right);
    const crossingScore = crossing / samples.length;
    if (balance >= thresholds.balanceScoreMax || crossingScore >= thresholds.crossingScoreMax) continue;
    if (
      balance < bestBalance ||
      (balance === bestBalance && best !== undefined && crossing < best.crossingCount)
    ) {
      bestBalance = balance;
      best = { kind: 'split', splitKey: key, leftCount: left, rightCount: right, crossingCount: crossing };
    }
  }
  return (
    best ?? { kind: 'none', cause: 'unbalanced', reason: 'no sampled key divides the load evenly enough' }
  );
}
