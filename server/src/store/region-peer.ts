// One region's peer on this store: its Raft node, its log storage, its mailbox of client
// proposals and reads, and the waiters for results. The store loop drives every peer
// through the same phases each round (step, collect Ready, persist, apply, finish), so
// that one write batch and one fsync serve all regions.
import type {
  ConfChange,
  Entry,
  Message,
  ProposalError,
  Ready,
  ReadState,
  RawNode,
  Snapshot,
  SnapshotMetadata,
} from '@flotilla/raft';
import { decodeConfChange } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import type { WriteBatch } from '../storage/engine.js';
import type { RegionRange } from './region-range-index.js';
import type { PeerStorage } from '../storage/peer-storage.js';
import { regionStateKey } from '../storage/keys.js';
import type { ApplyWriter } from './apply-writer.js';
import type { CommandResult } from './command-apply.js';
import { applyCommand, decodeCommand } from './command-apply.js';
import type { RegionError } from './region-error.js';
import { describeRegionError } from './region-error.js';
import type { MergeState, PeerLifecycle, PeerMeta, RegionMeta } from './region-meta.js';
import {
  encodeRegionLocalState,
  epochFromProto,
  epochMatches,
  peerById,
  peerFromProto,
  peersForConfState,
  regionFromProto,
} from './region-meta.js';
import type { MergeCatchUp } from './region-merge.js';
import {
  checkMergePair,
  commitMergeFromProto,
  mergedRegionMeta,
  preparedSourceMeta,
} from './region-merge.js';
import { checkSplitPoints, splitPointsFromProto, splitRegionMetas } from './region-split.js';
import type { SplitPointSpec } from './region-split.js';
import { encodeTombstoneState } from './peer-tombstone.js';
import type { StoreConfig } from './store-config.js';
import { ReadQueue } from './read-queue.js';
import type { PendingInstall } from './snapshot-installer.js';
import { isHeartbeatTraffic, PeerHibernation } from './hibernation.js';

/** Receives the outcome of a proposal once it is applied (or refused). */
export type ProposalWaiter = (result: CommandResult) => void;
/** Receives undefined when the read may be served from the applied state, or why not. */
export type ReadWaiter = (error: RegionError | undefined) => void;

export type MailboxItem =
  | { readonly kind: 'propose'; readonly data: Uint8Array; readonly waiter: ProposalWaiter }
  | { readonly kind: 'confChange'; readonly cc: ConfChange; readonly waiter: ProposalWaiter }
  | { readonly kind: 'read'; readonly mode: 'safe' | 'lease'; readonly waiter: ReadWaiter }
  | { readonly kind: 'transferLeader'; readonly toPeerId: number }
  | { readonly kind: 'unreachable'; readonly peerId: number }
  | { readonly kind: 'campaign' };

interface PendingProposal {
  readonly index: number;
  readonly term: number;
  readonly waiter: ProposalWaiter;
}

/** Work to finish once the round's batch is durable. */
export type Completion = () => void;

/** A split this peer applied in the current round; the store creates the new regions once it is durable. */
export interface AppliedSplit {
  /** The resulting regions, the parent (leftmost) first. */
  readonly regions: readonly RegionMeta[];
  /** The local peer led the parent when it applied the split (its new peers campaign at once). */
  readonly wasLeader: boolean;
}

/** A CommitMerge this (target) peer applied in the current round; the store retires the source peer in the same batch. */
export interface AppliedMerge {
  /** The source region as the command carried it (frozen by its PrepareMerge). */
  readonly source: RegionMeta;
  /** The target region after the merge. */
  readonly merged: RegionMeta;
}

/** A CommitMerge this (target) peer refused: the source it names may roll back. */
export interface RefusedMerge {
  readonly sourceRegionId: number;
  readonly prepareIndex: number;
  readonly reason: string;
}

/** What applying a CommitMerge needs from the store: whether the local source peer is ready. */
export interface ApplyContext {
  /**
   * 'ready' once the store's peer of `sourceRegionId` has applied its PrepareMerge at
   * `prepareIndex`; 'waiting' until then (the store hands the peer `catchUp`).
   */
  mergeSourceReady(sourceRegionId: number, prepareIndex: number, catchUp: MergeCatchUp): 'ready' | 'waiting';
}

/**
 * Committed entries the Raft node counts as applied but this peer has not applied yet: a
 * CommitMerge (at `fromIndex`) waits for the local source peer. They stay in the log (the
 * applied index in storage, which bounds compaction and snapshots, has not passed them) and
 * are read back from it once the source is ready.
 */
interface ApplyBacklog {
  readonly fromIndex: number;
  readonly toIndex: number;
  readonly sourceRegionId: number;
  readonly prepareIndex: number;
  readonly catchUp: MergeCatchUp;
}

