// Reclaims expired keys. Reads already hide a key whose TTL ran out; this removes it from
// disk. On every region this store leads, each sweep scans the next page of the region's
// keys from a cursor (wrapping around at the end) and proposes one write of conditional
// `expire` operations for the keys it found expired. The condition is checked again at
// apply time against the command's timestamp, so a key rewritten after the sweep saw it
// survives, and every replica deletes exactly the same keys.
// A region whose last full pass found nothing expired is skipped until it applies a new
// entry or the earliest TTL deadline that pass saw arrives: idle regions (thousands of them
// asleep under hibernation) cost no scan at all.
import { keySuccessor } from '../storage/bytes.js';
import { dataRange, userKeyOf } from '../storage/keys.js';
import { encodeWrite } from './command-builder.js';
import type { RegionPeer } from './region-peer.js';
import type { Store, StoreClock } from './store.js';
import { decodeUserValue } from './user-value.js';

/** Keys scanned per region per sweep. */
export const TTL_SWEEP_SCAN_KEYS = 1024;
/** Expire operations in one proposed command. */
export const TTL_SWEEP_EXPIRE_KEYS_MAX = 256;

export interface SweepReport {
  readonly regionsSwept: number;
  readonly keysProposed: number;
}

/** What the last complete pass over a region found, to skip it while nothing can have expired. */
interface CleanPass {
  /** The region's applied index when the pass completed with nothing expired. */
  readonly appliedIndex: number;
  /** The earliest TTL deadline the pass saw (Infinity if no key has a TTL). */
  readonly nextDeadlineUnixMs: number;
}

export class TtlSweeper {
  /** Next user key to scan from, per region. */
  private readonly cursors = new Map<number, Uint8Array>();
  /** Earliest TTL deadline seen by the pass in progress, per region. */
  private readonly passDeadlines = new Map<number, number>();
  /** Whether the pass in progress found anything expired, per region. */
  private readonly passFoundExpired = new Set<number>();
  /** Regions whose last complete pass found nothing expired. */
  private readonly clean = new Map<number, CleanPass>();
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly clock: StoreClock,
  ) {}

  /** One pass over the regions this store leads; a pass already running makes this a no-op. */
  async sweepOnce(): Promise<SweepReport> {
    if (this.running) return { regionsSwept: 0, keysProposed: 0 };
    this.running = true;
    try {
      let regionsSwept = 0;
      let keysProposed = 0;
      const now = this.clock.nowUnixMs();
      for (const peer of this.store.allRegions()) {
        if (peer.node.basicStatus().role !== 'leader') {
          this.forget(peer.regionId);
          continue;
        }
        const clean = this.clean.get(peer.regionId);
        if (
          clean !== undefined &&
          clean.appliedIndex === peer.storage.appliedIndex &&
          now < clean.nextDeadlineUnixMs
        )
          continue;
        this.clean.delete(peer.regionId);
        regionsSwept++;
        keysProposed += await this.sweepRegion(peer);
      }
      // Regions that left the store (destroyed, merged) leave no state behind.
      const present = new Set(this.store.allRegions().map((p) => p.regionId));
      for (const regionId of [...this.clean.keys(), ...this.cursors.keys()])
        if (!present.has(regionId)) this.forget(regionId);
      return { regionsSwept, keysProposed };
    } finally {
      this.running = false;
    }
  }

  private forget(regionId: number): void {
    this.cursors.delete(regionId);
    this.passDeadlines.delete(regionId);
    this.passFoundExpired.delete(regionId);
    this.clean.delete(regionId);
  }

  private async sweepRegion(peer: RegionPeer): Promise<number> {
    const region = peer.region;
    const start = this.cursors.get(region.id) ?? region.startKey;
    const page = await this.store.engineScan(dataRange(start, region.endKey), { limit: TTL_SWEEP_SCAN_KEYS });
    const now = this.clock.nowUnixMs();
    const expired: Uint8Array[] = [];
    let resumeAfter: Uint8Array | undefined;
    let deadline = this.passDeadlines.get(region.id) ?? Infinity;
    for (const { key, value } of page) {
      const { expireAtUnixMs } = decodeUserValue(value);
      if (expireAtUnixMs === 0) continue;
      if (expireAtUnixMs > now) {
        deadline = Math.min(deadline, expireAtUnixMs);
        continue;
      }
      expired.push(userKeyOf(key));
      if (expired.length === TTL_SWEEP_EXPIRE_KEYS_MAX) {
        resumeAfter = userKeyOf(key);
        break;
      }
    }
    const last = page.at(-1);
    this.passDeadlines.set(region.id, deadline);
    if (expired.length > 0) this.passFoundExpired.add(region.id);
    if (resumeAfter !== undefined) this.cursors.set(region.id, keySuccessor(resumeAfter));
    else if (page.length < TTL_SWEEP_SCAN_KEYS || last === undefined) {
      // The pass wrapped around: with nothing expired in it, the region can rest.
      if (!this.passFoundExpired.has(region.id))
        this.clean.set(region.id, { appliedIndex: peer.storage.appliedIndex, nextDeadlineUnixMs: deadline });
      this.cursors.delete(region.id);
      this.passDeadlines.delete(region.id);
      this.passFoundExpired.delete(region.id);
    } else this.cursors.set(region.id, keySuccessor(userKeyOf(last.key)));
    if (expired.length === 0) return 0;
    const data = encodeWrite(
      { region, peerId: peer.peerId, nowUnixMs: now },
      expired.map((key) => ({ kind: 'expire' as const, key })),
    );
    // Best effort: a refusal (leadership moved, busy) is retried by a later sweep.
    const result = await this.store.propose(region.id, data);
    return result.kind === 'write' ? expired.length : 0;
  }
}
