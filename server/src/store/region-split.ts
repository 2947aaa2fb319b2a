// What a region split is, independent of when it runs: checking split keys and points
// against a region, computing the resulting region metas, the RaftCommand a split is
// proposed as, and the initial Raft state every region created by a split starts from.
//
// A split is a normal log entry applied on every replica of the parent at the same log
// position, so every check here is a pure function of (region, command): all replicas
// accept or refuse alike, and accepted splits produce identical metas everywhere.
//
// New regions start with an empty log positioned at RAFT_INIT_LOG_INDEX/TERM (5/5), as
// TiKV does: a peer created empty by a message (index 0, see peer-creation.ts) can then
// never be initialized by appends (the leader has no entry 1..5 to send), only by a
// snapshot, which carries the range and the data.
import { raftpb } from '@flotilla/proto';
import type { HardState } from '@flotilla/raft';
import { compareBytes } from '../storage/bytes.js';
import type { WriteBatch } from '../storage/engine.js';
import { applyStateKey, raftHardStateKey, regionStateKey } from '../storage/keys.js';
import { encodeApplyState, encodeHardState } from '../storage/raft-state-codec.js';
import type { CommandOrigin } from './command-builder.js';
import { commandHeader } from './command-builder.js';
import type { RegionError } from './region-error.js';
import type { RegionMeta } from './region-meta.js';
import { encodeRegionLocalState } from './region-meta.js';
import { toSafeNumber } from './wire-numbers.js';

/** Index and term of the (empty) log a region created by a split starts at. */
export const RAFT_INIT_LOG_INDEX = 5;
export const RAFT_INIT_LOG_TERM = 5;
/** Split keys one command may carry (bounds the regions one apply creates). */
export const SPLIT_KEYS_MAX = 64;

/** What Store.splitRegion answers. */
export type SplitOutcome =
  /** Applied: the resulting regions in key order, the original (leftmost) first. */
  | { readonly kind: 'split'; readonly regions: RegionMeta[] }
  | { readonly kind: 'regionError'; readonly error: RegionError }
  /** The split can never apply as asked (bad keys or ids, no id source); retrying will not help. */
  | { readonly kind: 'rejected'; readonly reason: string };

export interface SplitPointSpec {
  readonly splitKey: Uint8Array;
  readonly newRegionId: number;
  /** One per parent peer, in the order of the parent's peers. */
  readonly newPeerIds: readonly number[];
}

/** Why `splitKeys` cannot split `region`, or undefined when they can. */
export function checkSplitKeys(region: RegionMeta, splitKeys: readonly Uint8Array[]): string | undefined {
  if (splitKeys.length === 0) return 'no split keys';
  if (splitKeys.length > SPLIT_KEYS_MAX) return `${splitKeys.length} split keys, at most ${SPLIT_KEYS_MAX}`;
  for (const [i, key] of splitKeys.entries()) {
    if (key.length === 0) return `split key ${i} is empty`;
    const previous = i === 0 ? region.startKey : (splitKeys[i - 1] as Uint8Array);
    if (i > 0 && compareBytes(previous, key) >= 0) return `split keys are not strictly ascending at ${i}`;
    if (compareBytes(key, region.startKey) <= 0)
      return `split key ${i} is not above the start key of region ${region.id}`;
    if (region.endKey.length > 0 && compareBytes(key, region.endKey) >= 0)
      return `split key ${i} is not below the end key of region ${region.id}`;
  }
  return undefined;
}