/** An applyNormal answer: the entry must wait (the merge source is not ready), nothing applied. */
const WAIT_FOR_MERGE_SOURCE = Symbol('waitForMergeSource');

function waitingMerge(entry: Entry): { sourceRegionId: number; prepareIndex: number; catchUp: MergeCatchUp } {
  const command = decodeCommand(entry.data);
  if (command.command?.$case !== 'commitMerge')
    throw new Error(
      `entry ${entry.index} waits for a merge source but is ${command.command?.$case ?? 'empty'}`,
    );
  const { source, prepareIndex, catchUp } = commitMergeFromProto(command.command.commitMerge);
  return { sourceRegionId: source.id, prepareIndex, catchUp };
}

/** readIndex `index` meaning "lease read" (the core's READ_MODE_LEASE). */
const READ_MODE_LEASE_WIRE = 1;

/** Ranges a region had at older versions, kept to answer EpochNotMatch with the regions now covering them. */
const RANGE_HISTORY_MAX = 16;

/** Known peers an uninitialized peer keeps (the senders it may have to answer). */
const UNINITIALIZED_KNOWN_PEERS_MAX = 16;
/** Messages only a leader sends to its followers. */
function isLeaderTraffic(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
}

/** Senders outside the region's (possibly outdated) peer list an initialized peer remembers. */
const KNOWN_SENDERS_MAX = 16;

export class RegionPeer {
  private mailbox: MailboxItem[] = [];
  private raftInbox: Message[] = [];
  private pending: PendingProposal[] = [];
  readonly reads: ReadQueue;
  private ticksDue = 0;
  private droppedRaftMessagesCount = 0;
  lifecycle: PeerLifecycle = 'normal';
  /** Applied index at the last log compaction (or at load). */
  appliedAtLastCompaction: number;
  /** A received snapshot waiting for the next round (one at a time). */
  private pendingInstall: PendingInstall | null = null;
  /** The 'snap' message to step first in the next round (after its data was installed, or not). */
  private snapshotMessage: Message | null = null;
  /** Data staged into this round's batch; the core's Ready must carry exactly this snapshot. */
  private stagedSnapshot: SnapshotMetadata | null = null;
  /** A generated snapshot to hand to the storage in the next round. */
  private generatedSnapshot: Snapshot | null = null;
  /**
   * Ticks since this peer last heard its leader replicate to it (or led): a peer removed from
   * its region without learning it stops hearing anything, and the store asks PD about it
   * (stale-peer check in server/src/pd-client).
   */
  ticksWithoutLeader = 0;
  /** Peers that messaged this one without being in its region meta (see learnPeer). */
  private readonly senders = new Map<number, PeerMeta>();
  /** Outcomes of snapshot sends, by peer (at most one per peer: bounded by the region size). */
  private readonly snapshotStatuses = new Map<number, boolean>();
  /**
   * False for a peer created by a message for a region this store had never seen: no range,
   * no membership, never persisted as a region until a snapshot initializes it.
   */
  initialized: boolean;
  /** The store must destroy this peer after the round (a tombstone message, a newer peer here). */
  destroyRequested = false;
  /** Splits applied this round, taken by the store before the round's write. */
  private appliedSplits: AppliedSplit[] = [];
  /** Set while this region is the frozen source of a merge (persisted with the region state). */
  mergeState: MergeState | null = null;
  /** The local target peer refused the CommitMerge of this prepare index: the merge must roll back. */
  mergeRefusedAtIndex = 0;
  /** The store tick at which a target last handed this (merging source) peer its catch-up append. */
  mergeCatchUpHandedAtTick = -1;
  /** Merges (as target) and refused merges applied this round, taken by the store. */
  private appliedMerges: AppliedMerge[] = [];
  private refusedMerges: RefusedMerge[] = [];
  private applyBacklog: ApplyBacklog | null = null;
  /** Older ranges by the version they had, oldest first (bounded). */
  private readonly rangeHistory: Array<RegionRange & { readonly version: number }> = [];
  /** Bytes and keys written since the split checker last looked at the region. */
  writtenBytesSinceCheck = 0;
  writtenKeysSinceCheck = 0;
  /** The region's data size and key count as last measured or estimated by the split checker (0 = never). */
  measuredSizeBytes = 0;
  measuredKeysCount = 0;
  /** A split left this region still too large: check it at the next pass. */
  splitCheckDue = false;
  /** Whether the region sleeps, how long it was idle, the lease guard after a wake-up (hibernation.ts). */
  readonly hibernation = new PeerHibernation();
  /**
   * PD should hear of this region now, not at the next report period (store.ts
   * onRegionReportDue): a membership change applied, or this peer became leader. The store
   * clears it after each round.
   */
  reportDue = false;
  /** Learners this peer, as leader, counted lagging after its last round (peer-catch-up.ts). */
  laggingLearnersCount = 0;

