// Finds peers removed from their region without learning it. A peer cut off while its
// region changed membership (and, for a learner, never campaigning) may never hear from the
// region again: the leader no longer sends to it, so no tombstone message reaches it, and
// its old range blocks the creation of peers for regions split from it. So, like TiKV's
// "leader missing" check, a peer that has not heard its leader for maxLeaderMissingMs asks
// PD about its region; when PD knows a newer membership (higher confVer) that does not
// include the peer, the store destroys it. A region PD no longer knows was merged away when
// PD's regions cover the peer's whole range, all newer than the peer: the peer is destroyed
// too. A frozen merge source goes only when its merge can no longer end here: left out of a
// newer membership (its merge was rolled back), or merged away with no local peer that could
// absorb it by log (Store.destroyStalePeer).
// A peer PD still lists stays: it is only cut off, and the leader will catch it up once it
// can. PD calls per pass are bounded.
import type { PdClient } from './pd-client.js';
import type { Store } from '../store/store.js';
import { epochFromProto } from '../store/region-meta.js';

/** Regions asked about per pass at most; the rest wait for the next pass. */
const PD_QUERIES_PER_PASS_MAX = 32;
/** Regions of PD's map looked at to decide a peer's region was merged away. */
const MERGED_AWAY_REGIONS_MAX = 64;

export interface StalePeerCheckOptions {
  readonly pd: Pick<PdClient, 'getRegionById' | 'scanRegions'>;
  readonly store: Store;
  /** Ticks a peer may go without hearing its leader before PD is asked. */
  readonly leaderMissingTicks: number;
  readonly log: (line: string) => void;
}

export class StalePeerCheck {
  private running = false;
  readonly counters = { queries: 0, destroyed: 0 };

  constructor(private readonly options: StalePeerCheckOptions) {}

  /** One pass; a pass in progress makes this a no-op. */
  async checkOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { store, pd } = this.options;
      const suspects = store
        .allRegions()
        .filter((p) => p.initialized && p.ticksWithoutLeader >= this.options.leaderMissingTicks)
        .slice(0, PD_QUERIES_PER_PASS_MAX);
      for (const peer of suspects) {
        this.counters.queries++;
        const res = await pd.getRegionById(peer.regionId);
        const known = res.region?.region;
        if (known === undefined) {
          await this.checkMergedAway(peer);
          continue;
        }
        const epoch = epochFromProto(known.regionEpoch, 'region.regionEpoch');
        const member = known.peers.some((p) => Number(p.id) === peer.peerId);
        if (member || epoch.confVer <= peer.region.epoch.confVer) continue;
        if (store.destroyStalePeer(peer.regionId, peer.peerId, 'newerMembership')) {
          this.counters.destroyed++;
          this.options.log(
            `peer ${peer.peerId} of region ${peer.regionId} is stale (PD has confVer ${epoch.confVer} without it, ours ${peer.region.epoch.confVer}): destroying it`,
          );
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * PD does not know the region: either not yet (a split's new region not reported), or it
   * was merged into a neighbour (which may have split again since). Only the second is
   * evidence: PD's regions cover the peer's whole range without a gap, and every one of them
   * has a newer version than the peer's. A split's unreported region fails that test: its
   * range is a gap in PD's map, or lies inside its parent at an older version.
   */
  private async checkMergedAway(peer: ReturnType<Store['allRegions']>[number]): Promise<void> {
    const { store, pd } = this.options;
    this.counters.queries++;
    const { startKey, endKey, epoch } = peer.region;
    const res = await pd.scanRegions(startKey, endKey, MERGED_AWAY_REGIONS_MAX);
    const regions = res.regions.flatMap((r) => (r.region === undefined ? [] : [r.region]));
    let cursor = Buffer.from(startKey);
    let covered = false;
    for (const r of regions) {
      const version = epochFromProto(r.regionEpoch, 'region.regionEpoch').version;
      if (Number(r.id) === peer.regionId || version <= epoch.version) return;
      // A local replica of the absorbing region that has not caught up yet may still apply
      // the merge by log, and needs this peer (its data) to do so: leave it to that merge.
      const local = store.region(Number(r.id));
      if (local !== undefined && local.initialized && local.region.epoch.version < version) return;
      if (Buffer.compare(r.startKey, cursor) > 0) return; // a gap
      if (
        r.endKey.length === 0 ||
        (endKey.length > 0 && Buffer.compare(r.endKey, Buffer.from(endKey)) >= 0)
      ) {
        covered = true;
        break;
      }
      cursor = Buffer.from(r.endKey);
    }
    if (!covered) return;
    if (store.destroyStalePeer(peer.regionId, peer.peerId, 'mergedAway')) {
      this.counters.destroyed++;
      this.options.log(
        `peer ${peer.peerId} of region ${peer.regionId} is stale (PD has no such region, and newer regions cover its range): destroying it`,
      );
    }
  }
}
