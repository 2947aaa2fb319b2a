// Decides when a region has grown too large and where to cut it. Cheap signals first: each
// region counts the bytes and keys it applied since its last check (region-peer.ts), and a
// pass (Store.checkSplits, every splitCheckIntervalMs) only looks at regions this store leads
// that wrote more than 1/16 of the split size (or key count) since, or that a split left
// still too large. For those it estimates the size as max(engine approximate size, last
// measured size + bytes written since): LevelDB's estimate ignores the memtable, so freshly
// written data would be missed without the counter. Only a region estimated past the limit
// is scanned, page by page with bounded memory, to find the key that halves it by size (or
// by key count), and then split through Raft with the store's split id source.
import { keySuccessor } from '../storage/bytes.js';
import { dataRange, userKeyOf } from '../storage/keys.js';
import type { RegionMeta } from './region-meta.js';
import type { RegionPeer } from './region-peer.js';
import type { StoreConfig } from './store-config.js';
import type { Store } from './store.js';

/** Keys read per engine call while measuring a region. */
export const SPLIT_CHECK_PAGE_KEYS = 1024;
/** Candidate split keys kept while measuring (evenly spaced; bounds the memory of a scan). */
export const SPLIT_CHECK_SAMPLES_MAX = 1024;
/** A region is measured once it wrote more than 1/CHECK_FRACTION of the split size or keys. */
const CHECK_FRACTION = 16;

interface Sample {
  readonly key: Uint8Array;
  /** Bytes and keys of the region before this key. */
  readonly bytesBefore: number;
  readonly keysBefore: number;
}

export interface RegionMeasure {
  readonly sizeBytes: number;
  readonly keysCount: number;
  /** The key that halves the measured part (by size, or by keys when only the key count is over); undefined if none. */
  readonly splitKey: Uint8Array | undefined;
}

export class SplitChecker {
  private running = false;
  checksCount = 0;

  constructor(
    private readonly store: Store,
    private readonly config: StoreConfig,
  ) {}

  /** One pass; a pass already running makes this a no-op. */
  async checkOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const due = this.store.allRegions().filter((peer) => this.isDue(peer));
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < due.length) await this.checkRegion(due[next++] as RegionPeer);
      };
      const workersCount = Math.min(this.config.splitChecksInFlightMax, due.length);
      await Promise.all(Array.from({ length: workersCount }, worker));
    } finally {
      this.running = false;
    }
  }

  private isDue(peer: RegionPeer): boolean {
    if (!peer.initialized || peer.node.basicStatus().role !== 'leader') return false;
    return (
      peer.splitCheckDue ||
      peer.writtenBytesSinceCheck > this.config.regionSplitSizeBytes / CHECK_FRACTION ||
      peer.writtenKeysSinceCheck > this.config.regionSplitKeys / CHECK_FRACTION
    );
  }

  private async checkRegion(peer: RegionPeer): Promise<void> {
    this.checksCount++;
    const region = peer.region;
    const writtenBytes = peer.writtenBytesSinceCheck;
    const writtenKeys = peer.writtenKeysSinceCheck;
    const leftLarge = peer.splitCheckDue;
    peer.writtenBytesSinceCheck = 0;
    peer.writtenKeysSinceCheck = 0;
    peer.splitCheckDue = false;
    const approxBytes = await this.store.approximateSizeBytes(dataRange(region.startKey, region.endKey));
    const estimateBytes = Math.max(approxBytes, peer.measuredSizeBytes + writtenBytes);
    const estimateKeys = peer.measuredKeysCount + writtenKeys;
    if (!this.oversized(estimateBytes, estimateKeys) && !leftLarge) {
      peer.measuredSizeBytes = estimateBytes;
      peer.measuredKeysCount = estimateKeys;
      return;
    }
    const measure = await measureRegion(this.store, region, this.config);
    peer.measuredSizeBytes = measure.sizeBytes;
    peer.measuredKeysCount = measure.keysCount;
    if (!this.oversized(measure.sizeBytes, measure.keysCount) || measure.splitKey === undefined) return;
    // The region may have changed since it was measured: the split carries the epoch it saw.
    const outcome = await this.store.splitRegion(region.id, region.epoch, [measure.splitKey]);
    if (outcome.kind !== 'split') return;
    // Both halves start from half the measure; a half still too large is checked again next pass.
    for (const result of outcome.regions) {
      const half = this.store.region(result.id);
      if (half === undefined) continue;
      half.measuredSizeBytes = Math.ceil(measure.sizeBytes / 2);
      half.measuredKeysCount = Math.ceil(measure.keysCount / 2);
      half.splitCheckDue = this.oversized(half.measuredSizeBytes, half.measuredKeysCount);
    }
  }

  private oversized(sizeBytes: number, keysCount: number): boolean {
    return sizeBytes >= this.config.regionSplitSizeBytes || keysCount >= this.config.regionSplitKeys;
  }
}

/**
 * Scans the region's data (stopping after twice the split size or keys: the middle of that
 * is a fine cut too) and finds the key that halves it by size, or by keys when only the key
 * count is over the limit.
 */
export async function measureRegion(
  store: Pick<Store, 'engineScan'>,
  region: RegionMeta,
  config: Pick<StoreConfig, 'regionSplitSizeBytes' | 'regionSplitKeys'>,
): Promise<RegionMeasure> {
  const range = dataRange(region.startKey, region.endKey);
  let samples: Sample[] = [];
  let stride = 1;
  let sizeBytes = 0;
  let keysCount = 0;
  let start = range.start;
  for (;;) {
    const page = await store.engineScan({ start, end: range.end }, { limit: SPLIT_CHECK_PAGE_KEYS });
    for (const { key, value } of page) {
      if (keysCount % stride === 0 && keysCount > 0)
        samples.push({ key: userKeyOf(key).slice(), bytesBefore: sizeBytes, keysBefore: keysCount });
      if (samples.length >= SPLIT_CHECK_SAMPLES_MAX) {
        samples = samples.filter((_, i) => i % 2 === 1);
        stride *= 2;
      }
      sizeBytes += key.length - 1 + value.length;
      keysCount++;
    }
    const last = page.at(-1);
    const enough = sizeBytes >= 2 * config.regionSplitSizeBytes || keysCount >= 2 * config.regionSplitKeys;
    if (page.length < SPLIT_CHECK_PAGE_KEYS || last === undefined || enough) break;
    start = keySuccessor(last.key);
  }
  const bySize = sizeBytes >= config.regionSplitSizeBytes;
  const middle = samples.find((s) =>
    bySize ? s.bytesBefore >= sizeBytes / 2 : s.keysBefore >= keysCount / 2,
  );
  return { sizeBytes, keysCount, splitKey: (middle ?? samples.at(-1))?.key };
}
