// Splits in a PD cluster: the new regions' and peers' ids come from PD (AskBatchSplit),
// and a split, once applied, is reported to PD (ReportBatchSplit) so routing learns of it
// at once rather than at the next region heartbeat. A lost report is harmless: the next
// heartbeats of the resulting regions carry the same information (PD replaces overlapped
// regions by newer ones).
import type { RegionMeta } from '../store/region-meta.js';
import { regionToProto } from '../store/region-meta.js';
import type { SplitIdSource } from '../store/split-ids.js';
import { toSafeNumber } from '../store/wire-numbers.js';
import type { PdClient } from './pd-client.js';

export function pdSplitIds(pd: PdClient): SplitIdSource {
  return {
    async askBatchSplit(region: RegionMeta, splitCount: number) {
      const res = await pd.askBatchSplit(regionToProto(region), splitCount);
      return res.ids.map((id, i) => ({
        newRegionId: toSafeNumber(id.newRegionId, `ids[${i}].newRegionId`),
        newPeerIds: id.newPeerIds.map((p, j) => toSafeNumber(p, `ids[${i}].newPeerIds[${j}]`)),
      }));
    },
  };
}

/** Tells PD about an applied split; failures are logged (heartbeats repair them). */
export function reportSplit(pd: PdClient, regions: readonly RegionMeta[], log: (line: string) => void): void {
  pd.reportBatchSplit(regions.map(regionToProto)).catch((err: unknown) =>
    log(
      `reporting split of region ${regions[0]?.id} failed: ${err instanceof Error ? err.message : String(err)}`,
    ),
  );
}
