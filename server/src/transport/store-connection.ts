// The sending half of the Batch stream to ONE peer store: a bounded queue, a lazily opened
// long-lived stream, frames coalesced per flush and bounded in flight by acks, and
// reconnects with backoff. Nothing here blocks the caller: enqueue and flush are
// synchronous; connecting, acks and failures arrive as events.
import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import type { Backoff } from './backoff.js';
import type { BatchLimits } from './batch-limits.js';
import type { Clock, TimerHandle } from './clock.js';
import { estimateRaftMessageSizeBytes, wireRegionId } from './raft-message-codec.js';

export interface StoreConnectionOptions {
  readonly localStoreId: number;
  readonly remoteStoreId: number;
  readonly resolveAddress: (storeId: number) => Promise<string>;
  readonly clock: Clock;
  readonly backoff: Backoff;
  readonly limits: BatchLimits;
  readonly channelOptions: grpc.ChannelOptions;
  /** Regions whose messages to this store were dropped or lost in a broken stream. */
  readonly onUnreachable: (storeId: number, regionIds: readonly number[]) => void;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export interface ConnectionStats {
  state: ConnectionState;
  queuedMessageCount: number;
  framesSentCount: number;
  messagesSentCount: number;
  messagesDroppedCount: number;
  framesLostCount: number;
  /** Messages the receiver acknowledged but could not hand to a region. */
  messagesDroppedByPeerCount: number;
  busyAckCount: number;
  connectAttemptCount: number;
  streamFailureCount: number;
  lastFailure: string | null;
}

interface QueuedMessage {
  readonly message: raftpb.RaftMessage;
  readonly sizeBytes: number;
}

interface FrameInFlight {
  readonly batchSeq: bigint;
  readonly regionIds: readonly number[];
}

export class StoreConnection {
  private state: ConnectionState = 'idle';
  private queue: QueuedMessage[] = [];
  private queuedSizeBytes = 0;
  // Invariant: inFlight.length <= limits.framesInFlightMax, batch_seq ascending.
  private inFlight: FrameInFlight[] = [];
  private nextBatchSeq = 1n;
  private droppedRegionIds = new Set<number>();
  private client: raftpb.RaftClient | null = null;
  private stream: grpc.ClientDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck> | null = null;
  /** Bumped on every attempt so events of an abandoned stream are ignored. */
  private generation = 0;
  private timer: TimerHandle | null = null;
  private ackTimer: TimerHandle | null = null;
  private pausedForBusy = false;
  private readonly statsRecord: ConnectionStats;

  constructor(private readonly options: StoreConnectionOptions) {
    this.statsRecord = {
      state: 'idle',
      queuedMessageCount: 0,
      framesSentCount: 0,
      messagesSentCount: 0,
      messagesDroppedCount: 0,
      framesLostCount: 0,
      messagesDroppedByPeerCount: 0,
      busyAckCount: 0,
      connectAttemptCount: 0,
      streamFailureCount: 0,
      lastFailure: null,
    };
  }

  /** Queues one message; false (and a drop to report at the next flush) when the queue is full. */
  enqueue(message: raftpb.RaftMessage): boolean {
    const { limits } = this.options;
    const sizeBytes = estimateRaftMessageSizeBytes(message);
    const full =
      this.queue.length >= limits.queueMessagesMax ||
      (this.queue.length > 0 && this.queuedSizeBytes + sizeBytes > limits.queueSizeBytesMax);
    if (this.state === 'closed' || full) {
      this.statsRecord.messagesDroppedCount += 1;
      this.droppedRegionIds.add(wireRegionId(message));
      return false;
    }
    this.queue.push({ message, sizeBytes });
    this.queuedSizeBytes += sizeBytes;
    return true;
  }

  /** Writes what the stream can take now (opening it first if needed) and reports drops. */
  flush(): void {
    if (this.state === 'idle' && this.queue.length > 0) this.connect();
    if (this.state === 'open') this.writeFrames();
    if (this.droppedRegionIds.size > 0) {
      const regionIds = [...this.droppedRegionIds];
      this.droppedRegionIds = new Set();
      this.options.onUnreachable(this.options.remoteStoreId, regionIds);
    }
  }

  stats(): ConnectionStats {
    return { ...this.statsRecord, state: this.state, queuedMessageCount: this.queue.length };
  }

  close(): void {
    this.state = 'closed';
    this.generation += 1;
    this.clearTimers();
    this.teardownStream();
    this.queue = [];
    this.queuedSizeBytes = 0;
    this.inFlight = [];
  }

  // ----- writing ---------------------------------------------------------------------------

