// Reclaims expired keys. Reads already hide a key whose TTL ran out; this removes it from
// disk. On every region this store leads, each sweep scans the next page of the region's
// keys from a cursor (wrapping around at the end) and proposes one write of conditional
// `expire` operations for the keys it found expired. The condition is checked again at
// apply time against the command's timestamp, so a key rewritten after the sweep saw it
// survives, and every replica deletes exactly the same keys.
import { keySuccessor } from '../storage/bytes.js';
import { dataRange, userKeyOf } from '../storage/keys.js';
import { encodeWrite } from './command-builder.js';
import type { RegionPeer } from './region-peer.js';
import type { Store, StoreClock } from './store.js';
import { liveValue } from './user-value.js';

/** Keys scanned per region per sweep. */
export const TTL_SWEEP_SCAN_KEYS = 1024;
/** Expire operations in one proposed command. */
export const TTL_SWEEP_EXPIRE_KEYS_MAX = 256;

export interface SweepReport {
  readonly regionsSwept: number;
  readonly keysProposed: number;
}

export class TtlSweeper {
  /** Next user key to scan from, per region. */
  private readonly cursors = new Map<number, Uint8Array>();
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
      for (const peer of this.store.allRegions()) {
        if (peer.node.basicStatus().role !== 'leader') {
          this.cursors.delete(peer.regionId);
          continue;
        }
        regionsSwept++;
        keysProposed += await this.sweepRegion(peer);
      }
      return { regionsSwept, keysProposed };
    } finally {
      this.running = false;
    }
  }

  private async sweepRegion(peer: RegionPeer): Promise<number> {
    const region = peer.region;
    const start = this.cursors.get(region.id) ?? region.startKey;
    const page = await this.store.engineScan(dataRange(start, region.endKey), { limit: TTL_SWEEP_SCAN_KEYS });
    const now = this.clock.nowUnixMs();
    const expired: Uint8Array[] = [];
    let resumeAfter: Uint8Array | undefined;
    for (const { key, value } of page) {
      if (liveValue(value, now) !== undefined) continue;
      expired.push(userKeyOf(key));
      if (expired.length === TTL_SWEEP_EXPIRE_KEYS_MAX) {
        resumeAfter = userKeyOf(key);
        break;
      }
    }
    const last = page.at(-1);
    if (resumeAfter !== undefined) this.cursors.set(region.id, keySuccessor(resumeAfter));
    else if (page.length < TTL_SWEEP_SCAN_KEYS || last === undefined) this.cursors.delete(region.id);
    else this.cursors.set(region.id, keySuccessor(userKeyOf(last.key)));
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
