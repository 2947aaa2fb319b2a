// The receiving side of Raft.Snapshot: verifies a header and then data chunks (in order,
// contiguous offsets, CRC-32C each, exact total size) while writing them to a temp file,
// and hands the file to the store only once everything checked out. At most receivesMax
// transfers run at once; memory stays bounded because the stream is read one chunk at a
// time (the next chunk is not pulled before the previous one is on disk).
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import type { Clock, TimerHandle } from './clock.js';
import { crc32c } from '../checksum/crc32c.js';
import { statusError } from './grpc-status.js';
import type { RegionRaftMessage } from './raft-message-codec.js';
import { decodeRegionRaftMessage } from './raft-message-codec.js';
import type { SnapshotReceiveLimits } from './snapshot-limits.js';
import type { SnapshotErrorCode } from './transport-errors.js';
import { SnapshotTransferError, TransportDecodeError } from './transport-errors.js';

export const PARTIAL_FILE_SUFFIX = '.part';

export interface ReceivedSnapshot {
  /** The decoded 'snap' message of the header (its snapshot.data is the descriptor). */
  readonly message: RegionRaftMessage;
  /** The verified data, complete and fsynced. The store owns the file once onSnapshot is called. */
  readonly filePath: string;
  readonly sizeBytes: number;
}

export interface SnapshotReceiverOptions {
  readonly storeId: number;
  /** Where temp files go; created if missing. Use the same file system as the store's snapshot dir. */
  readonly directory: string;
  /**
   * Takes a verified snapshot: move/apply the file atomically, then step the message. When
   * it throws or rejects, the receiver deletes the file (if still there) and fails the transfer.
   */
  readonly onSnapshot: (snapshot: ReceivedSnapshot) => Promise<void> | void;
  /** Every failed transfer, after its partial file was removed. */
  readonly onSnapshotFailed?: (regionId: number | null, error: SnapshotTransferError) => void;
  readonly clock: Clock;
  readonly limits: SnapshotReceiveLimits;
}

const GRPC_STATUS_BY_CODE: Record<SnapshotErrorCode, grpc.status> = {
  sendQueueFull: grpc.status.RESOURCE_EXHAUSTED,
  receiverBusy: grpc.status.RESOURCE_EXHAUSTED,
  corrupt: grpc.status.DATA_LOSS,
  protocol: grpc.status.INVALID_ARGUMENT,
  rejected: grpc.status.FAILED_PRECONDITION,
  timeout: grpc.status.DEADLINE_EXCEEDED,
  interrupted: grpc.status.CANCELLED,
  io: grpc.status.INTERNAL,
  applyFailed: grpc.status.INTERNAL,
};

type SnapshotCall = grpc.ServerReadableStream<raftpb.SnapshotChunk, raftpb.SnapshotDone>;

interface Verified {
  readonly message: RegionRaftMessage;
  readonly totalSizeBytes: number;
  readonly chunkSizeBytes: number;
}

export class SnapshotReceiver {
  private activeCount = 0;
  private fileSeq = 0;

  constructor(private readonly options: SnapshotReceiverOptions) {}

  /** Transfers running now. */
  get receivingCount(): number {
    return this.activeCount;
  }

  /** Deletes partial files a crashed process left behind; call once at startup. */
  async removeStalePartialFiles(): Promise<number> {
    await mkdir(this.options.directory, { recursive: true });
    const names = await readdir(this.options.directory);
    const stale = names.filter((name) => name.startsWith('snapshot-') && name.endsWith(PARTIAL_FILE_SUFFIX));
    await Promise.all(stale.map((name) => unlink(join(this.options.directory, name))));
    return stale.length;
  }

  /** The grpc-js handler of Raft.Snapshot. */
  handle(call: SnapshotCall, callback: grpc.sendUnaryData<raftpb.SnapshotDone>): void {
    if (this.activeCount >= this.options.limits.receivesMax) {
      const error = new SnapshotTransferError(
        'receiverBusy',
        `store ${this.options.storeId} is already receiving ${this.activeCount} snapshots`,
      );
      this.options.onSnapshotFailed?.(null, error);
      callback(statusError(GRPC_STATUS_BY_CODE[error.code], error.message, error.code));
      return;
    }
    this.activeCount += 1;
    const transfer = new IncomingTransfer(this.options, call, () => this.nextFileName());
    transfer.run().then(
      (done) => {
        this.activeCount -= 1;
        callback(null, done);
      },
      (err: unknown) => {
        this.activeCount -= 1;
        const error =
          err instanceof SnapshotTransferError
            ? err
            : new SnapshotTransferError('io', `unexpected: ${String(err)}`);
        this.options.onSnapshotFailed?.(transfer.regionId, error);
        callback(statusError(GRPC_STATUS_BY_CODE[error.code], error.message, error.code));
      },
    );
  }

