// Where a store gets the ids of the regions and peers a split creates. Ids must be unique
// in the whole cluster, so they come from the Placement Driver (AskBatchSplit); the store
// only sees this interface, and tests inject a counter.
import type { RegionMeta } from './region-meta.js';

export interface SplitIdSource {
  /**
   * Ids for `splitCount` new regions cut from `region`: one region id each and one peer id
   * per peer of `region`, in the order of `region.peers`.
   */
  askBatchSplit(
    region: RegionMeta,
    splitCount: number,
  ): Promise<Array<{ newRegionId: number; newPeerIds: number[] }>>;
}

/** A change to the set of regions a store holds, reported to whoever tracks them (PD). */
export type RegionsChangedEvent =
  | {
      readonly kind: 'split';
      /** The resulting regions in key order, the parent (leftmost) first. */
      readonly regions: RegionMeta[];
    }
  | {
      readonly kind: 'merge';
      /** The target region after absorbing the source. */
      readonly region: RegionMeta;
      /** The region that no longer exists. */
      readonly sourceRegionId: number;
    };