  constructor(
    public region: RegionMeta,
    readonly peerId: number,
    readonly node: RawNode,
    readonly storage: PeerStorage,
    private readonly config: StoreConfig,
    options: { readonly initialized: boolean } = { initialized: true },
  ) {
    this.reads = new ReadQueue(config.regionMailboxCapacity);
    this.appliedAtLastCompaction = storage.appliedIndex;
    this.initialized = options.initialized;
  }

  get regionId(): number {
    return this.region.id;
  }

  /** Queues a client request; refuses with ServerIsBusy when the mailbox is full. */
  enqueue(item: MailboxItem): RegionError | undefined {
    if (this.mailbox.length >= this.config.regionMailboxCapacity) {
      return {
        kind: 'serverIsBusy',
        reason: `region ${this.region.id} mailbox full`,
        backoffMs: this.config.busyBackoffMs,
      };
    }
    this.mailbox.push(item);
    return undefined;
  }

  /** Queues an inbound Raft message; drops it (Raft retransmits) when the inbox is full. */
  enqueueRaftMessage(m: Message): boolean {
    if (this.raftInbox.length >= this.config.regionRaftInboxCapacity) {
      this.droppedRaftMessagesCount++;
      return false;
    }
    this.raftInbox.push(m);
    return true;
  }

  addTicks(count: number): void {
    this.ticksDue = Math.min(this.ticksDue + count, this.config.ticksPerRoundMax);
  }

  /**
   * Nothing waits in or behind this peer: no input, no proposal awaiting apply, no read, no
   * snapshot work, no split or destruction under way. A region may quiesce only then.
   */
  isQuiet(): boolean {
    return (
      this.initialized &&
      this.lifecycle === 'normal' &&
      !this.destroyRequested &&
      !this.hasInput() &&
      this.pending.length === 0 &&
      this.reads.size === 0 &&
      this.snapshotMessage === null &&
      this.stagedSnapshot === null &&
      this.appliedSplits.length === 0 &&
      // A merge needs both groups awake until it ends.
      this.mergeState === null &&
      this.applyBacklog === null
    );
  }

  hasInput(): boolean {
    return (
      this.ticksDue > 0 ||
      this.raftInbox.length > 0 ||
      this.mailbox.length > 0 ||
      this.pendingInstall !== null ||
      this.generatedSnapshot !== null ||
      this.snapshotStatuses.size > 0
    );
  }

  /** Queues a verified received snapshot; false if one is already waiting. */
  offerSnapshotInstall(pending: PendingInstall): boolean {
    if (this.pendingInstall !== null) return false;
    this.pendingInstall = pending;
    return true;
  }

  takeSnapshotInstall(): PendingInstall | null {
    const pending = this.pendingInstall;
    this.pendingInstall = null;
    return pending;
  }

  /** The round staged a snapshot's data and will step its message (called before step()). */
  acceptStagedSnapshot(region: RegionMeta, metadata: SnapshotMetadata): void {
    if (this.stagedSnapshot !== null)
      throw new Error(`region ${region.id}: two snapshot installs in a round`);
    if (this.initialized) this.rememberRange();
    this.region = region;
    this.initialized = true;
    this.lifecycle = 'normal';
    this.stagedSnapshot = metadata;
    this.appliedAtLastCompaction = metadata.index;
  }

  /** A 'snap' message to step before anything else in this round. */
  stepSnapshotFirst(m: Message): void {
    if (m.type !== 'snap' || this.snapshotMessage !== null)
      throw new Error(`region ${this.region.id}: unexpected snapshot message ${m.type}`);
    this.snapshotMessage = m;
  }

  offerGeneratedSnapshot(snapshot: Snapshot): void {
    this.generatedSnapshot = snapshot;
  }

  noteSnapshotStatus(peerId: number, ok: boolean): void {
    this.snapshotStatuses.set(peerId, ok);
  }

  /** Phase 1: feed ticks, Raft messages and client requests to the node. */
  step(): void {
    // The snapshot first: its data is already staged in this round's batch (persist resets
    // the log); a tick or an append stepped before it would see the old log.
    const snap = this.snapshotMessage;
    this.snapshotMessage = null;
    if (snap !== null) this.node.step(snap);
    if (this.generatedSnapshot !== null) this.storage.setGeneratedSnapshot(this.generatedSnapshot);
    this.generatedSnapshot = null;
    const active = snap !== null || this.snapshotStatuses.size > 0 || this.mailbox.length > 0;
    for (const [peerId, ok] of this.snapshotStatuses) this.node.reportSnapshot(peerId, ok);
    this.snapshotStatuses.clear();
    const ticks = this.ticksDue;
    for (; this.ticksDue > 0; this.ticksDue--) this.node.tick();
    const inbox = this.raftInbox;
    this.raftInbox = [];
    this.hibernation.noteTicks(ticks, active || inbox.some((m) => !isHeartbeatTraffic(m)));
    for (const m of inbox) this.node.step(this.withLeaseGuard(m));
    // Leader contact: the leader's replication traffic, or being the leader. A quiesced
    // peer does not tick, so sleeping never counts as missing the leader.
    const leaderId = this.node.basicStatus().leaderId;
    if (
      leaderId === this.peerId ||
      inbox.some((m) => m.from === leaderId && m.from !== 0 && isLeaderTraffic(m))
    )
      this.ticksWithoutLeader = 0;
    else this.ticksWithoutLeader += ticks;
    const mailbox = this.mailbox;
    this.mailbox = [];
    for (const item of mailbox) this.handle(item);
  }

