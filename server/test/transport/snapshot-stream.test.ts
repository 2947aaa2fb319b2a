// The Snapshot stream over real sockets: several MiB arrive byte for byte in a verified,
// fsynced file handed to the store; corrupted, out-of-order, short, interrupted and stalled
// transfers fail with a typed error on both sides and leave no partial file; the numbers of
// concurrent sends per store and concurrent receives are bounded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import { crc32c } from '../../src/checksum/crc32c.js';
import { ERROR_CODE_METADATA_KEY } from '../../src/transport/grpc-status.js';
import { encodeRegionRaftMessage } from '../../src/transport/raft-message-codec.js';
import { createRaftServiceHandlers } from '../../src/transport/raft-service.js';
import { RaftTransport } from '../../src/transport/raft-transport.js';
import { SNAPSHOT_RECEIVE_LIMITS_DEFAULT } from '../../src/transport/snapshot-limits.js';
import type { SnapshotReceiveLimits } from '../../src/transport/snapshot-limits.js';
import type { ReceivedSnapshot, SnapshotReceiverOptions } from '../../src/transport/snapshot-receiver.js';
import { SnapshotReceiver } from '../../src/transport/snapshot-receiver.js';
import { systemClock } from '../../src/transport/clock.js';
import type { SnapshotTransferError } from '../../src/transport/transport-errors.js';
import { SnapshotTransferError as SnapshotTransferErrorClass } from '../../src/transport/transport-errors.js';
import { ManualClock, Recorder, startServer, within } from './helpers.js';

