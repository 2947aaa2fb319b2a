// What a region merge is, independent of when it runs: which pairs may merge, the region
// metas before and after, and the commands a merge is proposed as.
//
// A merge takes two log entries in two Raft groups, with all replicas of both regions on
// the same stores:
//   1. PrepareMerge, in the SOURCE's log: the source freezes. Its epoch moves on (so every
//      data command proposed against the old epoch is refused at apply), it refuses new
//      requests, and its data is final as of this entry (the "prepare index").
//   2. CommitMerge, in the TARGET's log, naming the source and its prepare index: each
//      target replica applies it only once its store's source peer has applied the
//      PrepareMerge (until then the target's apply waits; region-peer.ts), then extends its
//      range over the source's and, in the same batch, tombstones the local source peer.
//      User data never moves: keys are stored by user key, not by region.
//      A source peer may lag (cut off when the PrepareMerge committed) after the other
//      stores merged and destroyed their source peers, so no source leader is left to
//      catch it up: the CommitMerge carries the source's committed entries from the lowest
//      index every source peer had matched up to the PrepareMerge, and the lagging store
//      hands them to its source peer as the append the source leader would have sent
//      (mergeCatchUpMessage). They are committed entries, identical in every correct log.
// If the target refuses the CommitMerge (its epoch moved since PrepareMerge), the source
// applies RollbackMerge and serves again. A refusal is permanent: CommitMerge only applies
// at the exact target epoch PrepareMerge recorded, and epochs only grow, so a rollback can
// never race a later successful commit. Every check here is a pure function of the
// command and the region meta at that log position, so all replicas decide alike.
import type { Entry, Message } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import { decodeEntry, encodeEntry } from '../transport/raft-message-codec.js';
import { compareBytes } from '../storage/bytes.js';
import type { CommandOrigin } from './command-builder.js';
import { commandHeader } from './command-builder.js';
import type { RegionMeta } from './region-meta.js';
import { regionFromProto, regionToProto } from './region-meta.js';
import { toSafeNumber } from './wire-numbers.js';

/** Which side of `target` the source lies on, or undefined if the two are not adjacent. */
export function mergeSide(source: RegionMeta, target: RegionMeta): 'left' | 'right' | undefined {
  if (source.endKey.length > 0 && compareBytes(source.endKey, target.startKey) === 0) return 'left';
  if (target.endKey.length > 0 && compareBytes(target.endKey, source.startKey) === 0) return 'right';
  return undefined;
}

/** Why `source` cannot merge into `target`, or undefined when it can. */
export function checkMergePair(source: RegionMeta, target: RegionMeta): string | undefined {
  if (source.id === target.id) return `region ${source.id} cannot merge into itself`;
  if (mergeSide(source, target) === undefined)
    return `regions ${source.id} and ${target.id} are not adjacent`;
  for (const region of [source, target]) {
    if (region.peers.some((p) => p.role !== 'voter'))
      return `region ${region.id} has learners or is in a joint configuration`;
  }
  const stores = (r: RegionMeta): string =>
    r.peers
      .map((p) => p.storeId)
      .sort((a, b) => a - b)
      .join(',');
  if (stores(source) !== stores(target))
    return `regions ${source.id} (stores ${stores(source)}) and ${target.id} (stores ${stores(target)}) are not on the same stores`;
  return undefined;
}

/** The source after PrepareMerge: both epoch parts move on, so no older command or request matches it. */
export function preparedSourceMeta(source: RegionMeta): RegionMeta {
  return {
    ...source,
    epoch: { confVer: source.epoch.confVer + 1, version: source.epoch.version + 1 },
  };
}

/** The target after absorbing `source`: the union of both ranges, a version above both. */
export function mergedRegionMeta(target: RegionMeta, source: RegionMeta): RegionMeta {
  const left = mergeSide(source, target) === 'left';
  return {
    ...target,
    startKey: left ? source.startKey : target.startKey,
    endKey: left ? target.endKey : source.endKey,
    epoch: {
      confVer: target.epoch.confVer,
      version: Math.max(source.epoch.version, target.epoch.version) + 1,
    },
  };
}

export function encodePrepareMerge(origin: CommandOrigin, target: RegionMeta): Uint8Array {
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: { $case: 'prepareMerge', prepareMerge: { target: regionToProto(target) } },
  }).finish();
}

