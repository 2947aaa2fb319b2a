// The generated gRPC service definitions work end to end: a grpc-js server and client built
// from them exchange real calls over a loopback socket (unary Kv, bidi and client-streaming Raft).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import type { errorpb } from '../src/index.js';
import { kvpb, metapb, raftpb } from '../src/index.js';

const deadlineMs = 5_000;

function bindLoopback(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}

const callOptions = (): Partial<grpc.CallOptions> => ({ deadline: Date.now() + deadlineMs });

describe('Kv service over grpc-js', () => {
  const server = new grpc.Server();
  const received: kvpb.GetRequest[] = [];
  const leader: metapb.Peer = { id: 9_007_199_254_740_993n, storeId: 7n, role: metapb.PeerRole.VOTER };
  let client: kvpb.KvClient;

  // Only Get and BatchCommands are implemented; grpc-js answers the other methods with UNIMPLEMENTED.
  const get: kvpb.KvServer['get'] = (call, callback) => {
    received.push(call.request);
    const regionError: errorpb.RegionError = {
      message: 'peer 5 is not the leader of region 42',
      error: { $case: 'notLeader', notLeader: { regionId: call.request.context?.regionId ?? 0n, leader } },
    };
    callback(null, { regionError, keyError: undefined, found: false, value: Buffer.alloc(0) });
  };

  // Answers every batched Get with an empty found=false response, in reverse order and one frame per request.
  const batchCommands: kvpb.KvServer['batchCommands'] = (call) => {
    call.on('data', (frame: kvpb.BatchCommandsRequest) => {
      for (const { requestId, request } of [...frame.requests].reverse()) {
        if (request?.$case !== 'get') {
          call.destroy(new Error(`unexpected request ${request?.$case ?? 'without a case'}`));
          return;
        }
        const response = kvpb.GetResponse.fromPartial({ found: false });
        call.write({ responses: [{ requestId, response: { $case: 'get', get: response } }] });
      }
    });
    call.on('end', () => call.end());
  };

  before(async () => {
    server.addService(kvpb.KvService, { get, batchCommands });
    const port = await bindLoopback(server);
    client = new kvpb.KvClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  it('returns a NotLeader region error with the leader hint from a real call', async () => {
    const request = kvpb.GetRequest.fromPartial({
      context: {
        regionId: 42n,
        regionEpoch: { confVer: 3n, version: 11n },
        peer: { id: 5n, storeId: 2n, role: metapb.PeerRole.VOTER },
        readConsistency: kvpb.ReadConsistency.LEASE,
        deadlineMs: 250,
      },
      key: Buffer.from('user/1'),
    });

    const response = await new Promise<kvpb.GetResponse>((resolve, reject) => {
      client.get(request, new grpc.Metadata(), callOptions(), (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });

    assert.equal(received.length, 1);
    assert.deepStrictEqual(received[0], request);
    const error = response.regionError?.error;
    assert.equal(error?.$case, 'notLeader');
    assert.deepStrictEqual(error.notLeader, { regionId: 42n, leader });
    assert.equal(response.found, false);
  });

  it('multiplexes requests on the BatchCommands stream and matches responses by request id', async () => {
    const stream = client.batchCommands(new grpc.Metadata(), callOptions());
    const frames: kvpb.BatchCommandsResponse[] = [];
    stream.on('data', (frame: kvpb.BatchCommandsResponse) => frames.push(frame));
    const requests = [1n, 2n, 3n].map((requestId) => ({
      requestId,
      request: {
        $case: 'get' as const,
        get: kvpb.GetRequest.fromPartial({ key: Buffer.from(`k${requestId}`) }),
      },
    }));
    stream.write({ requests });
    stream.end();
    await once(stream, 'end');

    const answered = frames.flatMap((frame) => frame.responses);
    assert.deepEqual(
      answered.map((r) => r.requestId),
      [3n, 2n, 1n],
    );
    assert.ok(answered.every((r) => r.response?.$case === 'get' && !r.response.get.found));
  });

  it('routes the other Kv methods (answered UNIMPLEMENTED by this server)', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const request = kvpb.PutRequest.fromPartial({ key: Buffer.from('k'), value: Buffer.from('v') });
      client.put(request, new grpc.Metadata(), callOptions(), (e) =>
        e ? resolve(e) : reject(new Error('put unexpectedly succeeded')),
      );
    });
    assert.equal(err.code, grpc.status.UNIMPLEMENTED);
  });
});

describe('Raft service streams over grpc-js', () => {
  const server = new grpc.Server();
  let client: raftpb.RaftClient;
  const snapshotOffsets: bigint[] = [];

  const batch: raftpb.RaftServer['batch'] = (call) => {
    call.on('data', (frame: raftpb.RaftMessageBatch) => {
      call.write({ batchSeq: frame.batchSeq, droppedMessageCount: 0, isBusy: frame.messages.length > 1 });
    });
    call.on('end', () => call.end());
  };

  const snapshot: raftpb.RaftServer['snapshot'] = (call, callback) => {
    let regionId = 0n;
    let receivedSizeBytes = 0n;
    let receivedChunkCount = 0;
    call.on('data', (chunk: raftpb.SnapshotChunk) => {
      const payload = chunk.payload;
      if (payload?.$case === 'header') regionId = payload.header.message?.regionId ?? 0n;
      if (payload?.$case === 'data') {
        snapshotOffsets.push(payload.data.offsetBytes);
        receivedSizeBytes += BigInt(payload.data.data.length);
        receivedChunkCount += 1;
      }
    });
    call.on('end', () => callback(null, { regionId, receivedSizeBytes, receivedChunkCount }));
  };

  before(async () => {
    server.addService(raftpb.RaftService, { batch, snapshot });
    const port = await bindLoopback(server);
    client = new raftpb.RaftClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  const raftMessage = (regionId: bigint): raftpb.RaftMessage =>
    raftpb.RaftMessage.fromPartial({
      regionId,
      fromPeer: { id: 1n, storeId: 1n },
      toPeer: { id: 2n, storeId: 2n },
      message: { type: raftpb.MessageType.HEARTBEAT, from: 1n, to: 2n, term: 5n, commit: 17n },
    });

  it('acks each batch of a bidirectional Batch stream', async () => {
    const stream = client.batch(new grpc.Metadata(), callOptions());
    const acks: raftpb.BatchAck[] = [];
    stream.on('data', (ack: raftpb.BatchAck) => acks.push(ack));
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 1n,
      messages: [raftMessage(10n)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    stream.write({
      fromStoreId: 1n,
      toStoreId: 2n,
      batchSeq: 2n,
      messages: [raftMessage(10n), raftMessage(11n)],
      heartbeats: [],
      heartbeatResponses: [],
      fromDiskUsage: 0,
    });
    stream.end();
    await once(stream, 'end');

    assert.deepStrictEqual(acks, [
      { batchSeq: 1n, droppedMessageCount: 0, isBusy: false },
      { batchSeq: 2n, droppedMessageCount: 0, isBusy: true },
    ]);
  });

  it('streams a snapshot as a header and data chunks and gets SnapshotDone', async () => {
    const done = new Promise<raftpb.SnapshotDone>((resolve, reject) => {
      const stream = client.snapshot(new grpc.Metadata(), callOptions(), (err, res) =>
        err ? reject(err) : resolve(res),
      );
      const header: raftpb.SnapshotHeader = {
        message: raftMessage(77n),
        totalSizeBytes: 7n,
        chunkSizeBytes: 4n,
        checksumAlgorithm: raftpb.ChecksumAlgorithm.NONE,
      };
      stream.write({ payload: { $case: 'header', header } });
      stream.write({
        payload: { $case: 'data', data: { offsetBytes: 0n, data: Buffer.from('abcd'), crc32c: 0 } },
      });
      stream.write({
        payload: { $case: 'data', data: { offsetBytes: 4n, data: Buffer.from('efg'), crc32c: 0 } },
      });
      stream.end();
    });

    assert.deepStrictEqual(await done, { regionId: 77n, receivedSizeBytes: 7n, receivedChunkCount: 2 });
    assert.deepStrictEqual(snapshotOffsets, [0n, 4n]);
  });
});
