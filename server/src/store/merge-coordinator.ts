// Drives a region merge (region-merge.ts) from the store that leads the source region:
// propose PrepareMerge to the source, then CommitMerge to the target through the target's
// local leader, and RollbackMerge to the source if this store's target replica refused the
// commit. Only the leaders do this, and only one step per source runs at a time.
//
// The commit goes through the target's leader on the SAME store as the source's leader:
// then the answer to the CommitMerge proposal is what this store's target replica applied,
// and a refusal seen here is the refusal every replica applies (the rollback rule in
// region-merge.ts). When the target is led elsewhere, the source's leadership moves to that
// store and its coordinator carries on (advance(), called for every merging source the
// store leads, periodically and whenever a refusal is applied).
import type { RegionError } from './region-error.js';
import type { RegionEpoch, RegionMeta } from './region-meta.js';
import { epochMatches, peerById } from './region-meta.js';
import type { MergeCatchUp } from './region-merge.js';
import {
  checkMergePair,
  encodeCommitMerge,
  encodePrepareMerge,
  encodeRollbackMerge,
  MERGE_CATCH_UP_BYTES_MAX,
  MERGE_CATCH_UP_ENTRIES_MAX,
} from './region-merge.js';
import type { RegionPeer } from './region-peer.js';
import type { CommandResult } from './command-apply.js';

/** What Store.mergeRegion answers. */
export type MergeOutcome =
  /** The target applied the merge on this store: the target region now. */
  | { readonly kind: 'merged'; readonly region: RegionMeta }
  /** A retryable or routing problem (not leader, epoch changed, busy, merge under way). */
  | { readonly kind: 'regionError'; readonly error: RegionError }
  /** The merge cannot happen as asked (or was refused and rolled back); retrying will not help. */
  | { readonly kind: 'rejected'; readonly reason: string };

/** What the coordinator needs of its store. */
export interface MergeHost {
  readonly storeId: number;
  region(regionId: number): RegionPeer | undefined;
  propose(regionId: number, data: Uint8Array): Promise<CommandResult>;
  transferLeader(regionId: number, toPeerId: number): RegionError | undefined;
  /** Whether the store's peer of the region was removed for good (a tombstone is on disk). */
  regionRemoved(regionId: number): boolean;
  /** Every local peer (to find merges that target a region). */
  allRegions(): RegionPeer[];
}

/** How long merge() waits for the source's log to be replicated everywhere: polls × interval. */
const REPLICATION_WAIT_POLLS = 50;
const REPLICATION_WAIT_POLL_MS = 10;