/** Source entries a CommitMerge carries at most (the gap between the slowest source peer and the PrepareMerge). */
export const MERGE_CATCH_UP_ENTRIES_MAX = 512;
/** Bytes of source entries a CommitMerge carries at most. */
export const MERGE_CATCH_UP_BYTES_MAX = 4 * 1024 * 1024;

/** What a lagging source peer needs to reach the PrepareMerge: an append from the source leader. */
export interface MergeCatchUp {
  /** Committed source entries (prevIndex, prepareIndex]. */
  readonly entries: readonly Entry[];
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly leaderTerm: number;
  readonly leaderPeerId: number;
}

/** `origin` is the target region (its epoch is the one the commit requires). */
export function encodeCommitMerge(
  origin: CommandOrigin,
  source: RegionMeta,
  prepareIndex: number,
  catchUp: MergeCatchUp,
): Uint8Array {
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: {
      $case: 'commitMerge',
      commitMerge: {
        source: regionToProto(source),
        prepareIndex: BigInt(prepareIndex),
        sourceEntries: catchUp.entries.map((e, i) => encodeEntry(e, `sourceEntries[${i}]`)),
        entriesPrevIndex: BigInt(catchUp.prevIndex),
        entriesPrevTerm: BigInt(catchUp.prevTerm),
        sourceLeaderTerm: BigInt(catchUp.leaderTerm),
        sourceLeaderPeerId: BigInt(catchUp.leaderPeerId),
      },
    },
  }).finish();
}

/**
 * The append that brings a lagging source peer up to the PrepareMerge: the entries the
 * source leader had, committed up to the prepare index. Sent at the peer's own term when
 * that is newer (a later source election): the entries are committed, so every correct log
 * holds them at these indexes.
 */
export function mergeCatchUpMessage(
  catchUp: MergeCatchUp,
  prepareIndex: number,
  toPeerId: number,
  peerTerm: number,
): Message {
  return {
    type: 'app',
    to: toPeerId,
    from: catchUp.leaderPeerId,
    term: Math.max(catchUp.leaderTerm, peerTerm),
    logTerm: catchUp.prevTerm,
    index: catchUp.prevIndex,
    entries: catchUp.entries,
    commit: prepareIndex,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
}

export function encodeRollbackMerge(origin: CommandOrigin, prepareIndex: number): Uint8Array {
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: { $case: 'rollbackMerge', rollbackMerge: { prepareIndex: BigInt(prepareIndex) } },
  }).finish();
}

/** The source, prepare index and catch-up entries of a CommitMerge command (throws RangeError if malformed). */
export function commitMergeFromProto(cmd: raftpb.CommitMergeCommand): {
  source: RegionMeta;
  prepareIndex: number;
  catchUp: MergeCatchUp;
} {
  if (cmd.source === undefined) throw new RangeError('commit merge without a source region');
  const prepareIndex = toSafeNumber(cmd.prepareIndex, 'commitMerge.prepareIndex');
  const catchUp: MergeCatchUp = {
    entries: cmd.sourceEntries.map((e, i) => decodeEntry(e, `commitMerge.sourceEntries[${i}]`)),
    prevIndex: toSafeNumber(cmd.entriesPrevIndex, 'commitMerge.entriesPrevIndex'),
    prevTerm: toSafeNumber(cmd.entriesPrevTerm, 'commitMerge.entriesPrevTerm'),
    leaderTerm: toSafeNumber(cmd.sourceLeaderTerm, 'commitMerge.sourceLeaderTerm'),
    leaderPeerId: toSafeNumber(cmd.sourceLeaderPeerId, 'commitMerge.sourceLeaderPeerId'),
  };
  const last = catchUp.entries.at(-1)?.index ?? catchUp.prevIndex;
  if (last !== prepareIndex || catchUp.entries.some((e, i) => e.index !== catchUp.prevIndex + 1 + i))
    throw new RangeError(
      `commit merge: source entries do not run from ${catchUp.prevIndex + 1} to ${prepareIndex}`,
    );
  return { source: regionFromProto(cmd.source, 'commitMerge.source'), prepareIndex, catchUp };
}
