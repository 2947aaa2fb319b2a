// The store's handle on store-to-store Raft traffic: messages go into a bounded queue per
// destination store and leave on flush() as one coalesced frame per store over a
// long-lived Batch stream (heartbeats in compact form, see sendHeartbeat); snapshots go over their own Snapshot streams. send() and
// flush() are synchronous and never wait on the network, so the store loop never blocks.
import type * as grpc from '@grpc/grpc-js';
import type { metapb, raftpb } from '@flotilla/proto';

import { BACKOFF_MS_MAX_DEFAULT, BACKOFF_MS_MIN_DEFAULT, Backoff } from './backoff.js';
import type { BatchLimits } from './batch-limits.js';
import { BATCH_LIMITS_DEFAULT } from './batch-limits.js';
import type { Clock, JitterSource } from './clock.js';
import { systemClock, systemJitter } from './clock.js';
import type { SnapshotSendLimits } from './snapshot-limits.js';
import { SNAPSHOT_SEND_LIMITS_DEFAULT, validatePositiveIntegers } from './snapshot-limits.js';
import type { SnapshotSent, SnapshotSource } from './snapshot-sender.js';
import { SnapshotSender } from './snapshot-sender.js';
import type { ConnectionStats } from './store-connection.js';
import { StoreConnection } from './store-connection.js';
import type { CoalescedHeartbeatRecord } from './raft-message-codec.js';
import { encodeCoalescedHeartbeat } from './raft-message-codec.js';

export interface RaftTransportOptions {
  /** This store. */
  readonly storeId: number;
  /** Address ("host:port") of a store; PD later, a static map for now. A rejection counts as a failed connect. */
  readonly resolveAddress: (storeId: number) => Promise<string>;
  /**
   * Messages for these regions to `storeId` were dropped (queue full) or lost with a broken
   * stream: call RawNode.reportUnreachable for the peer on that store in each region.
   * Called at the end of flush() for drops, and from a network event for lost frames.
   */
  readonly onUnreachable: (storeId: number, regionIds: readonly number[], cause: UnreachableCause) => void;
  /** How full this store's disk is, stamped on every frame so peers' leaders know (absent: normal). */
  readonly localDiskUsage?: () => metapb.DiskUsage;
  readonly clock?: Clock;
  readonly jitter?: JitterSource;
  readonly backoffMsMin?: number;
  readonly backoffMsMax?: number;
  readonly batchLimits?: Partial<BatchLimits>;
  readonly snapshotLimits?: Partial<SnapshotSendLimits>;
  /** Extra grpc-js channel options of the client connections. */
  readonly channelOptions?: grpc.ChannelOptions;
}

/**
 * Why messages to a store did not get through. 'queueFull': this store sends faster than the
 * stream drains (or the transport is closed), which says nothing about the peer store being
 * down; 'streamLost': frames were lost with a broken stream (the peer store may be down).
 */
export type UnreachableCause = 'queueFull' | 'streamLost';

/** Destination stores one transport keeps connections to; a cluster is far smaller. */
export const PEER_STORES_MAX = 4_096;

export class RaftTransport {
  private readonly connections = new Map<number, StoreConnection>();
  private readonly batchLimits: BatchLimits;
  private readonly clock: Clock;
  private readonly jitter: JitterSource;
  private readonly snapshots: SnapshotSender;
  private closed = false;

  constructor(private readonly options: RaftTransportOptions) {
    if (!Number.isSafeInteger(options.storeId) || options.storeId < 1) {
      throw new RangeError(`RaftTransportOptions.storeId must be a positive integer, got ${options.storeId}`);
    }
    this.batchLimits = validatePositiveIntegers('BatchLimits', {
      ...BATCH_LIMITS_DEFAULT,
      ...options.batchLimits,
    });
    this.clock = options.clock ?? systemClock;
    this.jitter = options.jitter ?? systemJitter;
    // Validates backoffMsMin/Max up front rather than at the first failure.
    this.newBackoff();
    this.snapshots = new SnapshotSender({
      resolveAddress: options.resolveAddress,
      clock: this.clock,
      limits: validatePositiveIntegers('SnapshotSendLimits', {
        ...SNAPSHOT_SEND_LIMITS_DEFAULT,
        ...options.snapshotLimits,
      }),
      channelOptions: options.channelOptions ?? {},
    });
  }

