// The receiving side of store-to-store Raft traffic: grpc-js handlers of the `Raft`
// service. Batch frames are checked (addressed to this store, one sender, batch_seq
// consecutive), their messages decoded and handed to the store synchronously, and every
// frame is acknowledged by batch_seq. Coalesced heartbeats are decoded and handed over
// after the frame's messages; every accepted frame, an empty one (a ping) included, tells
// the store its sender is alive. Snapshot streams go to the SnapshotReceiver.
import * as grpc from '@grpc/grpc-js';
import type { metapb, raftpb } from '@flotilla/proto';

import type { CoalescedHeartbeatRecord, RegionRaftMessage } from './raft-message-codec.js';
import { decodeCoalescedHeartbeat, decodeRegionRaftMessage } from './raft-message-codec.js';
import type { SnapshotReceiver } from './snapshot-receiver.js';
import { statusError } from './grpc-status.js';
import { TransportDecodeError } from './transport-errors.js';

/** What the store reports back for one frame; both fields default to "all delivered, not busy". */
export interface BatchDelivery {
  /** Messages of the frame the store could not hand to a region (unknown region, full mailbox). */
  readonly droppedMessageCount?: number;
  /** The store is shedding load; the sender should slow down. */
  readonly isBusy?: boolean;
}

export interface RaftServiceOptions {
  readonly storeId: number;
  /** Called synchronously, once per frame, with the frame's decodable messages in order. */
  readonly onMessages: (fromStoreId: number, messages: RegionRaftMessage[]) => BatchDelivery | void;
  /** Called synchronously after onMessages with the frame's decodable coalesced heartbeats (if any). */
  readonly onHeartbeats?: (
    fromStoreId: number,
    heartbeats: CoalescedHeartbeatRecord[],
  ) => BatchDelivery | void;
  /** Called for every accepted frame, before its messages: the sending store is alive. */
  readonly onHeard?: (fromStoreId: number, fromDiskUsage: metapb.DiskUsage) => void;
  /** A message that failed to decode or was addressed to a peer on another store; it is dropped. */
  readonly onBadMessage?: (fromStoreId: number, error: TransportDecodeError) => void;
  /** Receives snapshot streams; null answers Snapshot calls with UNIMPLEMENTED. */
  readonly snapshotReceiver: SnapshotReceiver | null;
}

/** Why a Batch stream was closed by this side (carried in the trailers). */
export type BatchStreamErrorCode = 'storeMismatch' | 'badSender' | 'batchSeqGap' | 'deliveryFailed';

export function createRaftServiceHandlers(options: RaftServiceOptions): raftpb.RaftServer {
  if (!Number.isSafeInteger(options.storeId) || options.storeId < 1) {
    throw new RangeError(`RaftServiceOptions.storeId must be a positive integer, got ${options.storeId}`);
  }
  return {
    batch: (call) => handleBatchStream(options, call),
    snapshot: (call, callback) => {
      if (options.snapshotReceiver === null) {
        callback(statusError(grpc.status.UNIMPLEMENTED, 'this store receives no snapshots', 'unimplemented'));
        return;
      }
      options.snapshotReceiver.handle(call, callback);
    },
  };
}

