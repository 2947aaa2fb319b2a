// A store: the regions this node holds a peer of, driven by one loop. Each round
//   1. steps every region with input (ticks, Raft messages, proposals, reads),
//   2. collects every Ready,
//   3. puts ALL their log entries and hard states, and the data of ALL their newly
//      committed entries, into ONE write batch, written once (fsynced if any region needs it),
//   4. sends the messages of all regions (the transport coalesces them per store),
//   5. completes proposals and reads, and advances every node.
// Rounds never overlap: input that arrives during a round waits in bounded mailboxes for
// the next one. That is what lets storage state be updated as the batch is built.
// Snapshots and log compaction also ride on rounds: a received snapshot is installed into
// the round's batch before its region steps (snapshot-installer.ts), each region compacts
// its log in the batch after applying (log-compaction.ts), and outbound 'snap' messages
// leave over the snapshot stream (snapshot-shipper.ts) with data the generator streams
// from an engine view (snapshot-generator.ts).
import type { ConfChange, Message, RawNode, Ready } from '@flotilla/raft';
import type { Engine, KeyRange, KeyValue, ScanOptions, WriteBatch } from '../storage/engine.js';
import { ApplyWriter } from './apply-writer.js';
import { compactionIndex } from './log-compaction.js';
import { SnapshotGenerator } from './snapshot-generator.js';
import type { PendingInstall } from './snapshot-installer.js';
import {
  checkSnapshotHeader,
  installPending,
  readSnapshotData,
  SnapshotRejectedError,
} from './snapshot-installer.js';
import { SnapshotShipper } from './snapshot-shipper.js';
import type { CommandResult } from './command-apply.js';
import type { Completion, MailboxItem } from './region-peer.js';
import type { RegionPeer } from './region-peer.js';
import type { RegionError } from './region-error.js';
import type { PeerMeta, RegionEpoch, RegionMeta } from './region-meta.js';
import { peerById } from './region-meta.js';
import type { StoreConfig } from './store-config.js';

/** A Raft message between two peers of a region, with what the receiving store needs to route it. */
export interface RaftEnvelope {
  readonly regionId: number;
  readonly fromPeer: PeerMeta;
  readonly toPeer: PeerMeta;
  readonly regionEpoch: RegionEpoch;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  readonly message: Message;
  /** Tells the receiving peer it was removed from the region. */
  readonly isTombstone: boolean;
}

/** Where a store's outbound Raft messages go (the gRPC transport, or the simulator's network). */
export interface RaftOutbox {
  /** Queues a message; must not block. Returns false if it was dropped. */
  send(toStoreId: number, envelope: RaftEnvelope): boolean;
  /** Sends everything queued this round (coalesced per destination store). */
  flush(): void;
  /**
   * Streams a 'snap' message with its data (exactly totalSizeBytes); resolves once the
   * receiving store took it, rejects if the transfer failed. Must not block the caller.
   */
  sendSnapshot(
    toStoreId: number,
    envelope: RaftEnvelope,
    data: AsyncIterable<Uint8Array>,
    totalSizeBytes: number,
  ): Promise<void>;
}

/** Injected time and scheduling, so the simulator can run stores without real timers. */
export interface StoreClock {
  nowUnixMs(): number;
  /** Runs `fn` soon, after the current call stack (setImmediate in production). */
  defer(fn: () => void): void;
}

export interface StoreDeps {
  readonly config: StoreConfig;
  readonly engine: Engine;
  readonly outbox: RaftOutbox;
  readonly clock: StoreClock;
  /** Called when the loop hits an error it cannot recover from (the process should exit). */
  readonly onFatal: (error: Error) => void;
}

export interface StoreStats {
  readonly roundsCount: number;
  readonly syncedWritesCount: number;
  readonly writesCount: number;
  readonly droppedRaftMessagesCount: number;
  readonly snapshotsSentCount: number;
  readonly snapshotSendFailuresCount: number;
  readonly snapshotsInstalledCount: number;
  readonly snapshotGenerationFailuresCount: number;
  readonly logCompactionsCount: number;
}