/** Why `points` cannot split `region` (keys, ids, peer counts), or undefined when they can. */
export function checkSplitPoints(region: RegionMeta, points: readonly SplitPointSpec[]): string | undefined {
  const keysProblem = checkSplitKeys(
    region,
    points.map((p) => p.splitKey),
  );
  if (keysProblem !== undefined) return keysProblem;
  if (region.peers.some((p) => p.role === 'incomingVoter' || p.role === 'demotingVoter'))
    return `region ${region.id} is in a joint configuration`;
  const regionIds = new Set<number>([region.id]);
  const peerIds = new Set<number>(region.peers.map((p) => p.id));
  for (const [i, point] of points.entries()) {
    if (point.newRegionId < 1 || regionIds.has(point.newRegionId))
      return `split point ${i}: region id ${point.newRegionId} is not new`;
    regionIds.add(point.newRegionId);
    if (point.newPeerIds.length !== region.peers.length)
      return `split point ${i}: ${point.newPeerIds.length} peer ids for ${region.peers.length} peers`;
    for (const id of point.newPeerIds) {
      if (id < 1 || peerIds.has(id)) return `split point ${i}: peer id ${id} is not new`;
      peerIds.add(id);
    }
  }
  return undefined;
}

/**
 * The regions a checked split produces, in key order: the parent keeps the leftmost part;
 * every result gets version = parent version + number of new regions (all newer than the
 * parent), confVer unchanged; new regions' peers are on the parent's stores with its roles.
 */
export function splitRegionMetas(parent: RegionMeta, points: readonly SplitPointSpec[]): RegionMeta[] {
  const epoch = { confVer: parent.epoch.confVer, version: parent.epoch.version + points.length };
  const first = points[0];
  if (first === undefined) throw new Error(`split of region ${parent.id} without split points`);
  const out: RegionMeta[] = [{ ...parent, endKey: first.splitKey, epoch }];
  for (const [i, point] of points.entries()) {
    const next = points[i + 1];
    out.push({
      id: point.newRegionId,
      startKey: point.splitKey,
      endKey: next === undefined ? parent.endKey : next.splitKey,
      epoch,
      peers: parent.peers.map((p, j) => ({ ...p, id: point.newPeerIds[j] as number })),
    });
  }
  return out;
}

export function splitPointsFromProto(split: raftpb.SplitCommand): SplitPointSpec[] {
  return split.splitPoints.map((p, i) => ({
    splitKey: new Uint8Array(p.splitKey),
    newRegionId: toSafeNumber(p.newRegionId, `split.splitPoints[${i}].newRegionId`),
    newPeerIds: p.newPeerIds.map((id, j) => toSafeNumber(id, `split.splitPoints[${i}].newPeerIds[${j}]`)),
  }));
}

export function encodeSplit(origin: CommandOrigin, points: readonly SplitPointSpec[]): Uint8Array {
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: {
      $case: 'split',
      split: {
        splitPoints: points.map((p) => ({
          splitKey: Buffer.from(p.splitKey),
          newRegionId: BigInt(p.newRegionId),
          newPeerIds: p.newPeerIds.map((id) => BigInt(id)),
        })),
      },
    },
  }).finish();
}

/**
 * Puts a new region's local state and initial Raft state into the split's batch. A hard
 * state an uninitialized peer of the region already holds on this store (it may have voted)
 * is kept when its term is higher.
 */
export function writeInitialRegionState(
  batch: WriteBatch,
  region: RegionMeta,
  existing: HardState | undefined,
): void {
  const keepExisting = existing !== undefined && existing.term > RAFT_INIT_LOG_TERM;
  const hardState: HardState = {
    term: keepExisting ? existing.term : RAFT_INIT_LOG_TERM,
    vote: keepExisting ? existing.vote : existing?.term === RAFT_INIT_LOG_TERM ? existing.vote : 0,
    commit: RAFT_INIT_LOG_INDEX,
  };
  batch.put(regionStateKey(region.id), encodeRegionLocalState(region, 'normal'));
  batch.put(raftHardStateKey(region.id), encodeHardState(hardState));
  batch.put(
    applyStateKey(region.id),
    encodeApplyState({
      appliedIndex: RAFT_INIT_LOG_INDEX,
      truncatedIndex: RAFT_INIT_LOG_INDEX,
      truncatedTerm: RAFT_INIT_LOG_TERM,
    }),
  );
}