  private writeFrames(): void {
    const { limits, localStoreId, remoteStoreId } = this.options;
    const stream = this.stream;
    if (stream === null || this.pausedForBusy) return;
    while (this.queue.length > 0 && this.inFlight.length < limits.framesInFlightMax) {
      const messages: raftpb.RaftMessage[] = [];
      const regionIds = new Set<number>();
      let frameSizeBytes = 0;
      let taken = 0;
      for (const queued of this.queue) {
        if (taken > 0 && frameSizeBytes + queued.sizeBytes > limits.frameSizeBytesMax) break;
        messages.push(queued.message);
        regionIds.add(wireRegionId(queued.message));
        frameSizeBytes += queued.sizeBytes;
        taken += 1;
      }
      this.queue = this.queue.slice(taken);
      this.queuedSizeBytes -= frameSizeBytes;
      const batchSeq = this.nextBatchSeq;
      this.nextBatchSeq += 1n;
      this.inFlight.push({ batchSeq, regionIds: [...regionIds] });
      stream.write({
        fromStoreId: BigInt(localStoreId),
        toStoreId: BigInt(remoteStoreId),
        batchSeq,
        messages,
      });
      this.statsRecord.framesSentCount += 1;
      this.statsRecord.messagesSentCount += messages.length;
      if (this.ackTimer === null) this.armAckTimer();
    }
    if (this.queue.length === 0 && this.queuedSizeBytes !== 0) {
      throw new Error(
        `store connection ${remoteStoreId}: queue empty but ${this.queuedSizeBytes} bytes counted`,
      );
    }
  }

  private onAck(ack: raftpb.BatchAck): void {
    const first = this.inFlight[0];
    if (first === undefined || ack.batchSeq < first.batchSeq || ack.batchSeq >= this.nextBatchSeq) {
      this.failStream(`ack for batch_seq ${ack.batchSeq} outside the frames in flight`);
      return;
    }
    this.inFlight = this.inFlight.filter((frame) => frame.batchSeq > ack.batchSeq);
    this.options.backoff.reset();
    this.statsRecord.messagesDroppedByPeerCount += ack.droppedMessageCount;
    this.disarmAckTimer();
    if (this.inFlight.length > 0) this.armAckTimer();
    if (ack.isBusy) {
      this.statsRecord.busyAckCount += 1;
      this.pauseForBusy();
      return;
    }
    this.writeFrames();
  }

  private pauseForBusy(): void {
    if (this.pausedForBusy) return;
    this.pausedForBusy = true;
    const generation = this.generation;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      if (generation !== this.generation) return;
      this.pausedForBusy = false;
      this.writeFrames();
    }, this.options.limits.busyBackoffMs);
  }

  // ----- connecting and failing ------------------------------------------------------------

  private connect(): void {
    this.state = 'connecting';
    this.statsRecord.connectAttemptCount += 1;
    const generation = ++this.generation;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      if (generation === this.generation) this.failStream('timed out opening the stream');
    }, this.options.limits.connectTimeoutMs);
    this.options.resolveAddress(this.options.remoteStoreId).then(
      (address) => {
        if (generation === this.generation) this.openStream(address, generation);
      },
      (err: unknown) => {
        if (generation === this.generation) this.failStream(`cannot resolve the address: ${String(err)}`);
      },
    );
  }

  private openStream(address: string, generation: number): void {
    const client = new raftpb.RaftClient(
      address,
      grpc.credentials.createInsecure(),
      this.options.channelOptions,
    );
    const stream = client.batch();
    this.nextBatchSeq = 1n; // batch_seq counts frames per stream
    this.client = client;
    this.stream = stream;
    // The server sends its headers as soon as it accepts the stream: that is the open signal.
    stream.on('metadata', () => {
      if (generation !== this.generation || this.state !== 'connecting') return;
      this.state = 'open';
      this.clearTimer();
      this.writeFrames();
    });
    stream.on('data', (ack: raftpb.BatchAck) => {
      if (generation === this.generation && this.state === 'open') this.onAck(ack);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (generation === this.generation) this.failStream(`stream failed: ${err.code} ${err.details}`);
    });
    stream.on('end', () => {
      if (generation === this.generation) this.failStream('the peer ended the stream');
    });
  }

  /** Drops the stream, reports the regions of unacknowledged frames, and retries after a backoff delay. */
  private failStream(reason: string): void {
    if (this.state === 'closed') return;
    this.generation += 1;
    this.clearTimers();
    this.teardownStream();
    this.statsRecord.streamFailureCount += 1;
    this.statsRecord.lastFailure = reason;
    const lost = this.inFlight;
    this.inFlight = [];
    this.pausedForBusy = false;
    this.statsRecord.framesLostCount += lost.length;
    const lostRegionIds = new Set(lost.flatMap((frame) => frame.regionIds));
    this.state = 'backoff';
    const generation = this.generation;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      if (generation !== this.generation) return;
      this.state = 'idle';
      if (this.queue.length > 0) this.connect();
    }, this.options.backoff.nextDelayMs());
    if (lostRegionIds.size > 0) this.options.onUnreachable(this.options.remoteStoreId, [...lostRegionIds]);
  }

  private teardownStream(): void {
    const stream = this.stream;
    const client = this.client;
    this.stream = null;
    this.client = null;
    if (stream !== null) {
      stream.removeAllListeners('data');
      stream.on('error', () => {}); // a cancelled call still reports CANCELLED
      stream.cancel();
    }
    client?.close();
  }

  private armAckTimer(): void {
    const generation = this.generation;
    this.ackTimer = this.options.clock.setTimeout(() => {
      this.ackTimer = null;
      if (generation === this.generation) this.failStream('no ack within the ack timeout');
    }, this.options.limits.ackTimeoutMs);
  }

  private disarmAckTimer(): void {
    if (this.ackTimer !== null) this.options.clock.clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  private clearTimer(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private clearTimers(): void {
    this.clearTimer();
    this.disarmAckTimer();
  }
}
