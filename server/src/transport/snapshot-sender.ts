// The sending side of Raft.Snapshot: a header, then the data cut into chunks of
// chunkSizeBytes with a CRC-32C each, respecting the stream's backpressure. At most
// sendsPerStoreMax transfers run per destination store; up to sendQueuePerStoreMax more
// wait for a slot and the rest are refused. Every failure is a SnapshotTransferError, so
// the store can report the snapshot as failed and let Raft retry it from scratch.
import { once } from 'node:events';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import type { Clock, TimerHandle } from './clock.js';
import { crc32c } from '../checksum/crc32c.js';
import { errorCodeOf } from './grpc-status.js';
import type { SnapshotSendLimits } from './snapshot-limits.js';
import { chunksOf } from './snapshot-chunks.js';
import type { SnapshotErrorCode } from './transport-errors.js';
import { SnapshotTransferError, isSnapshotErrorCode } from './transport-errors.js';

export type SnapshotSource = AsyncIterable<Uint8Array> | Uint8Array;

export interface SnapshotSenderOptions {
  readonly resolveAddress: (storeId: number) => Promise<string>;
  readonly clock: Clock;
  readonly limits: SnapshotSendLimits;
  readonly channelOptions: grpc.ChannelOptions;
}

export interface SnapshotSent {
  readonly regionId: number;
  readonly sentSizeBytes: number;
  readonly sentChunkCount: number;
}

interface StoreSlots {
  runningCount: number;
  // Invariant: waiting.length <= limits.sendQueuePerStoreMax.
  readonly waiting: Array<() => void>;
}

const FALLBACK_CODES: Partial<Record<grpc.status, SnapshotErrorCode>> = {
  [grpc.status.DATA_LOSS]: 'corrupt',
  [grpc.status.RESOURCE_EXHAUSTED]: 'receiverBusy',
  [grpc.status.INVALID_ARGUMENT]: 'protocol',
  [grpc.status.FAILED_PRECONDITION]: 'rejected',
  [grpc.status.DEADLINE_EXCEEDED]: 'timeout',
};

export class SnapshotSender {
  private readonly slots = new Map<number, StoreSlots>();
  private readonly active = new Set<OutgoingTransfer>();
  private closed = false;

  constructor(private readonly options: SnapshotSenderOptions) {}

  /** Snapshots to `storeId` streaming now and waiting for a slot. */
  load(storeId: number): { runningCount: number; waitingCount: number } {
    const slots = this.slots.get(storeId);
    return { runningCount: slots?.runningCount ?? 0, waitingCount: slots?.waiting.length ?? 0 };
  }

  async send(
    toStoreId: number,
    header: raftpb.RaftMessage,
    data: SnapshotSource,
    totalSizeBytes: number,
  ): Promise<SnapshotSent> {
    if (header.message?.type !== raftpb.MessageType.SNAP) {
      throw new SnapshotTransferError('rejected', 'the header must carry a snap message');
    }
    if (!Number.isSafeInteger(totalSizeBytes) || totalSizeBytes < 0) {
      throw new SnapshotTransferError(
        'rejected',
        `totalSizeBytes ${totalSizeBytes} is not a safe integer >= 0`,
      );
    }
    await this.acquire(toStoreId);
    const transfer = new OutgoingTransfer(this.options, toStoreId, header, totalSizeBytes);
    this.active.add(transfer);
    try {
      return await transfer.run(data);
    } finally {
      this.active.delete(transfer);
      this.release(toStoreId);
    }
  }

  /** Fails every running transfer with 'interrupted' and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const transfer of this.active) transfer.cancel('the transport is closing');
  }

  private async acquire(storeId: number): Promise<void> {
    if (this.closed) throw new SnapshotTransferError('interrupted', 'the transport is closed');
    const { sendsPerStoreMax, sendQueuePerStoreMax } = this.options.limits;
    let slots = this.slots.get(storeId);
    if (slots === undefined) {
      slots = { runningCount: 0, waiting: [] };
      this.slots.set(storeId, slots);
    }
    if (slots.runningCount < sendsPerStoreMax) {
      slots.runningCount += 1;
      return;
    }
    if (slots.waiting.length >= sendQueuePerStoreMax) {
      throw new SnapshotTransferError(
        'sendQueueFull',
        `${slots.runningCount} snapshots to store ${storeId} running and ${slots.waiting.length} waiting`,
      );
    }
    const waiting = slots.waiting;
    await new Promise<void>((resolve) => waiting.push(resolve));
    if (this.closed) {
      this.release(storeId);
      throw new SnapshotTransferError('interrupted', 'the transport is closed');
    }
  }

  /** Hands the slot to the next waiting transfer, or frees it. */
  private release(storeId: number): void {
    const slots = this.slots.get(storeId);
    if (slots === undefined || slots.runningCount < 1)
      throw new Error(`release of store ${storeId} without a slot`);
    const next = slots.waiting.shift();
    if (next !== undefined) {
      next(); // the slot passes on: runningCount stays
      return;
    }
    slots.runningCount -= 1;
    if (slots.runningCount === 0) this.slots.delete(storeId);
  }
}

/** One snapshot being streamed. */
class OutgoingTransfer {
  private readonly failed: Promise<never>;
  private failWith: (error: SnapshotTransferError) => void = () => {};
  /** The first failure, checked between chunks so a refused transfer stops reading its source. */
  private failure: SnapshotTransferError | null = null;
  private call: grpc.ClientWritableStream<raftpb.SnapshotChunk> | null = null;
  private client: raftpb.RaftClient | null = null;
  private stallTimer: TimerHandle | null = null;