  /** A lease read forwarded by a follower is confirmed by a heartbeat round while the lease is suspended. */
  private withLeaseGuard(m: Message): Message {
    if (m.type !== 'readIndex' || m.index !== READ_MODE_LEASE_WIRE || !this.hibernation.leaseSuspended)
      return m;
    return { ...m, index: 0 };
  }

  private handle(item: MailboxItem): void {
    switch (item.kind) {
      case 'propose':
        return this.propose(item.data, item.waiter);
      case 'confChange':
        return this.proposeConfChange(item.cc, item.waiter);
      case 'read':
        return this.readIndex(item.mode, item.waiter);
      case 'transferLeader':
        return this.node.transferLeader(item.toPeerId);
      case 'unreachable':
        return this.node.reportUnreachable(item.peerId);
      case 'campaign':
        return this.node.campaign();
    }
  }

  private propose(data: Uint8Array, waiter: ProposalWaiter): void {
    if (this.mergeState !== null && decodeCommand(data).command?.$case !== 'rollbackMerge')
      return waiter({ kind: 'regionError', error: this.merging() });
    if (this.pending.length >= this.config.pendingProposalsMax) {
      return waiter({ kind: 'regionError', error: this.busy('too many proposals awaiting apply') });
    }
    const result = this.node.propose(data);
    if (!result.ok)
      return waiter({ kind: 'regionError', error: this.proposalError(result.error, data.length) });
    const status = this.node.basicStatus();
    this.pending.push({ index: status.lastIndex, term: status.term, waiter });
  }

  private proposeConfChange(cc: ConfChange, waiter: ProposalWaiter): void {
    if (this.mergeState !== null) return waiter({ kind: 'regionError', error: this.merging() });
    if (this.applyBacklog !== null)
      return waiter({ kind: 'regionError', error: this.busy('a merge is waiting to apply') });
    const result = this.node.proposeConfChange(cc);
    if (!result.ok) return waiter({ kind: 'regionError', error: this.proposalError(result.error, 0) });
    const status = this.node.basicStatus();
    this.pending.push({ index: status.lastIndex, term: status.term, waiter });
  }

  private readIndex(mode: 'safe' | 'lease', waiter: ReadWaiter): void {
    const ctx = this.reads.register(waiter);
    if (ctx === undefined) return waiter(this.busy('too many pending reads'));
    // After a wake-up the core's lease clock is not to be trusted (hibernation.ts).
    const result = this.node.readIndex(
      ctx,
      mode === 'lease' && this.hibernation.leaseSuspended ? 'safe' : mode,
    );
    if (!result.ok) this.reads.fail(ctx, this.proposalError(result.error, 0));
  }

  /** Phase 2: the node's Ready, if it has one. */
  collectReady(): Ready | undefined {
    const ready = this.node.hasReady() ? this.node.ready() : undefined;
    if (ready !== undefined && (ready.entries.length > 0 || ready.committedEntries.length > 0))
      this.hibernation.noteActivity();
    if (ready === undefined && this.stagedSnapshot !== null)
      throw new Error(`region ${this.region.id}: snapshot staged but the node did not restore it`);
    return ready;
  }

  /** Phase 3: hard state and entries into the round's batch. */
  persist(ready: Ready, batch: WriteBatch): void {
    this.persistSnapshot(ready, batch);
    this.storage.append(batch, ready.entries);
    if (ready.hardState !== null) this.storage.setHardState(batch, ready.hardState);
  }

  /**
   * A Ready's snapshot is only ever one whose data this round staged before stepping it
   * (data and region state are in the batch already): check that it is that one, reset
   * the log to it in the same batch, and check the hard state committing it goes along.
   */
  private persistSnapshot(ready: Ready, batch: WriteBatch): void {
    const staged = this.stagedSnapshot;
    this.stagedSnapshot = null;
    const snap = ready.snapshot;
    if (snap === null && staged === null) return;
    if (snap === null || staged === null)
      throw new Error(
        `region ${this.region.id}: Ready snapshot ${snap?.metadata.index ?? 'none'} but staged ${staged?.index ?? 'none'}`,
      );
    const { index, term } = snap.metadata;
    if (index !== staged.index || term !== staged.term)
      throw new Error(`region ${this.region.id}: Ready snapshot ${index}/${term} is not the staged one`);
    if (ready.hardState === null || ready.hardState.commit < index)
      throw new Error(`region ${this.region.id}: snapshot ${index} installed without committing it`);
    if (ready.committedEntries.length > 0)
      throw new Error(`region ${this.region.id}: entries to apply along with a snapshot`);
    this.storage.installSnapshot(batch, snap.metadata);
    if (this.storage.appliedIndex !== index || this.storage.lastIndex() !== index)
      throw new Error(`region ${this.region.id}: log not reset to the snapshot at ${index}`);
  }

