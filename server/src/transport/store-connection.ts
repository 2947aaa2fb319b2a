// The sending half of the Batch stream to ONE peer store: a bounded queue, a lazily opened
// long-lived stream, frames coalesced per flush and bounded in flight by acks, and
// reconnects with backoff. Nothing here blocks the caller: enqueue and flush are
// synchronous; connecting, acks and failures arrive as events. Heartbeats share the queue
// but leave in their compact form (CoalescedHeartbeat), all of a flush in the same frame;
// a ping with nothing queued writes an empty frame, so the peer store hears from us.
import * as grpc from '@grpc/grpc-js';
import { metapb, raftpb } from '@flotilla/proto';

import type { Backoff } from './backoff.js';
import type { BatchLimits } from './batch-limits.js';
import type { Clock, TimerHandle } from './clock.js';
import type { UnreachableCause } from './raft-transport.js';
import {
  estimateCoalescedHeartbeatSizeBytes,
  estimateRaftMessageSizeBytes,
  wireRegionId,
} from './raft-message-codec.js';

export interface StoreConnectionOptions {
  readonly localStoreId: number;
  readonly remoteStoreId: number;
  readonly resolveAddress: (storeId: number) => Promise<string>;
  readonly clock: Clock;
  readonly backoff: Backoff;
  readonly limits: BatchLimits;
  readonly channelOptions: grpc.ChannelOptions;
  /** Regions whose messages to this store were dropped or lost in a broken stream (raft-transport.ts). */
  readonly onUnreachable: (storeId: number, regionIds: readonly number[], cause: UnreachableCause) => void;
  /** How full this store's disk is, stamped on every frame (absent: normal). */
  readonly localDiskUsage?: () => metapb.DiskUsage;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export interface ConnectionStats {
  state: ConnectionState;
  queuedMessageCount: number;
  framesSentCount: number;
  messagesSentCount: number;
  /** Heartbeats and heartbeat responses sent in compact form (counted apart from messages). */
  heartbeatsSentCount: number;
  /** Empty frames written by ping() (store liveness). */
  pingsSentCount: number;
  messagesDroppedCount: number;
  framesLostCount: number;
  /** Messages the receiver acknowledged but could not hand to a region. */
  messagesDroppedByPeerCount: number;
  busyAckCount: number;
  connectAttemptCount: number;
  streamFailureCount: number;
  lastFailure: string | null;
}

type QueuedMessage =
  | { readonly kind: 'message'; readonly message: raftpb.RaftMessage; readonly sizeBytes: number }
  | {
      readonly kind: 'heartbeat';
      readonly heartbeat: raftpb.CoalescedHeartbeat;
      readonly isResponse: boolean;
      readonly sizeBytes: number;
    };

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
  /** ping() asked for a frame: written (empty if nothing is queued) as soon as the stream takes one. */
  private pingDue = false;
  private readonly statsRecord: ConnectionStats;

  constructor(private readonly options: StoreConnectionOptions) {
    this.statsRecord = {
      state: 'idle',
      queuedMessageCount: 0,
      framesSentCount: 0,
      messagesSentCount: 0,
      heartbeatsSentCount: 0,
      pingsSentCount: 0,
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
    return this.push({ kind: 'message', message, sizeBytes: estimateRaftMessageSizeBytes(message) });
  }

  /** Queues one heartbeat (or response) in compact form; bounded like messages. */
  enqueueHeartbeat(heartbeat: raftpb.CoalescedHeartbeat, isResponse: boolean): boolean {
    const sizeBytes = estimateCoalescedHeartbeatSizeBytes(heartbeat);
    return this.push({ kind: 'heartbeat', heartbeat, isResponse, sizeBytes });
  }

  private push(item: QueuedMessage): boolean {
    const { limits } = this.options;
    const full =
      this.queue.length >= limits.queueMessagesMax ||
      (this.queue.length > 0 && this.queuedSizeBytes + item.sizeBytes > limits.queueSizeBytesMax);
    if (this.state === 'closed' || full) {
      this.statsRecord.messagesDroppedCount += 1;
      this.droppedRegionIds.add(
        item.kind === 'message' ? wireRegionId(item.message) : wireRegionIdOf(item.heartbeat.regionId),
      );
      return false;
    }
    this.queue.push(item);
    this.queuedSizeBytes += item.sizeBytes;
    return true;
  }

  /** Asks for a frame to the peer store even if nothing is queued (store liveness), and flushes. */
  ping(): void {
    if (this.state === 'closed') return;
    this.pingDue = true;
    this.flush();
  }

  /** Writes what the stream can take now (opening it first if needed) and reports drops. */
  flush(): void {
    if (this.state === 'idle' && (this.queue.length > 0 || this.pingDue)) this.connect();
    if (this.state === 'open') this.writeFrames();
    if (this.droppedRegionIds.size > 0) {
      const regionIds = [...this.droppedRegionIds];
      this.droppedRegionIds = new Set();
      this.options.onUnreachable(this.options.remoteStoreId, regionIds, 'queueFull');
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
    while ((this.queue.length > 0 || this.pingDue) && this.inFlight.length < limits.framesInFlightMax) {
      const frame: raftpb.RaftMessageBatch = {
        fromStoreId: BigInt(localStoreId),
        toStoreId: BigInt(remoteStoreId),
        batchSeq: this.nextBatchSeq,
        messages: [],
        heartbeats: [],
        heartbeatResponses: [],
        fromDiskUsage: this.options.localDiskUsage?.() ?? metapb.DiskUsage.NORMAL,
      };
      const regionIds = new Set<number>();
      let frameSizeBytes = 0;
      let taken = 0;
      for (const queued of this.queue) {
        if (taken > 0 && frameSizeBytes + queued.sizeBytes > limits.frameSizeBytesMax) break;
        if (queued.kind === 'message') {
          frame.messages.push(queued.message);
          regionIds.add(wireRegionId(queued.message));
        } else {
          (queued.isResponse ? frame.heartbeatResponses : frame.heartbeats).push(queued.heartbeat);
          regionIds.add(wireRegionIdOf(queued.heartbeat.regionId));
        }
        frameSizeBytes += queued.sizeBytes;
        taken += 1;
      }
      this.queue = this.queue.slice(taken);
      this.queuedSizeBytes -= frameSizeBytes;
      this.nextBatchSeq += 1n;
      this.inFlight.push({ batchSeq: frame.batchSeq, regionIds: [...regionIds] });
      stream.write(frame);
      if (taken === 0) this.statsRecord.pingsSentCount += 1;
      this.pingDue = false;
      this.statsRecord.framesSentCount += 1;
      this.statsRecord.messagesSentCount += frame.messages.length;
      this.statsRecord.heartbeatsSentCount += frame.heartbeats.length + frame.heartbeatResponses.length;
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
      if (this.queue.length > 0 || this.pingDue) this.connect();
    }, this.options.backoff.nextDelayMs());
    if (lostRegionIds.size > 0)
      this.options.onUnreachable(this.options.remoteStoreId, [...lostRegionIds], 'streamLost');
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

function wireRegionIdOf(regionId: bigint): number {
  return regionId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(regionId) : 0;
}