export class Store {
  private readonly regions = new Map<number, RegionPeer>();
  private readonly busy = new Set<RegionPeer>();
  private running = false;
  private scheduled = false;
  private stopped = false;
  private roundsCount = 0;
  private writesCount = 0;
  private syncedWritesCount = 0;
  private droppedRaftMessagesCount = 0;
  private roundDone: Array<() => void> = [];
  private snapshotsInstalledCount = 0;
  /** Received snapshots the running round is installing (answered when it ends, or fails). */
  private roundInstalls: PendingInstall[] = [];
  private snapshotGenerationFailuresCount = 0;
  private logCompactionsCount = 0;
  private readonly generator: SnapshotGenerator;
  private readonly shipper: SnapshotShipper;

  constructor(private readonly deps: StoreDeps) {
    this.generator = new SnapshotGenerator({
      engine: deps.engine,
      onGenerated: (regionId, snapshot) => {
        const peer = this.regions.get(regionId);
        if (peer === undefined) return;
        peer.offerGeneratedSnapshot(snapshot);
        this.markBusy(peer);
      },
      onFailed: () => this.snapshotGenerationFailuresCount++,
    });
    this.shipper = new SnapshotShipper({
      generator: this.generator,
      outbox: deps.outbox,
      onStatus: (regionId, toPeerId, ok) => {
        const peer = this.regions.get(regionId);
        if (peer === undefined) return;
        peer.noteSnapshotStatus(toPeerId, ok);
        this.markBusy(peer);
      },
    });
  }

  get storeId(): number {
    return this.deps.config.storeId;
  }

  addRegion(peer: RegionPeer): void {
    if (this.regions.has(peer.regionId))
      throw new Error(`region ${peer.regionId} already on store ${this.storeId}`);
    this.regions.set(peer.regionId, peer);
    this.markBusy(peer);
  }

  region(regionId: number): RegionPeer | undefined {
    return this.regions.get(regionId);
  }

  allRegions(): RegionPeer[] {
    return [...this.regions.values()];
  }

  /** One Raft tick for every region (called by the ticker every tickIntervalMs). */
  tick(): void {
    for (const peer of this.regions.values()) {
      peer.addTicks(1);
      this.busy.add(peer);
    }
    this.schedule();
  }

  /** Inbound Raft messages from other stores; never blocks, drops what cannot be queued. */
  deliver(envelopes: readonly RaftEnvelope[]): void {
    for (const env of envelopes) {
      const peer = this.regions.get(env.regionId);
      // A snapshot travels only with its data, through receiveSnapshot.
      const misrouted = env.toPeer.id !== peer?.peerId || env.toPeer.storeId !== this.storeId;
      if (peer === undefined || misrouted || env.message.type === 'snap') {
        this.droppedRaftMessagesCount++;
        continue;
      }
      if (!peer.enqueueRaftMessage(env.message)) this.droppedRaftMessagesCount++;
      this.markBusy(peer);
    }
  }

  /**
   * The Raft core of a region needs a snapshot (PeerStorage.snapshot()): generate one in
   * the background unless a fit one exists; the region gets it in a later round.
   */
  requestSnapshot(regionId: number): void {
    const peer = this.regions.get(regionId);
    if (peer !== undefined) this.generator.request(regionId, peer.storage.truncatedIndex);
  }

