// What one KV request asked of its region — read or write, the keys it touched (as a load
// sample: a point, or a range), how many keys and bytes — handed by the KV handlers to
// whoever watches load: the load-based split checker and the traffic counters PD's
// hot-region scheduler reads from region heartbeats.
import { compareBytes, keySuccessor } from '../storage/bytes.js';
import type { LoadSample } from '../store/load-split-sampler.js';
import type { WriteMutation } from '../store/command-builder.js';
import type { RegionMeta } from '../store/region-meta.js';

export interface RequestLoad {
  readonly kind: 'read' | 'write';
  readonly sample: LoadSample;
  readonly keysCount: number;
  readonly bytes: number;
}

/** Told of every request routed to a region (after its store, epoch and keys were checked). */
export type RequestLoadObserver = (region: RegionMeta, load: RequestLoad) => void;

export function pointSample(key: Uint8Array): LoadSample {
  return { startKey: key, endKey: undefined };
}

/** One key: a point; several: the range from the smallest to just past the largest. */
export function keysSample(keys: readonly Uint8Array[]): LoadSample {
  const first = keys[0];
  if (first === undefined) throw new RangeError('a load sample needs at least one key');
  let min = first;
  let max = first;
  for (const k of keys) {
    if (compareBytes(k, min) < 0) min = k;
    if (compareBytes(k, max) > 0) max = k;
  }
  return compareBytes(min, max) === 0 ? pointSample(min) : { startKey: min, endKey: keySuccessor(max) };
}

/** The load of a write command's mutations (a range delete counts as a range, clamped by the caller). */
export function writeLoad(mutations: readonly WriteMutation[], regionEndKey: Uint8Array): RequestLoad {
  let bytes = 0;
  const keys: Uint8Array[] = [];
  let range: LoadSample | undefined;
  for (const m of mutations) {
    switch (m.kind) {
      case 'put':
        bytes += m.key.length + m.value.length;
        keys.push(m.key);
        break;
      case 'delete':
      case 'expire':
        bytes += m.key.length;
        keys.push(m.key);
        break;
      case 'deleteRange':
        bytes += m.startKey.length + m.endKey.length;
        range = { startKey: m.startKey, endKey: clampedEnd(m.endKey, regionEndKey) };
        keys.push(m.startKey);
        break;
    }
  }
  const sample = range !== undefined && mutations.length === 1 ? range : keysSample(keys);
  return { kind: 'write', sample, keysCount: mutations.length, bytes };
}

/** The smaller of a requested end key and a region's end key; empty means unbounded. */
export function clampedEnd(requested: Uint8Array, regionEnd: Uint8Array): Uint8Array {
  if (regionEnd.length === 0) return requested;
  if (requested.length === 0 || compareBytes(requested, regionEnd) > 0) return regionEnd;
  return requested;
}
