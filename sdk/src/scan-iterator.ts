// Range scans as an async iterator that crosses region boundaries. The iterator keeps a key
// cursor, never a region: each page asks for the region holding the cursor, so a split or
// merge in the middle of a scan only means the next page is routed differently (an
// EpochNotMatch re-routes the same page). Forward scans continue after the last key
// returned; reverse scans continue below it. Each page is a separate linearizable (or
// lease/stale) read: the scan is not a snapshot of one moment.
import type { kvpb } from './wire.js';
import { keySuccessor, maxStart, minEnd, compareBytes } from './keys.js';
import type { RegionInfo } from './region-cache.js';
import type { CallState, RequestRunner } from './request-runner.js';

export interface KvPair {
  readonly key: Buffer;
  /** Empty when the scan asked for keys only. */
  readonly value: Buffer;
}

export interface ScanPlan {
  readonly startKey: Buffer;
  /** Exclusive; empty means the end of the key space. */
  readonly endKey: Buffer;
  /** Pairs to return at most; Infinity for all. */
  readonly limit: number;
  readonly reverse: boolean;
  readonly keysOnly: boolean;
  readonly pageSize: number;
}

/** Runs the scan; `newCall` gives each page its own deadline (and span). */
export async function* scanPages(
  runner: RequestRunner,
  plan: ScanPlan,
  newCall: <T>(run: (call: CallState) => Promise<T>) => Promise<T>,
): AsyncGenerator<KvPair, void, undefined> {
  let remaining = plan.limit;
  // Forward: the next key to read. Reverse: the exclusive upper bound still to read.
  let cursor: Buffer = plan.reverse ? plan.endKey : plan.startKey;
  while (remaining > 0) {
    const page = await newCall((call) =>
      readPage(runner, plan, cursor, Math.min(plan.pageSize, remaining), call),
    );
    for (const pair of page.pairs) yield { key: pair.key, value: pair.value };
    remaining -= page.pairs.length;
    if (page.next === undefined) return;
    cursor = page.next;
  }
}

interface Page {
  readonly pairs: readonly kvpb.KvPair[];
  /** Where the next page starts; undefined when the range is done. */
  readonly next: Buffer | undefined;
}

async function readPage(
  runner: RequestRunner,
  plan: ScanPlan,
  cursor: Buffer,
  limit: number,
  call: CallState,
): Promise<Page> {
  for (;;) {
    const region = plan.reverse
      ? await runner.locator.locateBefore(cursor, call.deadline)
      : await runner.locator.locate(cursor, call.deadline);
    const startKey = plan.reverse ? maxStart(plan.startKey, region.startKey) : cursor;
    const endKey = plan.reverse ? cursor : minEnd(plan.endKey, region.endKey);
    if (endKey.length > 0 && compareBytes(startKey, endKey) >= 0) return { pairs: [], next: undefined };
    const outcome = await runner.onRegion(
      region,
      {
        $case: 'scan',
        scan: { context: undefined, startKey, endKey, limit, reverse: plan.reverse, keyOnly: plan.keysOnly },
      },
      call,
    );
    if (outcome.kind === 'resplit' || outcome.response.$case !== 'scan') continue;
    const { pairs, hasMore } = outcome.response.scan;
    return { pairs, next: nextCursor(plan, region, pairs, hasMore) };
  }
}

function nextCursor(
  plan: ScanPlan,
  region: RegionInfo,
  pairs: readonly kvpb.KvPair[],
  hasMore: boolean,
): Buffer | undefined {
  const last = pairs.at(-1);
  if (hasMore && last !== undefined) return plan.reverse ? Buffer.from(last.key) : keySuccessor(last.key);
  if (plan.reverse) {
    const done = region.startKey.length === 0 || compareBytes(region.startKey, plan.startKey) <= 0;
    return done ? undefined : region.startKey;
  }
  const done =
    region.endKey.length === 0 || (plan.endKey.length > 0 && compareBytes(region.endKey, plan.endKey) >= 0);
  return done ? undefined : region.endKey;
}
