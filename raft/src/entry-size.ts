// How entries are measured against the byte limits of messages, Ready batches and the
// uncommitted-size bound. A fixed per-entry overhead stands in for the encoded header so
// that a run of empty entries still counts towards message and Ready caps.
import type { Entry } from './types.js';

/** Approximate encoded size of an entry's term, index and type. */
export const ENTRY_OVERHEAD_BYTES = 16;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Payload bytes only: what proposals are measured by (maxEntrySizeBytes, uncommitted size). */
export function payloadSizeBytes(entries: readonly Entry[]): number {
  let size = 0;
  for (const entry of entries) size += entry.data.byteLength;
  return size;
}

/** The longest prefix of `entries` within `maxSizeBytes`, but never fewer than one entry. */
export function limitSize<T extends Entry>(entries: T[], maxSizeBytes: number): T[] {
  if (entries.length === 0) return entries;
  let size = entrySizeBytes(entries[0] as T);
  let count = 1;
  while (count < entries.length) {
    size += entrySizeBytes(entries[count] as T);
    if (size > maxSizeBytes) break;
    count++;
  }
  return count === entries.length ? entries : entries.slice(0, count);
}