const MIB = 1024 * 1024;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function snapHeader(regionId: number, toStoreId = 2): raftpb.RaftMessage {
  return encodeRegionRaftMessage({
    regionId,
    fromPeer: { id: 11, storeId: 1, role: 'voter' },
    toPeer: { id: 12, storeId: toStoreId, role: 'voter' },
    regionEpoch: { confVer: 1, version: 1 },
    message: {
      type: 'snap',
      to: 12,
      from: 11,
      term: 3,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: {
        metadata: {
          index: 100,
          term: 3,
          confState: {
            voters: [11, 12, 13],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: new TextEncoder().encode(`descriptor of region ${regionId}`),
      },
      context: new Uint8Array(0),
    },
    isTombstone: false,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
  });
}

interface ReceivingStore {
  readonly port: number;
  readonly directory: string;
  readonly receiver: SnapshotReceiver;
  readonly taken: Recorder<ReceivedSnapshot & { readonly bytes: Buffer }>;
  readonly failed: Recorder<{ regionId: number | null; error: SnapshotTransferError }>;
}

async function receivingStore(
  overrides: Partial<Omit<SnapshotReceiverOptions, 'limits'>> & {
    limits?: Partial<SnapshotReceiveLimits>;
  } = {},
): Promise<ReceivingStore> {
  const directory = await mkdtemp(join(tmpdir(), 'flotilla-snap-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  const taken = new Recorder<ReceivedSnapshot & { readonly bytes: Buffer }>();
  const failed = new Recorder<{ regionId: number | null; error: SnapshotTransferError }>();
  const receiver = new SnapshotReceiver({
    storeId: 2,
    directory,
    onSnapshot: async (snapshot) => taken.push({ ...snapshot, bytes: await readFile(snapshot.filePath) }),
    onSnapshotFailed: (regionId, error) => failed.push({ regionId, error }),
    clock: systemClock,
    ...overrides,
    limits: { ...SNAPSHOT_RECEIVE_LIMITS_DEFAULT, ...overrides.limits },
  });
  const server = await startServer(
    createRaftServiceHandlers({ storeId: 2, onMessages: () => undefined, snapshotReceiver: receiver }),
  );
  cleanups.push(() => server.stop());
  return { port: server.port, directory, receiver, taken, failed };
}

function sender(
  port: number,
  snapshotLimits: ConstructorParameters<typeof RaftTransport>[0]['snapshotLimits'] = {},
): RaftTransport {
  const t = new RaftTransport({
    storeId: 1,
    resolveAddress: async () => `127.0.0.1:${port}`,
    onUnreachable: () => {},
    snapshotLimits,
  });
  cleanups.push(() => t.close());
  return t;
}

async function* pieces(data: Buffer, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

async function rejection(promise: Promise<unknown>): Promise<SnapshotTransferError> {
  try {
    await within('the transfer to fail', promise);
  } catch (err) {
    assert.ok(
      err instanceof SnapshotTransferErrorClass,
      `expected SnapshotTransferError, got ${String(err)}`,
    );
    return err;
  }
  throw new Error('the transfer unexpectedly succeeded');
}

/** A raw Snapshot call, to send frames the real sender never would. */
function rawCall(port: number): {
  call: grpc.ClientWritableStream<raftpb.SnapshotChunk>;
  answer: Promise<grpc.ServiceError>;
} {
  const client = new raftpb.RaftClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  let call: grpc.ClientWritableStream<raftpb.SnapshotChunk> | null = null;
  const answer = new Promise<grpc.ServiceError>((resolve, reject) => {
    call = client.snapshot((err) =>
      err ? resolve(err) : reject(new Error('the receiver accepted the snapshot')),
    );
  });
  assert.ok(call !== null);
  return { call, answer };
}

function headerFrame(totalSizeBytes: number, chunkSizeBytes: number): raftpb.SnapshotChunk {
  return {
    payload: {
      $case: 'header',
      header: {
        message: snapHeader(5),
        totalSizeBytes: BigInt(totalSizeBytes),
        chunkSizeBytes: BigInt(chunkSizeBytes),
        checksumAlgorithm: raftpb.ChecksumAlgorithm.CRC32C,
      },
    },
  };
}

function dataFrame(offsetBytes: number, data: Buffer, crc = crc32c(data)): raftpb.SnapshotChunk {
  return { payload: { $case: 'data', data: { offsetBytes: BigInt(offsetBytes), data, crc32c: crc } } };
}

async function assertNoFilesLeft(directory: string): Promise<void> {
  assert.deepEqual(await readdir(directory), [], 'partial files must be removed');
}

describe('Snapshot stream', () => {
  it('streams several MiB from an async source in 1 MiB chunks and hands over a byte-identical file', async () => {
    const store = await receivingStore();
    const data = randomBytes(5 * MIB + 123);
    const t = sender(store.port);

    const sent = await within(
      'the snapshot',
      t.sendSnapshot(2, snapHeader(5), pieces(data, [700_000, 1, 3 * MIB]), data.length),
    );

    assert.deepEqual(sent, { regionId: 5, sentSizeBytes: data.length, sentChunkCount: 6 });
    const [taken] = store.taken.items;
    assert.ok(taken !== undefined);
    assert.ok(taken.bytes.equals(data), 'file content equals the sent data');
    assert.equal(taken.sizeBytes, data.length);
    assert.equal(taken.message.regionId, 5);
    assert.equal(taken.message.message.type, 'snap');
    assert.equal(taken.message.message.snapshot?.metadata.index, 100);
    assert.ok(taken.filePath.startsWith(store.directory));
  });

  it('sends a Uint8Array source and an empty snapshot', async () => {
    const store = await receivingStore();
    const t = sender(store.port);
    const data = randomBytes(2 * MIB);
    assert.equal(
      (await within('2 MiB', t.sendSnapshot(2, snapHeader(6), data, data.length))).sentChunkCount,
      2,
    );
    assert.equal(
      (await within('empty', t.sendSnapshot(2, snapHeader(7), new Uint8Array(0), 0))).sentChunkCount,
      0,
    );
    assert.ok(store.taken.items[0]?.bytes.equals(data));
    assert.equal(store.taken.items[1]?.bytes.length, 0);
  });

  it('rejects a chunk whose CRC-32C does not match (DATA_LOSS, corrupt) and removes the partial file', async () => {
    const store = await receivingStore();
    const { call, answer } = rawCall(store.port);
    const good = randomBytes(1024);
    const flipped = Buffer.from(randomBytes(1024));
    const crcBeforeFlip = crc32c(flipped);
    flipped[100] = (flipped[100] ?? 0) ^ 0x01;
    call.write(headerFrame(3 * 1024, 1024));
    call.write(dataFrame(0, good));
    call.write(dataFrame(1024, flipped, crcBeforeFlip));
    call.write(dataFrame(2048, randomBytes(1024)));
    call.end();

    const err = await within('the receiver to refuse', answer);
    assert.equal(err.code, grpc.status.DATA_LOSS);
    assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'corrupt');
    const [failure] = await store.failed.until('the failure reported', (f) => f.length >= 1);
    assert.equal(failure?.error.code, 'corrupt');
    assert.equal(failure?.regionId, 5);
    assert.equal(store.taken.items.length, 0, 'nothing handed to the store');
    await assertNoFilesLeft(store.directory);
  });

  it('rejects out-of-order offsets, a stream that ends short, and data before a header (protocol)', async () => {
    const store = await receivingStore();
    const gap = rawCall(store.port);
    gap.call.write(headerFrame(2048, 1024));
    gap.call.write(dataFrame(1024, randomBytes(1024)));
    gap.call.end();
    const short = rawCall(store.port);
    short.call.write(headerFrame(2048, 1024));
    short.call.write(dataFrame(0, randomBytes(1024)));
    short.call.end();
    const headless = rawCall(store.port);
    headless.call.write(dataFrame(0, randomBytes(10)));
    headless.call.end();

    for (const { answer } of [gap, short, headless]) {
      const err = await within('a protocol error', answer);
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'protocol');
    }
    await store.failed.until('three failures', (f) => f.length >= 3);
    await assertNoFilesLeft(store.directory);
  });

  it('fails both sides when the store refuses the verified snapshot (applyFailed) and deletes the file', async () => {
    const store = await receivingStore({
      onSnapshot: () => {
        throw new Error('region 5 is being destroyed');
      },
    });
    const t = sender(store.port);
    const err = await rejection(t.sendSnapshot(2, snapHeader(5), randomBytes(3000), 3000));
    assert.equal(err.code, 'applyFailed');
    assert.equal(err.retryable, true);
    assert.match(err.message, /being destroyed/);
    await store.failed.until('the receiver-side failure', (f) =>
      f.some((x) => x.error.code === 'applyFailed'),
    );
    await assertNoFilesLeft(store.directory);
  });

  it('fails when the source has fewer bytes than announced, and the receiver drops the partial file', async () => {
    const store = await receivingStore();
    const t = sender(store.port, { chunkSizeBytes: 1024 });
    // Ends short only once the receiver is mid-transfer (its temp file exists).
    async function* shortSource(): AsyncGenerator<Uint8Array> {
      yield randomBytes(2048);
      await within('the partial file', waitForFile(store.directory));
      yield randomBytes(2048);
    }
    const err = await rejection(t.sendSnapshot(2, snapHeader(5), shortSource(), 5000));
    assert.equal(err.code, 'protocol');
    const [failure] = await store.failed.until('the receiver noticing', (f) => f.length >= 1);
    assert.equal(failure?.error.code, 'interrupted');
    await assertNoFilesLeft(store.directory);
  });

  it('refuses a header for another store (rejected)', async () => {
    const store = await receivingStore();
    const t = sender(store.port);
    const err = await rejection(t.sendSnapshot(2, snapHeader(5, 3), randomBytes(10), 10));
    assert.equal(err.code, 'rejected');
    assert.equal(err.retryable, false);
  });

  it('times out a stalled stream (clock driven by the test) and removes the partial file', async () => {
    const clock = new ManualClock();
    const store = await receivingStore({ clock, limits: { stallTimeoutMs: 1_000 } });
    const { call, answer } = rawCall(store.port);
    call.write(headerFrame(4096, 1024));
    call.write(dataFrame(0, randomBytes(1024)));
    // Wait until the receiver has the first chunk on disk and waits for the next one.
    await within('the partial file', waitForFile(store.directory));
    await clock.timerArmed('the stall timer');
    clock.advance(1_000);
    const err = await within('the timeout', answer);
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'timeout');
    await store.failed.until('the failure reported', (f) => f.length >= 1);
    await assertNoFilesLeft(store.directory);
  });

  it('times out on the sender side when the receiver never answers (clock driven by the test)', async () => {
    const clock = new ManualClock();
    const streamEnded = new Recorder<true>();
    const server = await startServer({
      batch: () => {},
      snapshot: (call: grpc.ServerReadableStream<raftpb.SnapshotChunk, raftpb.SnapshotDone>) => {
        call.on('data', () => {});
        call.on('end', () => streamEnded.push(true)); // reads everything, never answers
      },
    });
    cleanups.push(() => server.stop());
    const t = new RaftTransport({
      storeId: 1,
      resolveAddress: async () => `127.0.0.1:${server.port}`,
      onUnreachable: () => {},
      clock,
      snapshotLimits: { stallTimeoutMs: 5_000 },
    });
    cleanups.push(() => t.close());

    const transfer = t.sendSnapshot(2, snapHeader(5), randomBytes(10_000), 10_000);
    await streamEnded.until('the receiver reading the whole stream', (e) => e.length >= 1);
    clock.advance(5_000);
    const err = await rejection(transfer);
    assert.equal(err.code, 'timeout');
    assert.equal(err.retryable, true);
  });

  it('receives at most receivesMax snapshots at once and refuses more with receiverBusy', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const waiting = new Recorder<number>();
    const store = await receivingStore({
      limits: { receivesMax: 2 },
      onSnapshot: async (snapshot) => {
        waiting.push(snapshot.message.regionId);
        await released;
      },
    });
    const t = sender(store.port);
    const first = t.sendSnapshot(2, snapHeader(1), randomBytes(100), 100);
    const second = t.sendSnapshot(2, snapHeader(2), randomBytes(100), 100);
    await waiting.until('two transfers inside onSnapshot', (w) => w.length >= 2);
    assert.equal(store.receiver.receivingCount, 2);

    const err = await rejection(t.sendSnapshot(2, snapHeader(3), randomBytes(100), 100));
    assert.equal(err.code, 'receiverBusy');
    assert.equal(err.retryable, true);
    release();
    await within('the first two', Promise.all([first, second]));
    assert.equal(store.receiver.receivingCount, 0);
  });

  it('runs at most sendsPerStoreMax transfers per store, queues a bounded number and refuses the rest', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const entered = new Recorder<number>();
    let concurrentMax = 0;
    let concurrent = 0;
    const store = await receivingStore({
      onSnapshot: async (snapshot) => {
        concurrent += 1;
        concurrentMax = Math.max(concurrentMax, concurrent);
        entered.push(snapshot.message.regionId);
        await released;
        concurrent -= 1;
      },
    });
    const t = sender(store.port, { sendsPerStoreMax: 1, sendQueuePerStoreMax: 1 });
    const a = t.sendSnapshot(2, snapHeader(1), randomBytes(100), 100);
    const b = t.sendSnapshot(2, snapHeader(2), randomBytes(100), 100);
    const refused = await rejection(t.sendSnapshot(2, snapHeader(3), randomBytes(100), 100));
    assert.equal(refused.code, 'sendQueueFull');

    await entered.until('the first transfer at the store', (e) => e.length >= 1);
    release();
    await within('both transfers', Promise.all([a, b]));
    assert.deepEqual(entered.items, [1, 2]);
    assert.equal(concurrentMax, 1);
  });
});

/** Resolves once a file exists in `directory` (the receiver created its temp file). */
async function waitForFile(directory: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const watcher = watch(directory, () => {
      watcher.close();
      resolve();
    });
    readdir(directory).then(
      (names) => {
        if (names.length > 0) {
          watcher.close();
          resolve();
        }
      },
      () => {},
    );
  });
}