  constructor(
    private readonly options: SnapshotSenderOptions,
    private readonly toStoreId: number,
    private readonly header: raftpb.RaftMessage,
    private readonly totalSizeBytes: number,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.failWith = (error) => {
        this.failure ??= error;
        reject(error);
      };
    });
    this.failed.catch(() => {});
  }

  cancel(reason: string): void {
    this.failWith(new SnapshotTransferError('interrupted', reason));
  }

  async run(data: SnapshotSource): Promise<SnapshotSent> {
    try {
      return await this.stream(data);
    } catch (err) {
      this.call?.cancel();
      if (err instanceof SnapshotTransferError) throw err;
      throw new SnapshotTransferError('io', `reading the snapshot data: ${String(err)}`);
    } finally {
      this.disarmStallTimer();
      this.client?.close();
    }
  }

  private async stream(data: SnapshotSource): Promise<SnapshotSent> {
    const { chunkSizeBytes } = this.options.limits;
    const address = await this.race(this.options.resolveAddress(this.toStoreId));
    const client = new raftpb.RaftClient(
      address,
      grpc.credentials.createInsecure(),
      this.options.channelOptions,
    );
    this.client = client;
    let settle: (err: grpc.ServiceError | null, done?: raftpb.SnapshotDone) => void = () => {};
    const answer = new Promise<raftpb.SnapshotDone>((resolve, reject) => {
      settle = (err, done) =>
        err !== null || done === undefined ? reject(toTransferError(err)) : resolve(done);
    });
    // A failed answer (e.g. the receiver found a bad chunk) aborts whatever the sender is waiting on.
    answer.catch((err: SnapshotTransferError) => this.failWith(err));
    const call = client.snapshot((err, done) => settle(err, done));
    this.call = call;
    await this.write(call, {
      payload: {
        $case: 'header',
        header: {
          message: this.header,
          totalSizeBytes: BigInt(this.totalSizeBytes),
          chunkSizeBytes: BigInt(chunkSizeBytes),
          checksumAlgorithm: raftpb.ChecksumAlgorithm.CRC32C,
        },
      },
    });
    let offsetBytes = 0;
    let chunkCount = 0;
    // The source is raced too: a source that stops yielding is a stall like any other.
    const chunks = chunksOf(data, chunkSizeBytes);
    for (
      let next = await this.race(chunks.next());
      next.done !== true;
      next = await this.race(chunks.next())
    ) {
      const chunk = next.value;
      if (this.failure !== null) throw this.failure;
      if (offsetBytes + chunk.length > this.totalSizeBytes) {
        throw new SnapshotTransferError(
          'protocol',
          `the data is longer than totalSizeBytes ${this.totalSizeBytes}`,
        );
      }
      const frame = {
        offsetBytes: BigInt(offsetBytes),
        data: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        crc32c: crc32c(chunk),
      };
      await this.write(call, { payload: { $case: 'data', data: frame } });
      offsetBytes += chunk.length;
      chunkCount += 1;
    }
    if (offsetBytes !== this.totalSizeBytes) {
      throw new SnapshotTransferError(
        'protocol',
        `the data has ${offsetBytes} bytes, not ${this.totalSizeBytes}`,
      );
    }
    call.end();
    const done = await this.race(answer);
    if (done.receivedSizeBytes !== BigInt(offsetBytes) || done.receivedChunkCount !== chunkCount) {
      throw new SnapshotTransferError('protocol', `receiver counted ${done.receivedSizeBytes} bytes`);
    }
    return { regionId: Number(this.header.regionId), sentSizeBytes: offsetBytes, sentChunkCount: chunkCount };
  }

  /** Writes one frame, waiting for the stream to drain when its buffer is full. */
  private async write(
    call: grpc.ClientWritableStream<raftpb.SnapshotChunk>,
    chunk: raftpb.SnapshotChunk,
  ): Promise<void> {
    if (!call.write(chunk)) await this.race(once(call, 'drain'));
  }

  /** Waits for `work`, failing instead when the call fails or nothing progresses within the stall timeout. */
  private async race<T>(work: Promise<T>): Promise<T> {
    this.disarmStallTimer();
    const timeoutMs = this.options.limits.stallTimeoutMs;
    this.stallTimer = this.options.clock.setTimeout(() => {
      this.failWith(new SnapshotTransferError('timeout', `no progress for ${timeoutMs} ms`));
    }, timeoutMs);
    work.catch(() => {});
    try {
      return await Promise.race([work, this.failed]);
    } finally {
      this.disarmStallTimer();
    }
  }

  private disarmStallTimer(): void {
    if (this.stallTimer !== null) this.options.clock.clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }
}

function toTransferError(err: grpc.ServiceError | null): SnapshotTransferError {
  if (err === null)
    return new SnapshotTransferError('protocol', 'the receiver answered without a SnapshotDone');
  const code = errorCodeOf(err);
  if (code !== null && isSnapshotErrorCode(code)) return new SnapshotTransferError(code, err.details);
  const fallback = FALLBACK_CODES[err.code] ?? 'interrupted';
  return new SnapshotTransferError(fallback, `${grpc.status[err.code]}: ${err.details}`);
}
