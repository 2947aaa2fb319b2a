// A store: the regions this node holds a peer of, driven by one loop. Each round
//   1. steps every region with input (ticks, Raft messages, proposals, reads),
//   2. collects every Ready,
//   3. puts ALL their log entries and hard states, and the data of ALL their newly
//      committed entries, into ONE write batch, written once (fsynced if any region needs it),
//   4. sends the messages of all regions (the transport coalesces them per store),
//   5. completes proposals and reads, and advances every node.
// Rounds never overlap: input that arrives during a round waits in bounded mailboxes for
// the next one. That is what lets storage state be updated as the batch is built.
import type { ConfChange, Message, RawNode, Ready } from '@flotilla/raft';
import type { Engine, KeyRange, KeyValue, ScanOptions } from '../storage/engine.js';
import { ApplyWriter } from './apply-writer.js';
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

  constructor(private readonly deps: StoreDeps) {}

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
      if (peer === undefined || env.toPeer.id !== peer.peerId || env.toPeer.storeId !== this.storeId) {
        this.droppedRaftMessagesCount++;
        continue;
      }
      if (!peer.enqueueRaftMessage(env.message)) this.droppedRaftMessagesCount++;
      this.markBusy(peer);
    }
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
      this.deps.onFatal(err instanceof Error ? err : new Error(String(err)));
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
    for (const peer of peers) peer.step();
    const readies: Array<[RegionPeer, Ready]> = [];
    for (const peer of peers) {
      const ready = peer.collectReady();
      if (ready !== undefined) readies.push([peer, ready]);
    }
    if (readies.length === 0) return;
    const writer = new ApplyWriter(this.deps.engine);
    let mustSync = false;
    for (const [peer, ready] of readies) {
      peer.persist(ready, writer.batch);
      mustSync ||= ready.mustSync;
    }
    const completions: Completion[] = [];
    for (const [peer, ready] of readies)
      completions.push(...(await peer.apply(ready.committedEntries, writer)));
    if (writer.batch.count > 0) {
      await this.deps.engine.write(writer.batch, { sync: mustSync });
      this.writesCount++;
      if (mustSync) this.syncedWritesCount++;
    }
    this.send(readies);
    for (const complete of completions) complete();
    for (const [peer, ready] of readies) {
      peer.finish(ready);
      // A node may have more to do right away (e.g. entries it can now send or commit).
      if (peer.node.hasReady() || peer.hasInput()) this.busy.add(peer);
    }
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
        if (!outbox.send(toPeer.storeId, envelope)) peer.node.reportUnreachable(message.to);
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
  }

  stats(): StoreStats {
    let dropped = this.droppedRaftMessagesCount;
    for (const peer of this.regions.values()) dropped += peer.droppedRaftMessages;
    return {
      roundsCount: this.roundsCount,
      writesCount: this.writesCount,
      syncedWritesCount: this.syncedWritesCount,
      droppedRaftMessagesCount: dropped,
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
