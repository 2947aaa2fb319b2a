// What one KV request asked of its region — read or write, the keys it touched (as load
// samples: points, or a range), how many keys and bytes — handed by the KV handlers to
// whoever watches load: the load-based split checker and the traffic counters PD's
// hot-region scheduler reads from region heartbeats. A batch of point operations (BatchGet,
// BatchWrite, also what the SDK's coalescing sends) is one point sample per key, as TiKV
// counts batch gets: its keys are independent lookups, not a range a split would cut.
import { compareBytes } from '../storage/bytes.js';
import type { LoadSample } from '../store/load-split-sampler.js';
import type { WriteMutation } from '../store/command-builder.js';
import type { RegionMeta } from '../store/region-meta.js';

export interface RequestLoad {
  readonly kind: 'read' | 'write';
  /** One per point key, or one range; each counts as one query for load-based split. */
  readonly samples: readonly LoadSample[];
  readonly keysCount: number;
  readonly bytes: number;
}

/** Told of every request routed to a region (after its store, epoch and keys were checked). */
export type RequestLoadObserver = (region: RegionMeta, load: RequestLoad) => void;

export function pointSample(key: Uint8Array): LoadSample {
  return { startKey: key, endKey: undefined };
}

/** The load of a write command's mutations (a range delete is a range sample, clamped to the region). */
export function writeLoad(mutations: readonly WriteMutation[], regionEndKey: Uint8Array): RequestLoad {
  let bytes = 0;
  const samples: LoadSample[] = [];
  for (const m of mutations) {
    switch (m.kind) {
      case 'put':
        bytes += m.key.length + m.value.length;
        samples.push(pointSample(m.key));
        break;
      case 'delete':
      case 'expire':
        bytes += m.key.length;
        samples.push(pointSample(m.key));
        break;
      case 'deleteRange':
        bytes += m.startKey.length + m.endKey.length;
        samples.push({ startKey: m.startKey, endKey: clampedEnd(m.endKey, regionEndKey) });
        break;
    }
  }
  return { kind: 'write', samples, keysCount: mutations.length, bytes };
}

/** The smaller of a requested end key and a region's end key; empty means unbounded. */
export function clampedEnd(requested: Uint8Array, regionEnd: Uint8Array): Uint8Array {
  if (regionEnd.length === 0) return requested;
  if (requested.length === 0 || compareBytes(requested, regionEnd) > 0) return regionEnd;
  return requested;
}