  /**
   * Phase 4: apply committed entries into the same batch; returns what to complete after the
   * write. Entries held back by a waiting CommitMerge go first once the merge source is
   * ready (`entries` may then be empty: the store calls this for a peer with a backlog).
   */
  async apply(entries: readonly Entry[], writer: ApplyWriter, context: ApplyContext): Promise<Completion[]> {
    // Every log starts at RAFT_INIT_LOG_INDEX: a peer without a range can only get entries after a snapshot.
    if (!this.initialized && entries.length > 0)
      throw new Error(`region ${this.region.id}: uninitialized peer ${this.peerId} asked to apply entries`);
    let list = entries;
    const backlog = this.applyBacklog;
    if (backlog !== null) {
      const toIndex = entries.at(-1)?.index ?? backlog.toIndex;
      if (
        context.mergeSourceReady(backlog.sourceRegionId, backlog.prepareIndex, backlog.catchUp) === 'waiting'
      ) {
        this.applyBacklog = { ...backlog, toIndex };
        return [];
      }
      this.applyBacklog = null;
      const held = this.storage.entries(backlog.fromIndex, backlog.toIndex + 1, Number.MAX_SAFE_INTEGER);
      list = [...held, ...entries];
    }
    const completions: Completion[] = [];
    let last: Entry | undefined;
    for (const entry of list) {
      const result =
        entry.type === 'confChange'
          ? this.applyConfChange(entry, writer)
          : await this.applyNormal(entry, writer, context);
      if (result === WAIT_FOR_MERGE_SOURCE) {
        const toIndex = (list.at(-1) as Entry).index;
        this.applyBacklog = { ...waitingMerge(entry), fromIndex: entry.index, toIndex };
        break;
      }
      this.completeProposal(entry, result, completions);
      last = entry;
    }
    if (last !== undefined) {
      const appliedIndex = last.index;
      this.storage.setApplied(writer.batch, appliedIndex);
      // Reads waiting for this index may run only once the batch holding it is written.
      completions.push(() => this.reads.markApplied(appliedIndex));
    }
    return completions;
  }

  /** A CommitMerge waits for the local source peer; true while it does. */
  get applyWaitsForMerge(): boolean {
    return this.applyBacklog !== null;
  }

  /** The merge source region this peer's apply waits for, if any. */
  get awaitedMergeSourceId(): number | undefined {
    return this.applyBacklog?.sourceRegionId;
  }

  /** Whether the merge source the backlog waits for is ready now. */
  mergeSourceCaughtUp(context: ApplyContext): boolean {
    const backlog = this.applyBacklog;
    return (
      backlog !== null &&
      context.mergeSourceReady(backlog.sourceRegionId, backlog.prepareIndex, backlog.catchUp) === 'ready'
    );
  }

  private async applyNormal(
    entry: Entry,
    writer: ApplyWriter,
    context: ApplyContext,
  ): Promise<CommandResult | typeof WAIT_FOR_MERGE_SOURCE> {
    if (entry.data.length === 0) return { kind: 'noop' };
    const command = decodeCommand(entry.data);
    switch (command.command?.$case) {
      case 'split': {
        const result = this.applySplit(command, command.command.split, writer);
        if (result.kind === 'split') this.storage.noteRegionChanged(entry.index);
        return result;
      }
      case 'prepareMerge':
        return this.applyPrepareMerge(command, command.command.prepareMerge, entry.index, writer);
      case 'commitMerge':
        return this.applyCommitMerge(command, command.command.commitMerge, entry.index, writer, context);
      case 'rollbackMerge':
        return this.applyRollbackMerge(command, command.command.rollbackMerge, entry.index, writer);
      default:
        break;
    }
    const result = await applyCommand(command, this.region, writer);
    if (result.kind === 'write' || result.kind === 'compareAndSwap') {
      // Cheap and approximate on purpose: the split checker only uses it to pick regions to measure.
      this.writtenBytesSinceCheck += entry.data.length;
      this.writtenKeysSinceCheck += command.command?.$case === 'write' ? command.command.write.ops.length : 1;
    }
    return result;
  }

