// The network between simulated stores: each store's RaftOutbox flush becomes one frame per
// destination store (as the gRPC transport batches per connection), coalesced heartbeats and
// liveness pings travel as their own frames, and snapshots stream as one transfer. Every
// frame can be lost, delayed (so frames reorder) or duplicated, and links can be cut one way
// or both. A frame is judged twice: when sent, and when due (a link cut while the frame was
// in flight loses it; a store that crashed meanwhile never sees it).
import type { HeartbeatRecord, RaftEnvelope, RaftOutbox, Store } from '../../../server/src/store/store.js';
import { coalescedHeartbeatOf } from '../../../server/src/transport/raft-message-codec.js';
import type { SimRandom } from '../sim/prng.js';
import type { SimLoop } from './sim-loop.js';

/** How the network misbehaves right now (a fault sets it, the heal resets it). */
export interface NetworkConditions {
  readonly lossPermille: number;
  readonly duplicatePermille: number;
  /** Extra delay drawn uniformly in [0, delayStepsMax] on top of one step. */
  readonly delayStepsMax: number;
}

export const CALM_NETWORK: NetworkConditions = { lossPermille: 0, duplicatePermille: 0, delayStepsMax: 1 };

/** Frames of one flush queued for a destination at once; beyond it the outbox refuses sends. */
const QUEUED_PER_FLUSH_MAX = 65_536;

export interface NetworkCounters {
  framesSent: number;
  framesLost: number;
  framesDuplicated: number;
  snapshotsDelivered: number;
  snapshotsFailed: number;
}

export class SimNetwork {
  conditions: NetworkConditions = CALM_NETWORK;
  /** Directed cuts, as "from>to", counted (overlapping faults may cut the same link). */
  private readonly cuts = new Map<string, number>();
  readonly counters: NetworkCounters = {
    framesSent: 0,
    framesLost: 0,
    framesDuplicated: 0,
    snapshotsDelivered: 0,
    snapshotsFailed: 0,
  };

  constructor(
    private readonly loop: SimLoop,
    private readonly random: SimRandom,
    /** The running Store of a store id, or undefined while it is down. */
    private readonly storeOf: (storeId: number) => Store | undefined,
  ) {}

  cut(from: number, to: number): void {
    const link = `${from}>${to}`;
    this.cuts.set(link, (this.cuts.get(link) ?? 0) + 1);
  }

  /** Undoes one cut of the link (it stays cut while another fault cuts it too). */
  uncut(from: number, to: number): void {
    const link = `${from}>${to}`;
    const count = this.cuts.get(link) ?? 0;
    if (count <= 1) this.cuts.delete(link);
    else this.cuts.set(link, count - 1);
  }

  healLinks(): void {
    this.cuts.clear();
  }

  connected(from: number, to: number): boolean {
    return !this.cuts.has(`${from}>${to}`);
  }

  get cutCount(): number {
    return this.cuts.size;
  }

  outboxFor(fromStoreId: number): RaftOutbox {
    let queued = new Map<number, RaftEnvelope[]>();
    let heartbeats = new Map<number, HeartbeatRecord[]>();
    let queuedCount = 0;
    return {
      send: (to, envelope) => {
        if (queuedCount >= QUEUED_PER_FLUSH_MAX) return false;
        queuedCount++;
        const heartbeat = coalescedHeartbeatOf(envelope);
        if (heartbeat !== undefined) pushTo(heartbeats, to, heartbeat);
        else pushTo(queued, to, envelope);
        return true;
      },
      flush: () => {
        const frames = queued;
        const heartbeatFrames = heartbeats;
        queued = new Map();
        heartbeats = new Map();
        queuedCount = 0;
        for (const [to, envelopes] of frames)
          this.sendFrame(fromStoreId, to, (store) => store.deliver(envelopes));
        for (const [to, records] of heartbeatFrames)
          this.sendFrame(fromStoreId, to, (store) => store.deliverHeartbeats(fromStoreId, records));
      },
      sendStoreHeartbeat: (to) => this.sendFrame(fromStoreId, to, () => undefined),
      sendSnapshot: (to, envelope, data, totalSizeBytes) =>
        this.transferSnapshot(fromStoreId, to, envelope, data, totalSizeBytes),
    };
  }

  /** One frame: lost, delayed, maybe duplicated; every arrival counts as hearing from the sender. */
  private sendFrame(from: number, to: number, deliver: (store: Store) => void): void {
    this.counters.framesSent++;
    const copies = this.random.chancePermille(this.conditions.duplicatePermille) ? 2 : 1;
    if (copies === 2) this.counters.framesDuplicated++;
    for (let i = 0; i < copies; i++) {
      if (!this.passes(from, to)) {
        this.counters.framesLost++;
        continue;
      }
      this.loop.after(this.delaySteps(), () => {
        const store = this.storeOf(to);
        if (store === undefined || !this.connected(from, to) || this.storeOf(from) === undefined) return;
        store.noteStoreHeard(from);
        deliver(store);
      });
    }
  }

  private passes(from: number, to: number): boolean {
    return (
      this.connected(from, to) &&
      this.storeOf(to) !== undefined &&
      !this.random.chancePermille(this.conditions.lossPermille)
    );
  }

  private delaySteps(): number {
    return 1 + this.random.intBetween(0, this.conditions.delayStepsMax);
  }

  private async transferSnapshot(
    from: number,
    to: number,
    envelope: RaftEnvelope,
    data: AsyncIterable<Uint8Array>,
    totalSizeBytes: number,
  ): Promise<void> {
    const chunks: Uint8Array[] = [];
    let sizeBytes = 0;
    for await (const chunk of data) {
      chunks.push(chunk);
      sizeBytes += chunk.length;
    }
    if (sizeBytes !== totalSizeBytes)
      throw new Error(`snapshot source gave ${sizeBytes} of ${totalSizeBytes} bytes`);
    const lost = !this.passes(from, to);
    await this.loop.sleep(this.delaySteps());
    const store = this.storeOf(to);
    if (lost || store === undefined || !this.connected(from, to)) {
      this.counters.snapshotsFailed++;
      throw new Error(`snapshot from store ${from} to store ${to} lost`);
    }
    await store.receiveSnapshot(envelope, chunksOf(chunks));
    this.counters.snapshotsDelivered++;
  }
}

function pushTo<T>(map: Map<number, T[]>, key: number, item: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [item]);
  else list.push(item);
}

async function* chunksOf(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
