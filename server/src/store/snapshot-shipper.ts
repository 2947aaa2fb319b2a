// Sends the 'snap' messages a round produced: the header is the message (its snapshot.data
// the descriptor), the body streams from the generator's kept engine view. Every send ends
// in exactly one status for the region's Raft node (reportSnapshot through the peer, in a
// later round): the follower stays in snapshot state until then.
import type { RaftEnvelope, RaftOutbox } from './store.js';
import type { SnapshotGenerator } from './snapshot-generator.js';

/** Snapshots streaming out of one store at once; more are reported failed (Raft retries). */
export const SNAPSHOT_SENDS_MAX = 8;

export interface SnapshotShipperDeps {
  readonly generator: SnapshotGenerator;
  readonly outbox: RaftOutbox;
  /** The outcome of a send, for the sending region's Raft node. */
  readonly onStatus: (regionId: number, toPeerId: number, ok: boolean) => void;
}

export class SnapshotShipper {
  private inFlightCount = 0;
  private sentCount = 0;
  private failedCount = 0;

  constructor(private readonly deps: SnapshotShipperDeps) {}

  ship(toStoreId: number, envelope: RaftEnvelope): void {
    const { regionId, message } = envelope;
    const meta = message.snapshot?.metadata;
    if (message.type !== 'snap' || meta === undefined)
      throw new Error(`region ${regionId}: shipping a '${message.type}' message as a snapshot`);
    const data = this.deps.generator.open(regionId, meta.index, meta.term);
    if (data === undefined || this.inFlightCount >= SNAPSHOT_SENDS_MAX) {
      data?.release();
      return this.settle(regionId, message.to, false);
    }
    this.inFlightCount++;
    this.deps.outbox.sendSnapshot(toStoreId, envelope, data.source, data.sizeBytes).then(
      () => this.finish(regionId, message.to, true, data.release),
      () => this.finish(regionId, message.to, false, data.release),
    );
  }

  private finish(regionId: number, toPeerId: number, ok: boolean, release: () => void): void {
    this.inFlightCount--;
    if (this.inFlightCount < 0) throw new Error('snapshot sends in flight went below zero');
    release();
    this.settle(regionId, toPeerId, ok);
  }

  private settle(regionId: number, toPeerId: number, ok: boolean): void {
    if (ok) this.sentCount++;
    else this.failedCount++;
    this.deps.onStatus(regionId, toPeerId, ok);
  }

  stats(): { inFlightCount: number; sentCount: number; failedCount: number } {
    return { inFlightCount: this.inFlightCount, sentCount: this.sentCount, failedCount: this.failedCount };
  }
}