  /**
   * Applies a split (checked first, identically on every replica): the parent keeps the
   * leftmost range, its new state goes into the round's batch, and the store picks up the
   * new regions (takeAppliedSplits) to write their initial state into the same batch.
   */
  private applySplit(
    command: raftpb.RaftCommand,
    split: raftpb.SplitCommand,
    writer: ApplyWriter,
  ): CommandResult {
    if (command.header === undefined)
      return { kind: 'regionError', error: { kind: 'staleCommand', reason: 'command without header' } };
    const epoch = epochFromProto(command.header.regionEpoch, 'header.regionEpoch');
    if (!epochMatches(this.region.epoch, epoch))
      return { kind: 'regionError', error: { kind: 'epochNotMatch', currentRegions: [this.region] } };
    let points: SplitPointSpec[];
    try {
      points = splitPointsFromProto(split);
    } catch (err) {
      return { kind: 'rejected', reason: err instanceof Error ? err.message : String(err) };
    }
    const problem = checkSplitPoints(this.region, points);
    if (problem !== undefined) return { kind: 'rejected', reason: `split refused: ${problem}` };
    const regions = splitRegionMetas(this.region, points);
    this.rememberRange();
    this.region = regions[0] as RegionMeta;
    writer.batch.put(regionStateKey(this.region.id), encodeRegionLocalState(this.region, this.lifecycle));
    this.appliedSplits.push({ regions, wasLeader: this.node.basicStatus().role === 'leader' });
    return { kind: 'split', regions };
  }

  /** The region's epoch must be exactly the command's (admin commands); the error otherwise. */
  private adminEpochError(command: raftpb.RaftCommand): CommandResult | undefined {
    if (command.header === undefined)
      return { kind: 'regionError', error: { kind: 'staleCommand', reason: 'command without header' } };
    const epoch = epochFromProto(command.header.regionEpoch, 'header.regionEpoch');
    if (!epochMatches(this.region.epoch, epoch))
      return { kind: 'regionError', error: { kind: 'epochNotMatch', currentRegions: [this.region] } };
    return undefined;
  }

  /** Source side, step 1: freeze the region as of this entry (region-merge.ts). */
  private applyPrepareMerge(
    command: raftpb.RaftCommand,
    prepare: raftpb.PrepareMergeCommand,
    index: number,
    writer: ApplyWriter,
  ): CommandResult {
    const stale = this.adminEpochError(command);
    if (stale !== undefined) return stale;
    if (this.mergeState !== null)
      return { kind: 'rejected', reason: `region ${this.region.id} is already merging` };
    if (prepare.target === undefined) return { kind: 'rejected', reason: 'prepare merge without a target' };
    let target: RegionMeta;
    try {
      target = regionFromProto(prepare.target, 'prepareMerge.target');
    } catch (err) {
      return { kind: 'rejected', reason: err instanceof Error ? err.message : String(err) };
    }
    const problem = checkMergePair(this.region, target);
    if (problem !== undefined) return { kind: 'rejected', reason: `merge refused: ${problem}` };
    this.rememberRange();
    this.region = preparedSourceMeta(this.region);
    this.mergeState = { prepareIndex: index, target };
    this.persistRegionState(writer);
    this.storage.noteRegionChanged(index);
    return { kind: 'mergePrepared', region: this.region, prepareIndex: index };
  }

  /**
   * Target side, step 2: absorb the source once the local source peer has applied its
   * PrepareMerge (until then the entry and everything after it wait). A refusal depends
   * only on the command and this region's state at this log position: every replica
   * refuses alike, and the source may roll back.
   */
  private applyCommitMerge(
    command: raftpb.RaftCommand,
    commit: raftpb.CommitMergeCommand,
    index: number,
    writer: ApplyWriter,
    context: ApplyContext,
  ): CommandResult | typeof WAIT_FOR_MERGE_SOURCE {
    let source: RegionMeta;
    let prepareIndex: number;
    let catchUp: MergeCatchUp;
    try {
      ({ source, prepareIndex, catchUp } = commitMergeFromProto(commit));
    } catch (err) {
      return { kind: 'rejected', reason: err instanceof Error ? err.message : String(err) };
    }
    const refuse = (reason: string): CommandResult => {
      this.refusedMerges.push({ sourceRegionId: source.id, prepareIndex, reason });
      return { kind: 'rejected', reason };
    };
    const stale = this.adminEpochError(command);
    if (stale !== undefined)
      return refuse(
        `region ${this.region.id} changed since the merge was prepared (epoch ${JSON.stringify(this.region.epoch)})`,
      );
    if (this.mergeState !== null) return refuse(`region ${this.region.id} is itself merging`);
    const problem = checkMergePair(source, this.region);
    if (problem !== undefined) return refuse(`merge refused: ${problem}`);
    if (context.mergeSourceReady(source.id, prepareIndex, catchUp) === 'waiting')
      return WAIT_FOR_MERGE_SOURCE;
    const merged = mergedRegionMeta(this.region, source);
    this.rememberRange();
    this.region = merged;
    this.persistRegionState(writer);
    this.storage.noteRegionChanged(index);
    this.appliedMerges.push({ source, merged });
    return { kind: 'merged', region: merged };
  }

