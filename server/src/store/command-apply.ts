// What applying one normal log entry does to a region's state machine. Deterministic:
// every replica applies the same command to the same state and gets the same result,
// because everything time-dependent (TTL deadlines, expiry checks of compare-and-swap)
// is judged against the leader's clock reading carried in the command header.
import { raftpb } from '@flotilla/proto';
import { dataKey, dataRange } from '../storage/keys.js';
import { compareBytes } from '../storage/bytes.js';
import type { ApplyWriter } from './apply-writer.js';
import type { RegionMeta } from './region-meta.js';
import { epochFromProto, regionContainsKey } from './region-meta.js';
import type { RegionError } from './region-error.js';
import { encodeUserValue, liveValue } from './user-value.js';
import { toSafeNumber } from './wire-numbers.js';

export type CommandResult =
  | { readonly kind: 'write'; readonly deletedKeysCount: number }
  | {
      readonly kind: 'compareAndSwap';
      readonly succeeded: boolean;
      readonly previousValue: Uint8Array | undefined;
    }
  | { readonly kind: 'readBarrier' }
  | { readonly kind: 'noop' }
  /** A split applied: the resulting regions in key order, the parent (leftmost) first. */
  | { readonly kind: 'split'; readonly regions: readonly RegionMeta[] }
  /** A PrepareMerge applied: the source region is frozen as of `prepareIndex` (region-merge.ts). */
  | { readonly kind: 'mergePrepared'; readonly region: RegionMeta; readonly prepareIndex: number }
  /** A CommitMerge applied: the target region after absorbing the source. */
  | { readonly kind: 'merged'; readonly region: RegionMeta }
  /** A RollbackMerge applied: the source region serves again. */
  | { readonly kind: 'mergeRolledBack'; readonly region: RegionMeta }
  /** A command that can never apply (e.g. split keys outside the region), refused alike on every replica. */
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'regionError'; readonly error: RegionError }
  /**
   * The proposal is in the log but this peer can no longer learn whether it commits (the
   * store stopped, or the peer was destroyed): it may yet apply. Never "not applied" —
   * a client that retried would risk applying the write twice.
   */
  | { readonly kind: 'outcomeUnknown'; readonly reason: string };

export async function applyCommand(
  command: raftpb.RaftCommand,
  region: RegionMeta,
  writer: ApplyWriter,
): Promise<CommandResult> {
  const header = command.header;
  if (header === undefined)
    return { kind: 'regionError', error: { kind: 'staleCommand', reason: 'command without header' } };
  const epoch = epochFromProto(header.regionEpoch, 'header.regionEpoch');
  // Splits and merges change which keys a region holds: a data command proposed against an
  // older key range must not apply to the new one.
  if (epoch.version !== region.epoch.version) {
    return { kind: 'regionError', error: { kind: 'epochNotMatch', currentRegions: [region] } };
  }
  const nowUnixMs = toSafeNumber(header.proposedAtUnixMs, 'header.proposedAtUnixMs');
  const body = command.command;
  if (body === undefined) return { kind: 'noop' };
  switch (body.$case) {
    case 'write':
      return applyWrite(body.write, region, writer, nowUnixMs);
    case 'compareAndSwap':
      return applyCompareAndSwap(body.compareAndSwap, region, writer, nowUnixMs);
    case 'readBarrier':
      return { kind: 'readBarrier' };
    default:
      return {
        kind: 'regionError',
        error: {
          kind: 'staleCommand',
          reason: `command ${body.$case} is not applied as a normal entry here`,
        },
      };
  }
}

function keyOutside(region: RegionMeta, key: Uint8Array): CommandResult | undefined {
  return regionContainsKey(region, key)
    ? undefined
    : { kind: 'regionError', error: { kind: 'keyNotInRegion', key, region } };
}

async function applyWrite(
  write: raftpb.WriteCommand,
  region: RegionMeta,
  writer: ApplyWriter,
  nowUnixMs: number,
): Promise<CommandResult> {
  // Check every key first: a write command is atomic, all of it or none.
  for (const { op } of write.ops) {
    const keys = writeOpKeys(op);
    for (const key of keys) {
      const outside = keyOutside(region, key);
      if (outside) return outside;
    }
  }
  let deletedKeysCount = 0;
  for (const { op } of write.ops) {
    switch (op?.$case) {
      case 'put':
        writer.put(
          dataKey(op.put.key),
          encodeUserValue(op.put.value, toSafeNumber(op.put.expireAtUnixMs, 'put.expireAtUnixMs')),
        );
        break;
      case 'delete':
        writer.delete(dataKey(op.delete.key));
        break;
      case 'deleteRange':
        deletedKeysCount += await writer.deleteRange(
          clampToRegion(op.deleteRange.startKey, op.deleteRange.endKey, region),
        );
        break;
      case 'expire': {
        // Judged by the proposer's clock in the header, so every replica decides alike.
        const key = dataKey(op.expire.key);
        const stored = writer.get(key);
        if (stored !== undefined && liveValue(stored, nowUnixMs) === undefined) {
          writer.delete(key);
          deletedKeysCount++;
        }
        break;
      }
      case undefined:
        break;
    }
  }
  return { kind: 'write', deletedKeysCount };
}

/** The keys an operation touches, checked against the region before anything is applied. */
function writeOpKeys(op: raftpb.WriteOp['op']): Uint8Array[] {
  switch (op?.$case) {
    case 'put':
      return [op.put.key];
    case 'delete':
      return [op.delete.key];
    case 'deleteRange':
      return [op.deleteRange.startKey];
    case 'expire':
      return [op.expire.key];
    case undefined:
      return [];
  }
}

/** [start, end) ∩ region as an engine range; an empty end means the region's end. */
function clampToRegion(start: Uint8Array, end: Uint8Array, region: RegionMeta): ReturnType<typeof dataRange> {
  const regionEnd = region.endKey;
  let effectiveEnd = end;
  if (end.length === 0 || (regionEnd.length > 0 && compareBytes(end, regionEnd) > 0))
    effectiveEnd = regionEnd;
  return dataRange(start, effectiveEnd);
}

function applyCompareAndSwap(
  cas: raftpb.CompareAndSwapCommand,
  region: RegionMeta,
  writer: ApplyWriter,
  nowUnixMs: number,
): CommandResult {
  const outside = keyOutside(region, cas.key);
  if (outside) return outside;
  const key = dataKey(cas.key);
  const previousValue = liveValue(writer.get(key), nowUnixMs);
  let matches: boolean;
  switch (cas.expected?.$case) {
    case 'expectedValue':
      matches = previousValue !== undefined && compareBytes(previousValue, cas.expected.expectedValue) === 0;
      break;
    case 'expectedAbsent':
      matches = previousValue === undefined;
      break;
    case undefined:
      return {
        kind: 'regionError',
        error: { kind: 'staleCommand', reason: 'compare-and-swap without an expectation' },
      };
  }
  if (matches) {
    switch (cas.update?.$case) {
      case 'newValue':
        writer.put(
          key,
          encodeUserValue(cas.update.newValue, toSafeNumber(cas.expireAtUnixMs, 'cas.expireAtUnixMs')),
        );
        break;
      case 'delete':
        writer.delete(key);
        break;
      case undefined:
        return {
          kind: 'regionError',
          error: { kind: 'staleCommand', reason: 'compare-and-swap without an update' },
        };
    }
  }
  return { kind: 'compareAndSwap', succeeded: matches, previousValue };
}

export function decodeCommand(data: Uint8Array): raftpb.RaftCommand {
  return raftpb.RaftCommand.decode(data);
}