  private nextFileName(): string {
    this.fileSeq += 1;
    return `snapshot-${this.options.clock.nowMs()}-${this.fileSeq}${PARTIAL_FILE_SUFFIX}`;
  }
}

/** One snapshot stream being received. */
class IncomingTransfer {
  regionId: number | null = null;
  private file: FileHandle | null = null;
  private filePath: string | null = null;
  private readonly aborted: Promise<never>;
  private abort: (error: SnapshotTransferError) => void = () => {};
  private stallTimer: TimerHandle | null = null;
  private readonly frames: FrameReader;

  constructor(
    private readonly options: SnapshotReceiverOptions,
    private readonly call: SnapshotCall,
    private readonly nextFileName: () => string,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.abort = reject;
    });
    this.aborted.catch(() => {});
    this.frames = new FrameReader(call);
    call.on('cancelled', () => this.abort(new SnapshotTransferError('interrupted', 'the sender cancelled')));
    call.on('error', (err) =>
      this.abort(new SnapshotTransferError('interrupted', `stream error: ${err.message}`)),
    );
  }

  async run(): Promise<raftpb.SnapshotDone> {
    try {
      return await this.receive();
    } catch (err) {
      await this.discardFile();
      throw err;
    } finally {
      this.disarmStallTimer();
    }
  }

  private async receive(): Promise<raftpb.SnapshotDone> {
    const first = await this.nextFrame();
    if (first?.payload?.$case !== 'header') throw fail('protocol', 'the first frame must be a header');
    const header = this.verifyHeader(first.payload.header);
    this.regionId = header.message.regionId;
    await this.openFile();
    let receivedSizeBytes = 0;
    let receivedChunkCount = 0;
    for (let frame = await this.nextFrame(); frame !== null; frame = await this.nextFrame()) {
      if (frame.payload?.$case !== 'data')
        throw fail('protocol', `chunk ${receivedChunkCount}: expected data`);
      const chunk = frame.payload.data;
      this.verifyChunk(header, chunk, receivedSizeBytes, receivedChunkCount);
      await this.race(this.writeAll(chunk.data));
      receivedSizeBytes += chunk.data.length;
      receivedChunkCount += 1;
    }
    if (receivedSizeBytes !== header.totalSizeBytes) {
      throw fail('protocol', `stream ended after ${receivedSizeBytes} of ${header.totalSizeBytes} bytes`);
    }
    await this.race(this.closeFile());
    await this.handOver(header.message, receivedSizeBytes);
    return {
      regionId: BigInt(header.message.regionId),
      receivedSizeBytes: BigInt(receivedSizeBytes),
      receivedChunkCount,
    };
  }

  private verifyHeader(header: raftpb.SnapshotHeader): Verified {
    const { limits, storeId } = this.options;
    if (header.message === undefined) throw fail('rejected', 'the header carries no message');
    let message: RegionRaftMessage;
    try {
      message = decodeRegionRaftMessage(header.message);
    } catch (err) {
      if (err instanceof TransportDecodeError) throw fail('rejected', `header.message: ${err.message}`);
      throw err;
    }
    if (message.message.type !== 'snap')
      throw fail('rejected', `header carries a '${message.message.type}' message`);
    if (message.toPeer.storeId !== storeId) {
      throw fail('rejected', `snapshot for store ${message.toPeer.storeId} reached store ${storeId}`);
    }
    if (header.totalSizeBytes > BigInt(limits.snapshotSizeBytesMax)) {
      throw fail(
        'rejected',
        `total_size_bytes ${header.totalSizeBytes} above ${limits.snapshotSizeBytesMax}`,
      );
    }
    if (header.chunkSizeBytes < 1n || header.chunkSizeBytes > BigInt(limits.chunkSizeBytesMax)) {
      throw fail(
        'rejected',
        `chunk_size_bytes ${header.chunkSizeBytes} outside [1, ${limits.chunkSizeBytesMax}]`,
      );
    }
    if (header.checksumAlgorithm !== raftpb.ChecksumAlgorithm.CRC32C) {
      throw fail('rejected', `checksum_algorithm ${header.checksumAlgorithm}: only CRC32C is accepted`);
    }
    return {
      message,
      totalSizeBytes: Number(header.totalSizeBytes),
      chunkSizeBytes: Number(header.chunkSizeBytes),
    };
  }

  private verifyChunk(
    header: Verified,
    chunk: raftpb.SnapshotData,
    offsetBytes: number,
    index: number,
  ): void {
    if (chunk.offsetBytes !== BigInt(offsetBytes)) {
      throw fail('protocol', `chunk ${index} at offset ${chunk.offsetBytes}, expected ${offsetBytes}`);
    }
    const remainingBytes = header.totalSizeBytes - offsetBytes;
    const expectedBytes = Math.min(header.chunkSizeBytes, remainingBytes);
    if (chunk.data.length !== expectedBytes || expectedBytes === 0) {
      throw fail('protocol', `chunk ${index} has ${chunk.data.length} bytes, expected ${expectedBytes}`);
    }
    const actualCrc = crc32c(chunk.data);
    if (actualCrc !== chunk.crc32c) {
      throw fail(
        'corrupt',
        `chunk ${index} at offset ${offsetBytes}: crc32c ${actualCrc} != ${chunk.crc32c}`,
      );
    }
  }

  /** The next frame, null at the end of the stream; fails on abort or when nothing arrives in time. */
  private nextFrame(): Promise<raftpb.SnapshotChunk | null> {
    return this.race(this.frames.next());
  }

  /** Waits for `work`, failing instead on abort (cancel, stream error) or after the stall timeout. */
  private async race<T>(work: Promise<T>): Promise<T> {
    this.disarmStallTimer();
    const timeoutMs = this.options.limits.stallTimeoutMs;
    this.stallTimer = this.options.clock.setTimeout(() => {
      this.abort(new SnapshotTransferError('timeout', `no progress for ${timeoutMs} ms`));
    }, timeoutMs);
    work.catch(() => {}); // when the abort wins, a later rejection of `work` is expected
    try {
      return await Promise.race([work, this.aborted]);
    } finally {
      this.disarmStallTimer();
    }
  }

  private async openFile(): Promise<void> {
    try {
      await mkdir(this.options.directory, { recursive: true });
      const path = join(this.options.directory, this.nextFileName());
      this.file = await open(path, 'wx');
      this.filePath = path;
    } catch (err) {
      if (err instanceof SnapshotTransferError) throw err;
      throw fail('io', `cannot create the temp file: ${String(err)}`);
    }
  }

  private async writeAll(data: Uint8Array): Promise<void> {
    const file = this.file;
    if (file === null) throw fail('io', 'no temp file open');
    let writtenBytes = 0;
    try {
      while (writtenBytes < data.length) {
        const { bytesWritten } = await file.write(data, writtenBytes, data.length - writtenBytes);
        writtenBytes += bytesWritten;
      }
    } catch (err) {
      throw fail('io', `writing the temp file: ${String(err)}`);
    }
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    if (file === null) throw fail('io', 'no temp file open');
    try {
      await file.sync();
      this.file = null;
      await file.close();
    } catch (err) {
      throw fail('io', `syncing the temp file: ${String(err)}`);
    }
  }

  private async handOver(message: RegionRaftMessage, sizeBytes: number): Promise<void> {
    const filePath = this.filePath;
    if (filePath === null) throw fail('io', 'no temp file');
    try {
      await this.options.onSnapshot({ message, filePath, sizeBytes });
    } catch (err) {
      throw fail('applyFailed', `onSnapshot: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.filePath = null; // the store owns it now
  }

  /** Closes and deletes the partial file; the transfer failed. */
  private async discardFile(): Promise<void> {
    const file = this.file;
    const filePath = this.filePath;
    this.file = null;
    this.filePath = null;
    await file?.close().catch(() => {});
    if (filePath === null) return;
    // Best effort: a file that cannot be removed now is removed by removeStalePartialFiles at the next start.
    await unlink(filePath).catch(() => {});
  }

  private disarmStallTimer(): void {
    if (this.stallTimer !== null) this.options.clock.clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }
}

/**
 * Pulls frames one at a time: the call is paused while a frame waits to be taken, so what
 * is buffered stays within the stream's own high-water mark instead of growing with the
 * sender's speed.
 */
class FrameReader {
  private readonly buffered: raftpb.SnapshotChunk[] = [];
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(private readonly call: SnapshotCall) {
    call.on('data', (frame: raftpb.SnapshotChunk) => {
      this.buffered.push(frame);
      call.pause();
      this.notify();
    });
    call.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  /** The next frame, or null once the sender ended the stream. */
  async next(): Promise<raftpb.SnapshotChunk | null> {
    while (this.buffered.length === 0 && !this.ended) {
      this.call.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.buffered.shift() ?? null;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

function fail(code: SnapshotErrorCode, message: string): SnapshotTransferError {
  return new SnapshotTransferError(code, message);
}