  /** Source side, after a refused commit: serve again (a new version, so old requests stay refused). */
  private applyRollbackMerge(
    command: raftpb.RaftCommand,
    rollback: raftpb.RollbackMergeCommand,
    index: number,
    writer: ApplyWriter,
  ): CommandResult {
    const stale = this.adminEpochError(command);
    if (stale !== undefined) return stale;
    const prepareIndex = Number(rollback.prepareIndex);
    if (this.mergeState === null || this.mergeState.prepareIndex !== prepareIndex)
      return {
        kind: 'rejected',
        reason: `region ${this.region.id} has no merge prepared at ${prepareIndex}`,
      };
    this.rememberRange();
    this.region = {
      ...this.region,
      epoch: { confVer: this.region.epoch.confVer, version: this.region.epoch.version + 1 },
    };
    this.mergeState = null;
    this.mergeRefusedAtIndex = 0;
    this.persistRegionState(writer);
    this.storage.noteRegionChanged(index);
    return { kind: 'mergeRolledBack', region: this.region };
  }

  private persistRegionState(writer: ApplyWriter): void {
    writer.batch.put(
      regionStateKey(this.region.id),
      encodeRegionLocalState(this.region, this.lifecycle, this.mergeState),
    );
  }

  /** Merges this peer applied as target since the last call (the store retires their sources in the same batch). */
  takeAppliedMerges(): AppliedMerge[] {
    const merges = this.appliedMerges;
    this.appliedMerges = [];
    return merges;
  }

  /** CommitMerges this peer refused since the last call. */
  takeRefusedMerges(): RefusedMerge[] {
    const refused = this.refusedMerges;
    this.refusedMerges = [];
    return refused;
  }

  /** Splits applied since the last call (the store writes their new regions into the same batch). */
  takeAppliedSplits(): AppliedSplit[] {
    const splits = this.appliedSplits;
    this.appliedSplits = [];
    return splits;
  }

  private rememberRange(): void {
    const { id, startKey, endKey, epoch } = this.region;
    this.rangeHistory.push({ id, startKey, endKey, version: epoch.version });
    if (this.rangeHistory.length > RANGE_HISTORY_MAX) this.rangeHistory.shift();
  }

  /**
   * The range the region had at `version` as far as this peer knows (ranges only shrink, so
   * an unknown older version maps to the oldest range remembered); the current range otherwise.
   */
  rangeAtVersion(version: number): RegionRange {
    if (version >= this.region.epoch.version) return this.region;
    let best: RegionRange | undefined;
    for (const past of this.rangeHistory) if (past.version <= version) best = past;
    return best ?? this.rangeHistory[0] ?? this.region;
  }

  /**
   * Remembers a peer that talks to this one, so it can answer (bounded). An uninitialized
   * peer adds it to its (range-less) region. An initialized peer whose membership is older
   * than the sender's — it missed conf changes while cut off, and the new leader is a peer
   * it does not know — keeps it aside (`senders`): without it every answer to the leader
   * would be dropped and the leader could never catch this peer up (sim-cluster finding 1).
   */
  learnPeer(peer: PeerMeta): void {
    if (peerById(this.region, peer.id) !== undefined) return;
    if (this.initialized) {
      if (!this.senders.has(peer.id) && this.senders.size >= KNOWN_SENDERS_MAX) {
        const oldest = this.senders.keys().next().value;
        if (oldest !== undefined) this.senders.delete(oldest);
      }
      this.senders.set(peer.id, peer);
      return;
    }
    if (this.region.peers.length >= UNINITIALIZED_KNOWN_PEERS_MAX) return;
    this.region = { ...this.region, peers: [...this.region.peers, peer] };
  }

  /** Where a message to `peerId` goes: the region's peer, else a sender it heard from. */
  addressOf(peerId: number): PeerMeta | undefined {
    return peerById(this.region, peerId) ?? this.senders.get(peerId);
  }

  private applyConfChange(entry: Entry, writer: ApplyWriter): CommandResult {
    if (this.mergeState !== null) {
      // Proposed by a leader that had not yet applied the PrepareMerge: the frozen region's
      // membership must stay what the target was promised. Not handing the change to the
      // core refuses it there too (its configuration stays as it was).
      return { kind: 'regionError', error: this.merging() };
    }
    const cc = decodeConfChange(entry.data);
    const added = this.addedPeers(cc);
    const self = peerById(this.region, this.peerId);
    const confState = this.node.applyConfChange(cc);
    const peers = peersForConfState(this.region.peers, added, confState);
    this.region = {
      ...this.region,
      peers,
      epoch: { ...this.region.epoch, confVer: this.region.epoch.confVer + 1 },
    };
    this.storage.setConfState(confState);
    this.storage.noteRegionChanged(entry.index);
    this.reportDue = true;
    if (peerById(this.region, this.peerId) === undefined) {
      // Removed: the store destroys this peer after the round; the tombstone keeps our peer id.
      this.lifecycle = 'tombstone';
      writer.batch.put(regionStateKey(this.region.id), encodeTombstoneState(this.region, self));
    } else {
      writer.batch.put(regionStateKey(this.region.id), encodeRegionLocalState(this.region, this.lifecycle));
    }
    return { kind: 'noop' };
  }