function handleBatchStream(
  options: RaftServiceOptions,
  call: grpc.ServerDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck>,
): void {
  let fromStoreId: bigint | null = null;
  let lastBatchSeq = 0n;
  let closed = false;
  const close = (code: BatchStreamErrorCode, details: string): void => {
    closed = true;
    call.emit('error', statusError(grpc.status.FAILED_PRECONDITION, details, code));
  };
  // Headers right away: the sender treats them as "stream accepted" before writing frames.
  call.sendMetadata(new grpc.Metadata());
  call.on('data', (frame: raftpb.RaftMessageBatch) => {
    if (closed) return;
    if (frame.toStoreId !== BigInt(options.storeId)) {
      close('storeMismatch', `frame addressed to store ${frame.toStoreId} reached store ${options.storeId}`);
      return;
    }
    const senderOk = frame.fromStoreId > 0n && frame.fromStoreId <= BigInt(Number.MAX_SAFE_INTEGER);
    if (!senderOk || (fromStoreId !== null && frame.fromStoreId !== fromStoreId)) {
      close('badSender', `from_store_id ${frame.fromStoreId} after ${fromStoreId ?? 'none'} on one stream`);
      return;
    }
    if (frame.batchSeq !== lastBatchSeq + 1n) {
      close('batchSeqGap', `batch_seq ${frame.batchSeq} after ${lastBatchSeq}: frames must be consecutive`);
      return;
    }
    fromStoreId = frame.fromStoreId;
    lastBatchSeq = frame.batchSeq;
    let delivery: { droppedMessageCount: number; isBusy: boolean };
    try {
      options.onHeard?.(Number(frame.fromStoreId), frame.fromDiskUsage);
      delivery = deliverFrame(options, Number(frame.fromStoreId), frame);
    } catch (err) {
      // A throwing store handler is a bug on this side; the sender sees it in the status instead of a crash here.
      closed = true;
      const details = `onMessages threw: ${err instanceof Error ? err.message : String(err)}`;
      call.emit('error', statusError(grpc.status.INTERNAL, details, 'deliveryFailed'));
      return;
    }
    call.write({
      batchSeq: frame.batchSeq,
      droppedMessageCount: delivery.droppedMessageCount,
      isBusy: delivery.isBusy,
    });
  });
  call.on('end', () => {
    if (!closed) call.end();
  });
  call.on('error', () => {
    closed = true;
  });
}

function deliverFrame(
  options: RaftServiceOptions,
  fromStoreId: number,
  frame: raftpb.RaftMessageBatch,
): { droppedMessageCount: number; isBusy: boolean } {
  const messages: RegionRaftMessage[] = [];
  let badCount = 0;
  for (const [i, m] of frame.messages.entries()) {
    try {
      const decoded = decodeRegionRaftMessage(m);
      if (decoded.toPeer.storeId !== options.storeId) {
        throw new TransportDecodeError(
          'toPeer.storeId',
          `peer of store ${decoded.toPeer.storeId}, not this store`,
        );
      }
      messages.push(decoded);
    } catch (err) {
      if (!(err instanceof TransportDecodeError)) throw err;
      badCount += 1;
      options.onBadMessage?.(
        fromStoreId,
        new TransportDecodeError(`messages[${i}].${err.field}`, err.reason),
      );
    }
  }
  const delivery = messages.length > 0 ? options.onMessages(fromStoreId, messages) : undefined;
  const heartbeats = decodeHeartbeats(options, fromStoreId, frame);
  const hbDelivery =
    heartbeats.records.length > 0 ? options.onHeartbeats?.(fromStoreId, heartbeats.records) : undefined;
  const droppedByStore = (delivery?.droppedMessageCount ?? 0) + (hbDelivery?.droppedMessageCount ?? 0);
  return {
    droppedMessageCount: badCount + heartbeats.badCount + droppedByStore,
    isBusy: (delivery?.isBusy ?? false) || (hbDelivery?.isBusy ?? false),
  };
}

function decodeHeartbeats(
  options: RaftServiceOptions,
  fromStoreId: number,
  frame: raftpb.RaftMessageBatch,
): { records: CoalescedHeartbeatRecord[]; badCount: number } {
  const records: CoalescedHeartbeatRecord[] = [];
  let badCount = 0;
  const lists = [
    ['heartbeats', frame.heartbeats, false],
    ['heartbeatResponses', frame.heartbeatResponses, true],
  ] as const;
  for (const [name, list, isResponse] of lists) {
    for (const [i, h] of list.entries()) {
      try {
        records.push(decodeCoalescedHeartbeat(h, isResponse, `${name}[${i}]`));
      } catch (err) {
        if (!(err instanceof TransportDecodeError)) throw err;
        badCount += 1;
        options.onBadMessage?.(fromStoreId, err);
      }
    }
  }
  return { records, badCount };
}
