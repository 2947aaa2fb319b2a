// The Batch stream between two stores over real sockets: coalescing into one frame per
// destination and flush, order, the byte cap, frames in flight bounded by acks, busy
// backoff, bounded queues with drops reported unreachable while the peer is down,
// reconnection once it is back, and the receiver's checks of each frame.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';

import { ERROR_CODE_METADATA_KEY } from '../../src/transport/grpc-status.js';
import type { RaftServiceOptions } from '../../src/transport/raft-service.js';
import { createRaftServiceHandlers } from '../../src/transport/raft-service.js';
import type { RaftTransportOptions, UnreachableCause } from '../../src/transport/raft-transport.js';
import { RaftTransport } from '../../src/transport/raft-transport.js';
import type { CoalescedHeartbeatRecord, RegionRaftMessage } from '../../src/transport/raft-message-codec.js';
import type { RunningServer } from './helpers.js';
import { ManualClock, Recorder, seqOf, startServer, wireMessage } from './helpers.js';

interface Frame {
  readonly fromStoreId: number;
  readonly messages: RegionRaftMessage[];
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function receivingStore(
  storeId: number,
  port = 0,
  overrides: Partial<RaftServiceOptions> = {},
): Promise<{ server: RunningServer; frames: Recorder<Frame> }> {
  const frames = new Recorder<Frame>();
  const server = await startServer(
    createRaftServiceHandlers({
      storeId,
      onMessages: (fromStoreId, messages) => frames.push({ fromStoreId, messages }),
      snapshotReceiver: null,
      ...overrides,
    }),
    port,
  );
  cleanups.push(() => server.stop());
  return { server, frames };
}

/** One onUnreachable report. */
interface Unreachable {
  readonly storeId: number;
  readonly regionIds: readonly number[];
  readonly cause: UnreachableCause;
}

function transport(
  ports: Record<number, number>,
  overrides: Partial<RaftTransportOptions> = {},
): { transport: RaftTransport; unreachable: Recorder<Unreachable> } {
  const unreachable = new Recorder<Unreachable>();
  const t = new RaftTransport({
    storeId: 1,
    resolveAddress: async (storeId) => `127.0.0.1:${ports[storeId] ?? 1}`,
    onUnreachable: (storeId, regionIds, cause) => unreachable.push({ storeId, regionIds, cause }),
    backoffMsMin: 10,
    backoffMsMax: 100,
    ...overrides,
  });
  cleanups.push(() => t.close());
  return { transport: t, unreachable };
}

const messageCount = (frames: readonly Frame[]): number => frames.reduce((n, f) => n + f.messages.length, 0);

describe('Batch stream', () => {
  it('coalesces the messages of many regions into one frame per destination per flush, in order', async () => {
    const store2 = await receivingStore(2);
    const store3 = await receivingStore(3);
    const { transport: t } = transport({ 2: store2.server.port, 3: store3.server.port });

    for (let seq = 0; seq < 30; seq++) {
      assert.equal(t.send(2, wireMessage(100 + (seq % 6), seq, 2)), true);
      assert.equal(t.send(3, wireMessage(200 + (seq % 4), seq, 3)), true);
    }
    t.flush();
    await store2.frames.until('30 messages at store 2', (f) => messageCount(f) >= 30);
    await store3.frames.until('30 messages at store 3', (f) => messageCount(f) >= 30);

    for (const store of [store2, store3]) {
      assert.equal(store.frames.items.length, 1, 'one frame for the whole flush');
      assert.equal(store.frames.items[0]?.fromStoreId, 1);
      assert.deepEqual(store.frames.items[0]?.messages.map(seqOf), [...Array(30).keys()]);
    }
    assert.deepEqual(
      new Set(store2.frames.items[0]?.messages.map((m) => m.regionId)),
      new Set([100, 101, 102, 103, 104, 105]),
    );

    // A second round on the now open stream: again one frame, order continues.
    for (let seq = 30; seq < 50; seq++) t.send(2, wireMessage(100 + (seq % 6), seq, 2));
    t.flush();
    await store2.frames.until('the second frame', (f) => f.length >= 2);
    assert.deepEqual(
      store2.frames.items[1]?.messages.map(seqOf),
      Array.from({ length: 20 }, (_, i) => 30 + i),
    );
    assert.equal(t.stats().get(2)?.framesSentCount, 2);
  });

  it('carries the heartbeats of many regions as compact records in the same frame, and pings with an empty one', async () => {
    const heartbeats = new Recorder<CoalescedHeartbeatRecord>();
    const heard = new Recorder<number>();
    const store2 = await receivingStore(2, 0, {
      onHeartbeats: (_from, records) => {
        for (const r of records) heartbeats.push(r);
      },
      onHeard: (fromStoreId) => heard.push(fromStoreId),
    });
    const { transport: t } = transport({ 2: store2.server.port });
    const record = (regionId: number, isResponse: boolean): CoalescedHeartbeatRecord => ({
      regionId,
      fromPeerId: regionId * 10 + 1,
      toPeerId: regionId * 10 + 2,
      term: 3,
      commit: isResponse ? 0 : 9,
      context: new Uint8Array(16),
      quiesce: !isResponse && regionId === 5,
      isResponse,
    });
    for (let regionId = 1; regionId <= 100; regionId++) {
      assert.equal(t.sendHeartbeat(2, record(regionId, regionId % 2 === 0)), true);
    }
    t.send(2, wireMessage(7, 0, 2));
    t.flush();
    await heartbeats.until('100 heartbeats', (h) => h.length >= 100);
    assert.equal(store2.frames.items.length, 1, 'the message and the heartbeats share one frame');
    assert.equal(heard.items.length, 1);
    assert.equal(heartbeats.items.filter((h) => h.isResponse).length, 50);
    assert.deepEqual(heartbeats.items.find((h) => h.regionId === 5)?.quiesce, true);
    assert.equal(t.stats().get(2)?.heartbeatsSentCount, 100);

    t.ping(2);
    await heard.until('the ping', (h) => h.length >= 2);
    assert.deepEqual(heard.items, [1, 1]);
    assert.equal(t.stats().get(2)?.pingsSentCount, 1);
    assert.equal(store2.frames.items.length, 1, 'an empty frame delivers no message');
  });

  it('splits a flush into several frames only at the byte cap, keeping the order', async () => {
    const store2 = await receivingStore(2);
    const { transport: t } = transport(
      { 2: store2.server.port },
      { batchLimits: { frameSizeBytesMax: 10_000 } },
    );

    for (let seq = 0; seq < 10; seq++) t.send(2, wireMessage(7, seq, 2, 3_000));
    t.flush();
    const frames = await store2.frames.until('10 messages', (f) => messageCount(f) >= 10);

    assert.ok(frames.length >= 4, `expected several frames, got ${frames.length}`);
    assert.ok(frames.every((f) => f.messages.length <= 3));
    assert.deepEqual(
      frames.flatMap((f) => f.messages.map(seqOf)),
      [...Array(10).keys()],
    );
  });

  it('keeps at most framesInFlightMax frames unacknowledged and writes more as acks arrive', async () => {
    const received = new Recorder<raftpb.RaftMessageBatch>();
    let acceptedCall: grpc.ServerDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck> | null = null;
    const server = await startServer({
      batch: (call: grpc.ServerDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck>) => {
        acceptedCall = call;
        call.sendMetadata(new grpc.Metadata());
        call.on('data', (frame: raftpb.RaftMessageBatch) => received.push(frame)); // acks only on demand
      },
      snapshot: () => {},
    });
    cleanups.push(() => server.stop());
    const { transport: t } = transport(
      { 2: server.port },
      { batchLimits: { framesInFlightMax: 2, frameSizeBytesMax: 1_000 } },
    );

    for (let seq = 0; seq < 6; seq++) t.send(2, wireMessage(1, seq, 2, 900));
    t.flush();
    await received.until('two frames', (f) => f.length >= 2);
    assert.equal(t.stats().get(2)?.framesSentCount, 2, 'no third frame before an ack');
    assert.equal(t.stats().get(2)?.queuedMessageCount, 4);

    const call = acceptedCall as grpc.ServerDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck> | null;
    assert.ok(call !== null);
    call.write({ batchSeq: 2n, droppedMessageCount: 0, isBusy: false });
    await received.until('four frames', (f) => f.length >= 4);
    assert.equal(t.stats().get(2)?.framesSentCount, 4);
    assert.deepEqual(
      received.items.map((f) => f.batchSeq),
      [1n, 2n, 3n, 4n],
    );
  });

  it('pauses writing for busyBackoffMs after an ack with is_busy (clock driven by the test)', async () => {
    const clock = new ManualClock();
    const store2 = await receivingStore(2, 0, {
      onMessages: (fromStoreId, messages) => {
        store2Frames.push({ fromStoreId, messages });
        return { isBusy: true };
      },
    });
    const store2Frames = store2.frames;
    const { transport: t } = transport(
      { 2: store2.server.port },
      { clock, batchLimits: { busyBackoffMs: 500 } },
    );

    t.send(2, wireMessage(1, 0, 2));
    t.flush();
    await store2Frames.until('the first frame', (f) => f.length >= 1);
    await waitForStats(t, (s) => s.busyAckCount === 1);

    t.send(2, wireMessage(1, 1, 2));
    t.flush();
    assert.equal(t.stats().get(2)?.framesSentCount, 1, 'held back while the receiver is busy');
    clock.advance(500);
    await store2Frames.until('the second frame after the pause', (f) => f.length >= 2);
    assert.deepEqual(
      store2Frames.items.flatMap((f) => f.messages.map(seqOf)),
      [0, 1],
    );
  });

  it('drops beyond the bounded queue while the peer is down, reports them, and delivers after it comes back', async () => {
    const first = await receivingStore(2);
    const port = first.server.port;
    const { transport: t, unreachable } = transport({ 2: port }, { batchLimits: { queueMessagesMax: 5 } });

    t.send(2, wireMessage(1, 0, 2));
    t.flush();
    await first.frames.until('the first message', (f) => messageCount(f) >= 1);
    first.server.stop();
    await waitForStats(t, (s) => s.streamFailureCount >= 1);

    const accepted: boolean[] = [];
    for (let seq = 1; seq <= 8; seq++) accepted.push(t.send(2, wireMessage(10 + seq, seq, 2)));
    t.flush(); // must return at once although the peer is down
    assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
    await unreachable.until('the drops reported', (u) => u.some((r) => r.regionIds.includes(16)));
    const reported = new Set(unreachable.items.filter((r) => r.storeId === 2).flatMap((r) => r.regionIds));
    for (const regionId of [16, 17, 18]) assert.ok(reported.has(regionId), `region ${regionId} reported`);
    const dropReport = unreachable.items.find((r) => r.regionIds.includes(16));
    assert.equal(dropReport?.cause, 'queueFull', 'a full queue is congestion here, not a dead peer');
    assert.equal(t.stats().get(2)?.messagesDroppedCount, 3);

    const second = await receivingStore(2, port);
    const frames = await second.frames.until('the queued messages', (f) => messageCount(f) >= 5);
    assert.deepEqual(
      frames.flatMap((f) => f.messages.map(seqOf)),
      [1, 2, 3, 4, 5],
    );
    t.send(2, wireMessage(1, 9, 2));
    t.flush();
    await second.frames.until('a message sent after the reconnect', (f) =>
      f.some((x) => x.messages.some((m) => seqOf(m) === 9)),
    );
  });

  it('closes a stream whose frames are addressed to another store, and the sender reports the regions', async () => {
    const store3 = await receivingStore(3);
    // The sender believes store 2 lives where store 3 does.
    const { transport: t, unreachable } = transport({ 2: store3.server.port });
    t.send(2, wireMessage(42, 0, 2));
    t.flush();
    await unreachable.until('region 42 reported unreachable', (u) => u.some((r) => r.regionIds.includes(42)));
    assert.equal(store3.frames.items.length, 0, 'nothing delivered to the wrong store');
    assert.equal(unreachable.items.find((r) => r.regionIds.includes(42))?.cause, 'streamLost');
    assert.match(t.stats().get(2)?.lastFailure ?? '', /addressed to store 2 reached store 3/);
  });
});

describe('Raft service: checks of each frame (raw client)', () => {
  async function rawStream(port: number): Promise<{
    stream: grpc.ClientDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck>;
    acks: Recorder<raftpb.BatchAck>;
  }> {
    const client = new raftpb.RaftClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const stream = client.batch();
    stream.on('error', () => {}); // closing the client at cleanup cancels the call
    const acks = new Recorder<raftpb.BatchAck>();
    stream.on('data', (ack: raftpb.BatchAck) => acks.push(ack));
    return { stream, acks };
  }

  async function closedWith(
    stream: grpc.ClientDuplexStream<raftpb.RaftMessageBatch, raftpb.BatchAck>,
  ): Promise<grpc.ServiceError> {
    return new Promise((resolve) => stream.once('error', resolve));
  }

  it('rejects a frame for another store with FAILED_PRECONDITION and code storeMismatch', async () => {
    const store3 = await receivingStore(3);
    const { stream } = await rawStream(store3.server.port);
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 1n,
      messages: [wireMessage(1, 0, 3)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    const err = await closedWith(stream);
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'storeMismatch');
    assert.match(err.details, /addressed to store 2 reached store 3/);
  });

  it('rejects a gap in batch_seq', async () => {
    const store2 = await receivingStore(2);
    const { stream, acks } = await rawStream(store2.server.port);
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 1n,
      messages: [wireMessage(1, 0, 2)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    await acks.until('the first ack', (a) => a.length >= 1);
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 3n,
      messages: [wireMessage(1, 1, 2)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    const err = await closedWith(stream);
    assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'batchSeqGap');
    assert.equal(acks.items[0]?.batchSeq, 1n);
  });

  it('closes the stream with INTERNAL deliveryFailed when the store handler throws, instead of crashing', async () => {
    const store2 = await receivingStore(2, 0, {
      onMessages: () => {
        throw new Error('mailbox exploded');
      },
    });
    const { stream } = await rawStream(store2.server.port);
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 1n,
      messages: [wireMessage(1, 0, 2)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    const err = await closedWith(stream);
    assert.equal(err.code, grpc.status.INTERNAL);
    assert.equal(err.metadata.get(ERROR_CODE_METADATA_KEY)[0], 'deliveryFailed');
    assert.match(err.details, /mailbox exploded/);
  });

  it('drops undecodable messages, delivers the rest in order and counts the drops in the ack', async () => {
    const bad = new Recorder<string>();
    const store2 = await receivingStore(2, 0, { onBadMessage: (_from, err) => bad.push(err.field) });
    const { stream, acks } = await rawStream(store2.server.port);
    const unset = wireMessage(1, 1, 2);
    const localKind = wireMessage(1, 2, 2);
    const otherStore = wireMessage(1, 3, 4);
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 1n,
      messages: [
        wireMessage(1, 0, 2),
        { ...unset, message: { ...unset.message!, type: raftpb.MessageType.UNSPECIFIED } },
        { ...localKind, message: { ...localKind.message!, type: raftpb.MessageType.HUP } },
        otherStore,
        wireMessage(1, 4, 2),
      ],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    const [ack] = await acks.until('the ack', (a) => a.length >= 1);
    assert.equal(ack?.droppedMessageCount, 3);
    assert.deepEqual(store2.frames.items[0]?.messages.map(seqOf), [0, 4]);
    assert.deepEqual(bad.items, [
      'messages[1].message.type',
      'messages[2].message.type',
      'messages[3].toPeer.storeId',
    ]);
    stream.end();
  });
});

/** Resolves once the connection to store 2 satisfies `predicate`, checked on every stats-changing event. */
async function waitForStats(
  t: RaftTransport,
  predicate: (
    s: NonNullable<ReturnType<RaftTransport['stats']> extends Map<number, infer S> ? S : never>,
  ) => boolean,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  // Stats change on network events; yield to the event loop between checks (setImmediate, not a timed sleep).
  while (Date.now() < deadline) {
    const stats = t.stats().get(2);
    if (stats !== undefined && predicate(stats)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('timed out waiting for the transport stats');
}