  /** Peers (with their stores) named by a conf change's context. */
  private addedPeers(cc: ConfChange): PeerMeta[] {
    if (cc.context.length === 0) return [];
    const command = raftpb.RaftCommand.decode(cc.context);
    if (command.command?.$case !== 'changePeer') return [];
    return command.command.changePeer.changes.flatMap((change, i) =>
      change.peer ? [peerFromProto(change.peer, `changePeer.changes[${i}].peer`)] : [],
    );
  }

  /** Matches an applied entry with the proposal made for it (same index and term). */
  private completeProposal(entry: Entry, result: CommandResult, completions: Completion[]): void {
    while (this.pending.length > 0) {
      const head = this.pending[0] as PendingProposal;
      if (head.index > entry.index) return;
      this.pending.shift();
      if (head.index === entry.index && head.term === entry.term) {
        completions.push(() => head.waiter(result));
        return;
      }
      // Our entry at head.index was replaced by another leader's: its outcome is "not applied".
      completions.push(() =>
        head.waiter({
          kind: 'regionError',
          error: { kind: 'staleCommand', reason: 'proposal overwritten by a new leader' },
        }),
      );
    }
  }

  /** Phase 5, after the batch is durable and messages are sent: read states, role changes, advance. */
  finish(ready: Ready): void {
    for (const rs of ready.readStates) this.acceptReadState(rs);
    if (ready.softState !== null && ready.softState.role !== 'leader') {
      this.reads.failUnconfirmed(this.notLeader());
    }
    if (ready.softState?.role === 'leader') this.reportDue = true;
    this.node.advance();
  }

  private acceptReadState(rs: ReadState): void {
    this.reads.confirm(rs.requestCtx, rs.index);
  }

  /** Region error for a refused proposal or read. */
  private proposalError(e: ProposalError, sizeBytes: number): RegionError {
    switch (e.kind) {
      case 'notLeader':
        return this.notLeader();
      case 'leaderTransferring':
        return this.busy(`leadership is moving to peer ${e.transfereeId}`);
      case 'entryTooLarge':
        return {
          kind: 'raftEntryTooLarge',
          regionId: this.region.id,
          entrySizeBytes: e.sizeBytes || sizeBytes,
          entrySizeBytesMax: e.maxSizeBytes,
        };
      case 'uncommittedSizeLimit':
        return this.busy('too many uncommitted bytes');
      case 'confChangePending':
        return this.busy(`a membership change at index ${e.pendingIndex} is still pending`);
      case 'invalidConfChange':
        return { kind: 'staleCommand', reason: `invalid membership change: ${e.reason}` };
      case 'readQueueFull':
        return this.busy('too many pending reads');
    }
  }

  /** Why a frozen merge source refuses a request (retryable: after the merge the target serves it). */
  merging(): RegionError {
    return this.busy(`merging into region ${this.mergeState?.target.id ?? '?'}`);
  }

  notLeader(): RegionError {
    const leaderId = this.node.basicStatus().leaderId;
    return { kind: 'notLeader', regionId: this.region.id, leader: peerById(this.region, leaderId) };
  }

  private busy(reason: string): RegionError {
    return {
      kind: 'serverIsBusy',
      reason: `region ${this.region.id}: ${reason}`,
      backoffMs: this.config.busyBackoffMs,
    };
  }

  /** Messages this peer cannot deliver any more (peer destroyed): fail all waiters. */
  failAll(error: RegionError): void {
    // Proposed entries are in the log and may still commit elsewhere: their outcome is
    // unknown. Only requests never handed to Raft (the mailbox) get the retryable error.
    const reason = `region ${this.region.id}: ${describeRegionError(error)} with the proposal in flight; it may or may not be applied`;
    for (const p of this.pending) p.waiter({ kind: 'outcomeUnknown', reason });
    this.pending = [];
    for (const item of this.mailbox) {
      if (item.kind === 'read') item.waiter(error);
      else if (item.kind === 'propose' || item.kind === 'confChange')
        item.waiter({ kind: 'regionError', error });
    }
    this.mailbox = [];
    this.reads.failAll(error);
    this.takeSnapshotInstall()?.done(new Error(`region ${this.region.id}: ${error.kind}`));
  }

  get droppedRaftMessages(): number {
    return this.droppedRaftMessagesCount;
  }
}