  /**
   * A snapshot from the region's leader, complete and checked by the transport: verifies
   * it against the local peer and its descriptor, then installs it in the region's next
   * round. Resolves once that round is durable; rejects (the sender reports a failed
   * snapshot) if it is not for us, stale, corrupt, or one is already waiting.
   */
  async receiveSnapshot(envelope: RaftEnvelope, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.stopped) throw new SnapshotRejectedError(envelope.regionId, 'store is stopping');
    const descriptor = checkSnapshotHeader(envelope, this.regions.get(envelope.regionId));
    // Not newer than what the peer applied: the core will only answer with its commit index.
    const stale = descriptor.index <= (this.regions.get(envelope.regionId)?.storage.appliedIndex ?? 0);
    const records = stale ? [] : await readSnapshotData(descriptor, data);
    const peer = this.regions.get(envelope.regionId);
    if (peer === undefined || this.stopped)
      throw new SnapshotRejectedError(envelope.regionId, 'region left the store');
    await new Promise<void>((resolve, reject) => {
      const pending: PendingInstall = {
        envelope,
        descriptor,
        records,
        done: (error) => (error ? reject(error) : resolve()),
      };
      if (!peer.offerSnapshotInstall(pending))
        return reject(new SnapshotRejectedError(envelope.regionId, 'another snapshot is waiting'));
      this.markBusy(peer);
    });
  }

  /** Proposes an encoded RaftCommand to a region; resolves once applied (or refused). */
  propose(regionId: number, data: Uint8Array): Promise<CommandResult> {
    return new Promise((resolve) => {
      const error = this.enqueue(regionId, { kind: 'propose', data, waiter: resolve });
      if (error) resolve({ kind: 'regionError', error });
    });
  }

  /** Waits until a linearizable ('safe') or lease read may be served from the region's applied state. */
  readBarrier(regionId: number, mode: 'safe' | 'lease'): Promise<RegionError | undefined> {
    return new Promise((resolve) => {
      const error = this.enqueue(regionId, { kind: 'read', mode, waiter: resolve });
      if (error) resolve(error);
    });
  }

  proposeConfChange(regionId: number, cc: ConfChange): Promise<CommandResult> {
    return new Promise((resolve) => {
      const error = this.enqueue(regionId, { kind: 'confChange', cc, waiter: resolve });
      if (error) resolve({ kind: 'regionError', error });
    });
  }

  transferLeader(regionId: number, toPeerId: number): RegionError | undefined {
    return this.enqueue(regionId, { kind: 'transferLeader', toPeerId });
  }

  /** The transport could not deliver to `storeId`: tell each region's Raft node its peer there is unreachable. */
  reportUnreachable(storeId: number, regionIds: readonly number[]): void {
    for (const regionId of regionIds) {
      const peer = this.regions.get(regionId);
      const target = peer?.region.peers.find((p) => p.storeId === storeId);
      if (peer === undefined || target === undefined) continue;
      this.enqueue(regionId, { kind: 'unreachable', peerId: target.id });
    }
  }

  private enqueue(regionId: number, item: MailboxItem): RegionError | undefined {
    if (this.stopped)
      return { kind: 'serverIsBusy', reason: 'store is stopping', backoffMs: this.deps.config.busyBackoffMs };
    const peer = this.regions.get(regionId);
    if (peer === undefined) return { kind: 'regionNotFound', regionId };
    const error = peer.enqueue(item);
    if (error === undefined) this.markBusy(peer);
    return error;
  }

  private markBusy(peer: RegionPeer): void {
    this.busy.add(peer);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    this.deps.clock.defer(() => {
      this.scheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.busy.size > 0 && !this.stopped) await this.round();
    } catch (err) {
      this.stopped = true;
      const error = err instanceof Error ? err : new Error(String(err));
      // The senders of snapshots this round was installing learn that it failed.
      for (const pending of this.roundInstalls) pending.done(error);
      this.roundInstalls = [];
      this.deps.onFatal(error);
    } finally {
      this.running = false;
      const waiters = this.roundDone;
      this.roundDone = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when the loop is idle (every queued input has been through a round). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.roundDone.push(resolve));
  }

  private async round(): Promise<void> {
    this.roundsCount++;
    const peers = [...this.busy];
    this.busy.clear();
    const writer = new ApplyWriter(this.deps.engine);
    const completions: Completion[] = [];
    for (const peer of peers) await this.installSnapshot(peer, writer, completions);
    for (const peer of peers) peer.step();
    const readies: Array<[RegionPeer, Ready]> = [];
    for (const peer of peers) {
      const ready = peer.collectReady();
      if (ready !== undefined) readies.push([peer, ready]);
    }
    if (readies.length === 0 && writer.batch.count === 0) {
      this.roundInstalls = [];
      for (const complete of completions) complete();
      return;
    }
    let mustSync = false;
    for (const [peer, ready] of readies) {
      peer.persist(ready, writer.batch);
      mustSync ||= ready.mustSync;
    }
    for (const [peer, ready] of readies)
      completions.push(...(await peer.apply(ready.committedEntries, writer)));
    for (const [peer] of readies) this.maybeCompactLog(peer, writer.batch);
    if (writer.batch.count > 0) {
      await this.deps.engine.write(writer.batch, { sync: mustSync });
      this.writesCount++;
      if (mustSync) this.syncedWritesCount++;
    }
    this.send(readies);
    this.roundInstalls = [];
    for (const complete of completions) complete();
    for (const [peer, ready] of readies) {
      peer.finish(ready);
      // A node may have more to do right away (e.g. entries it can now send or commit).
      if (peer.node.hasReady() || peer.hasInput()) this.busy.add(peer);
    }
  }

  /** A received snapshot waiting for this peer: into the round's batch (if the core will take it), message stepped first. */
  private async installSnapshot(
    peer: RegionPeer,
    writer: ApplyWriter,
    completions: Completion[],
  ): Promise<void> {
    const pending = peer.takeSnapshotInstall();
    if (pending === null) return;
    this.roundInstalls.push(pending);
    const installed = await installPending(peer, pending, writer);
    peer.stepSnapshotFirst(pending.envelope.message);
    const index = pending.descriptor.index;
    completions.push(() => {
      if (installed) {
        this.snapshotsInstalledCount++;
        peer.reads.markApplied(index);
      }
      pending.done();
    });
  }

  private maybeCompactLog(peer: RegionPeer, batch: WriteBatch): void {
    const storage = peer.storage;
    const index = compactionIndex(
      {
        appliedIndex: storage.appliedIndex,
        truncatedIndex: storage.truncatedIndex,
        appliedAtLastCompaction: peer.appliedAtLastCompaction,
        retainedLogSizeBytes: storage.retainedLogSizeBytes,
        progress: () => peer.node.status().progress,
        selfId: peer.peerId,
      },
      this.deps.config,
    );
    if (index === undefined) return;
    storage.compact(batch, index);
    peer.appliedAtLastCompaction = storage.appliedIndex;
    this.logCompactionsCount++;
    this.generator.expire(peer.regionId, index);
  }

  private send(readies: ReadonlyArray<[RegionPeer, Ready]>): void {
    const outbox = this.deps.outbox;
    for (const [peer, ready] of readies) {
      const region = peer.region;
      const fromPeer = peerById(region, peer.peerId);
      if (fromPeer === undefined) continue; // removed from the region: it sends nothing more
      for (const message of ready.messages) {
        const toPeer = peerById(region, message.to);
        if (toPeer === undefined) continue;
        const envelope: RaftEnvelope = {
          regionId: region.id,
          fromPeer,
          toPeer,
          regionEpoch: region.epoch,
          startKey: region.startKey,
          endKey: region.endKey,
          message,
          isTombstone: false,
        };
        if (message.type === 'snap') this.shipper.ship(toPeer.storeId, envelope);
        else if (!outbox.send(toPeer.storeId, envelope)) peer.node.reportUnreachable(message.to);
      }
    }
    outbox.flush();
  }

  /** Stops taking work, waits for the round in progress, fails what is still queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.running) await new Promise<void>((resolve) => this.roundDone.push(resolve));
    for (const peer of this.regions.values()) {
      peer.failAll({
        kind: 'serverIsBusy',
        reason: 'store stopped',
        backoffMs: this.deps.config.busyBackoffMs,
      });
    }
    await this.generator.close();
  }

  stats(): StoreStats {
    let dropped = this.droppedRaftMessagesCount;
    for (const peer of this.regions.values()) dropped += peer.droppedRaftMessages;
    const shipped = this.shipper.stats();
    return {
      roundsCount: this.roundsCount,
      writesCount: this.writesCount,
      syncedWritesCount: this.syncedWritesCount,
      droppedRaftMessagesCount: dropped,
      snapshotsSentCount: shipped.sentCount,
      snapshotSendFailuresCount: shipped.failedCount,
      snapshotsInstalledCount: this.snapshotsInstalledCount,
      snapshotGenerationFailuresCount: this.snapshotGenerationFailuresCount,
      logCompactionsCount: this.logCompactionsCount,
    };
  }

  /** The region's Raft node, for status reporting. */
  node(regionId: number): RawNode | undefined {
    return this.regions.get(regionId)?.node;
  }

  /** Point read of the applied state (callers pass the barrier their consistency level needs first). */
  engineGet(key: Uint8Array): Uint8Array | undefined {
    return this.deps.engine.getSync(key);
  }

  engineScan(range: KeyRange, options: ScanOptions): Promise<KeyValue[]> {
    return this.deps.engine.scan(range, options);
  }

  regionMeta(regionId: number): RegionMeta | undefined {
    return this.regions.get(regionId)?.region;
  }
}