  /**
   * Queues a message for `toStoreId`. Returns false when that store's queue is full (or the
   * transport is closed): the message is dropped and its region reported unreachable at the
   * next flush(). Raft recovers from dropped messages; a dropped snap must be reported as a
   * failed snapshot by the caller.
   */
  send(toStoreId: number, message: raftpb.RaftMessage): boolean {
    this.checkDestination(toStoreId);
    return this.connection(toStoreId).enqueue(message);
  }

  private checkDestination(toStoreId: number): void {
    if (!Number.isSafeInteger(toStoreId) || toStoreId < 1 || toStoreId === this.options.storeId) {
      throw new RangeError(
        `send: invalid destination store ${toStoreId} (this is store ${this.options.storeId})`,
      );
    }
  }

  /**
   * Queues a heartbeat or heartbeat response for `toStoreId` in compact form; it leaves in
   * the same frame as the other messages of the flush. False when the queue is full.
   */
  sendHeartbeat(toStoreId: number, heartbeat: CoalescedHeartbeatRecord): boolean {
    this.checkDestination(toStoreId);
    return this.connection(toStoreId).enqueueHeartbeat(
      encodeCoalescedHeartbeat(heartbeat),
      heartbeat.isResponse,
    );
  }

  /** Makes sure `toStoreId` hears from this store soon: an empty frame if nothing else is queued. */
  ping(toStoreId: number): void {
    this.checkDestination(toStoreId);
    this.connection(toStoreId).ping();
  }

  /** Sends everything queued: one frame per destination store (more only past frameSizeBytesMax). */
  flush(): void {
    for (const connection of this.connections.values()) connection.flush();
  }

  /**
   * Streams a snapshot to `toStoreId`: `header` is the complete 'snap' RaftMessage (its
   * snapshot.data the small descriptor), `data` the bulk of exactly `totalSizeBytes`.
   * Resolves once the receiver verified it and its store took it; rejects with a
   * SnapshotTransferError otherwise (then call RawNode.reportSnapshot(peer, false)).
   */
  sendSnapshot(
    toStoreId: number,
    header: raftpb.RaftMessage,
    data: SnapshotSource,
    totalSizeBytes: number,
  ): Promise<SnapshotSent> {
    return this.snapshots.send(toStoreId, header, data, totalSizeBytes);
  }

  stats(): Map<number, ConnectionStats> {
    const stats = new Map<number, ConnectionStats>();
    for (const [storeId, connection] of this.connections) stats.set(storeId, connection.stats());
    return stats;
  }

  /** Closes every stream and fails running snapshot transfers; later sends return false. */
  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.snapshots.close();
  }

  private connection(storeId: number): StoreConnection {
    let connection = this.connections.get(storeId);
    if (connection !== undefined) return connection;
    if (this.connections.size >= PEER_STORES_MAX) {
      throw new RangeError(`more than ${PEER_STORES_MAX} destination stores`);
    }
    connection = new StoreConnection({
      localStoreId: this.options.storeId,
      remoteStoreId: storeId,
      resolveAddress: this.options.resolveAddress,
      clock: this.clock,
      backoff: this.newBackoff(),
      limits: this.batchLimits,
      channelOptions: this.options.channelOptions ?? {},
      onUnreachable: this.options.onUnreachable,
      localDiskUsage: this.options.localDiskUsage,
    });
    if (this.closed) connection.close();
    this.connections.set(storeId, connection);
    return connection;
  }

  private newBackoff(): Backoff {
    return new Backoff({
      backoffMsMin: this.options.backoffMsMin ?? BACKOFF_MS_MIN_DEFAULT,
      backoffMsMax: this.options.backoffMsMax ?? BACKOFF_MS_MAX_DEFAULT,
      jitter: this.jitter,
    });
  }
}