export class MergeCoordinator {
  /** Source regions with a merge step in flight (one at a time each). */
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly host: MergeHost,
    private readonly clock: { nowUnixMs(): number; sleepMs(ms: number): Promise<void> },
  ) {}

  async merge(
    sourceRegionId: number,
    sourceEpoch: RegionEpoch,
    targetRegionId: number,
    targetEpoch: RegionEpoch,
  ): Promise<MergeOutcome> {
    const source = this.host.region(sourceRegionId);
    if (source === undefined || !source.initialized)
      return regionError({ kind: 'regionNotFound', regionId: sourceRegionId });
    if (source.node.basicStatus().role !== 'leader') return regionError(source.notLeader());
    const state = source.mergeState;
    if (state !== null) {
      // Already frozen (an earlier attempt, or a retry): carry that merge on.
      if (state.target.id !== targetRegionId)
        return rejected(`region ${sourceRegionId} is merging into region ${state.target.id}`);
      return this.finish(source);
    }
    const target = this.host.region(targetRegionId);
    if (target === undefined || !target.initialized)
      return regionError({ kind: 'regionNotFound', regionId: targetRegionId });
    if (!epochMatches(source.region.epoch, sourceEpoch))
      return regionError({ kind: 'epochNotMatch', currentRegions: [source.region] });
    if (!epochMatches(target.region.epoch, targetEpoch))
      return regionError({ kind: 'epochNotMatch', currentRegions: [target.region] });
    const problem = checkMergePair(source.region, target.region);
    if (problem !== undefined) return rejected(problem);
    if (target.mergeState !== null) return rejected(`target region ${targetRegionId} is itself merging`);
    // A region a prepared merge will extend must keep its epoch until that merge ends.
    const incoming = this.host.allRegions().find((p) => p.mergeState?.target.id === sourceRegionId);
    if (incoming !== undefined)
      return rejected(`region ${sourceRegionId} is the target of region ${incoming.regionId}'s merge`);
    const lag = await this.untilReplicated(source);
    if (lag !== undefined) return busy(source, lag);
    if (source.mergeState !== null || source.node.basicStatus().role !== 'leader')
      return busy(source, 'the source changed while waiting for its log to replicate');
    if (this.inFlight.has(sourceRegionId)) return busy(source, 'a merge step is in flight');
    this.inFlight.add(sourceRegionId);
    let prepared: CommandResult;
    try {
      const data = encodePrepareMerge(
        { region: source.region, peerId: source.peerId, nowUnixMs: this.clock.nowUnixMs() },
        target.region,
      );
      prepared = await this.host.propose(sourceRegionId, data);
    } finally {
      this.inFlight.delete(sourceRegionId);
    }
    switch (prepared.kind) {
      case 'mergePrepared':
        return this.finish(source);
      case 'regionError':
        return regionError(prepared.error);
      case 'rejected':
        return rejected(prepared.reason);
      case 'outcomeUnknown':
        return busy(source, prepared.reason);
      default:
        return rejected(`prepare merge applied as ${prepared.kind}`);
    }
  }

  /**
   * Waits (a few rounds at most) for a moment when every source peer holds the whole log:
   * under steady writes there is one between two rounds, but rarely at the instant PD's
   * operator arrives. Returns the lag still seen at the end, if any.
   */
  private async untilReplicated(source: RegionPeer): Promise<string | undefined> {
    let lag = replicationLag(source);
    for (let i = 0; i < REPLICATION_WAIT_POLLS && lag !== undefined; i++) {
      await this.clock.sleepMs(REPLICATION_WAIT_POLL_MS);
      lag = replicationLag(source);
    }
    return lag;
  }

  /** Starts the next step of `source`'s merge if this store leads it and none is in flight. */
  advance(source: RegionPeer): void {
    if (source.mergeState === null || this.inFlight.has(source.regionId)) return;
    if (source.node.basicStatus().role !== 'leader') return;
    void this.finish(source);
  }

  /** Commits a prepared merge through the local target leader, or rolls it back once refused. */
  private async finish(source: RegionPeer): Promise<MergeOutcome> {
    const state = source.mergeState;
    if (state === null) return rejected(`region ${source.regionId} is not merging`);
    if (this.inFlight.has(source.regionId)) return busy(source, 'a merge step is in flight');
    this.inFlight.add(source.regionId);
    try {
      if (source.mergeRefusedAtIndex === state.prepareIndex)
        return await this.rollback(source, state.prepareIndex, 'the target refused the merge');
      const target = this.host.region(state.target.id);
      if (target === undefined || !target.initialized) {
        // Gone for good here (merged away itself, or moved off this store): it applied every
        // entry before that without absorbing the source, and any commit after would be
        // refused (its epoch moved on), so no commit of this merge can apply anywhere.
        if (this.host.regionRemoved(state.target.id))
          return await this.rollback(source, state.prepareIndex, `target region ${state.target.id} is gone`);
        return busy(source, `target region ${state.target.id} has no peer on store ${this.host.storeId}`);
      }
      // The local target replica applied an epoch change past the one PrepareMerge recorded:
      // a CommitMerge before it in the target's log would have blocked its apply (or merged
      // the source away here), and one after it is refused on every replica. No commit of
      // this merge can apply anywhere, and its leader may sit on a store without a source
      // peer (a replica moved): roll back here rather than wait for a refusal.
      if (epochPassed(target.region.epoch, state.target.epoch))
        return await this.rollback(
          source,
          state.prepareIndex,
          `target region ${state.target.id} moved on to epoch ${JSON.stringify(target.region.epoch)}`,
        );
      const status = target.node.basicStatus();
      if (status.role !== 'leader') {
        const leader = peerById(target.region, status.leaderId);
        const to =
          leader === undefined ? undefined : source.region.peers.find((p) => p.storeId === leader.storeId);
        if (to !== undefined && to.id !== source.peerId) this.host.transferLeader(source.regionId, to.id);
        return busy(
          source,
          `the target's leader is ${leader === undefined ? 'unknown' : `on store ${leader.storeId}`}; the merge continues there`,
        );
      }
      const catchUp = catchUpOf(source, state.prepareIndex);
      if (typeof catchUp === 'string') return busy(source, catchUp);
      // The header carries the target epoch PrepareMerge recorded: the commit applies only at it.
      const data = encodeCommitMerge(
        { region: state.target, peerId: target.peerId, nowUnixMs: this.clock.nowUnixMs() },
        source.region,
        state.prepareIndex,
        catchUp,
      );
      const result = await this.host.propose(target.regionId, data);
      switch (result.kind) {
        case 'merged':
          return { kind: 'merged', region: result.region };
        case 'rejected':
          // This store's target replica applied the refusal: it is final (region-merge.ts).
          return await this.rollback(source, state.prepareIndex, result.reason);
        case 'regionError':
          return regionError(result.error);
        case 'outcomeUnknown':
          return busy(source, result.reason);
        default:
          return rejected(`commit merge applied as ${result.kind}`);
      }
    } finally {
      this.inFlight.delete(source.regionId);
    }
  }

  private async rollback(source: RegionPeer, prepareIndex: number, why: string): Promise<MergeOutcome> {
    if (this.host.region(source.regionId) !== source)
      return rejected(`${why}; region ${source.regionId} left the store`);
    if (source.node.basicStatus().role !== 'leader') return regionError(source.notLeader());
    const data = encodeRollbackMerge(
      { region: source.region, peerId: source.peerId, nowUnixMs: this.clock.nowUnixMs() },
      prepareIndex,
    );
    const result = await this.host.propose(source.regionId, data);
    switch (result.kind) {
      case 'mergeRolledBack':
        return rejected(`${why}; region ${source.regionId} serves again`);
      case 'regionError':
        return regionError(result.error);
      case 'outcomeUnknown':
        return busy(source, result.reason);
      default:
        return rejected(`${why}; rollback applied as ${result.kind}`);
    }
  }
}

/**
 * Why the source is not ready to freeze: every peer must hold the leader's whole log, all
 * of it applied here, so no replica can need a snapshot (which carries no merge state) or
 * a membership change while the source is frozen.
 */
function replicationLag(source: RegionPeer): string | undefined {
  const status = source.node.status();
  if (status.commit !== status.lastIndex || source.storage.appliedIndex !== status.lastIndex)
    return `region ${source.regionId} has entries not yet committed or applied`;
  for (const pr of status.progress) {
    if (pr.match < status.lastIndex)
      return `peer ${pr.id} of region ${source.regionId} has replicated up to ${pr.match} of ${status.lastIndex}`;
  }
  return undefined;
}

/**
 * The source entries a CommitMerge carries for lagging source peers: from the lowest index
 * every peer has matched (as this leader knows it) to the PrepareMerge; or why they cannot
 * be carried yet (a new leader has not learned its followers' progress, or the gap is large).
 */
function catchUpOf(source: RegionPeer, prepareIndex: number): MergeCatchUp | string {
  const status = source.node.status();
  if (status.applied < prepareIndex)
    return `the source leader has not applied its prepare merge at ${prepareIndex}`;
  const matched = Math.min(...status.progress.map((pr) => pr.match));
  const prevIndex = Math.min(matched, prepareIndex);
  if (prepareIndex - prevIndex > MERGE_CATCH_UP_ENTRIES_MAX)
    return `a source peer has matched only up to ${prevIndex}, ${prepareIndex - prevIndex} entries behind the prepare merge`;
  const { storage } = source;
  if (prevIndex < storage.firstIndex() - 1) return `source entries after ${prevIndex} are compacted`;
  const entries = storage.entries(prevIndex + 1, prepareIndex + 1, MERGE_CATCH_UP_BYTES_MAX);
  if ((entries.at(-1)?.index ?? prevIndex) !== prepareIndex)
    return `source entries ${prevIndex + 1}..${prepareIndex} exceed ${MERGE_CATCH_UP_BYTES_MAX} bytes`;
  return {
    entries,
    prevIndex,
    prevTerm: storage.term(prevIndex),
    leaderTerm: status.term,
    leaderPeerId: source.peerId,
  };
}

/** Whether `current` moved past `recorded` (either part grew; epochs never shrink). */
function epochPassed(current: RegionEpoch, recorded: RegionEpoch): boolean {
  return current.confVer > recorded.confVer || current.version > recorded.version;
}

function regionError(error: RegionError): MergeOutcome {
  return { kind: 'regionError', error };
}

function rejected(reason: string): MergeOutcome {
  return { kind: 'rejected', reason };
}

function busy(source: RegionPeer, reason: string): MergeOutcome {
  return {
    kind: 'regionError',
    error: { kind: 'serverIsBusy', reason: `merge of region ${source.regionId}: ${reason}`, backoffMs: 100 },
  };
}
