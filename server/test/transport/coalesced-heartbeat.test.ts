// Coalesced heartbeats: which messages may travel in the compact CoalescedHeartbeat form,
// that the form round-trips and rejects malformed records, and what it saves on the wire
// compared with a full RaftMessage (printed, and bounded).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import type { RegionRaftMessage } from '../../src/transport/raft-message-codec.js';
import {
  coalescedHeartbeatOf,
  decodeCoalescedHeartbeat,
  encodeCoalescedHeartbeat,
  encodeRegionRaftMessage,
} from '../../src/transport/raft-message-codec.js';
import { TransportDecodeError } from '../../src/transport/transport-errors.js';

function heartbeat(fields: Partial<Message> = {}): Message {
  return {
    type: 'heartbeat',
    to: 20_002,
    from: 20_001,
    term: 7,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 1234,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    // The core's heartbeat context: read round and send tick, 16 bytes.
    context: new Uint8Array(16).fill(3),
    ...fields,
  };
}

/** A heartbeat of a region split off the key space like a real one (20-byte keys). */
function envelope(
  message: Message,
  extra: { isTombstone?: boolean; quiesce?: boolean } = {},
): RegionRaftMessage & {
  quiesce?: boolean;
} {
  return {
    regionId: 6_667,
    fromPeer: { id: message.from, storeId: 1, role: 'voter' },
    toPeer: { id: message.to, storeId: 2, role: 'voter' },
    regionEpoch: { confVer: 1, version: 12 },
    message,
    isTombstone: extra.isTombstone ?? false,
    startKey: new TextEncoder().encode('bench/regions/006666'),
    endKey: new TextEncoder().encode('bench/regions/006667'),
    ...(extra.quiesce === undefined ? {} : { quiesce: extra.quiesce }),
  };
}

describe('Coalesced heartbeats', () => {
  it('carries a heartbeat in well under half the bytes of a full RaftMessage', () => {
    const env = envelope(heartbeat());
    const fullBytes = raftpb.RaftMessage.encode(encodeRegionRaftMessage(env)).finish().length;
    const record = coalescedHeartbeatOf(env) ?? assert.fail('a heartbeat coalesces');
    const compactBytes = raftpb.CoalescedHeartbeat.encode(encodeCoalescedHeartbeat(record)).finish().length;
    const response = coalescedHeartbeatOf(
      envelope(heartbeat({ type: 'heartbeatResp', commit: 0, from: 20_002, to: 20_001 })),
    );
    const responseBytes = raftpb.CoalescedHeartbeat.encode(
      encodeCoalescedHeartbeat(response ?? assert.fail('a response coalesces')),
    ).finish().length;
    console.log(
      `heartbeat bytes: full RaftMessage ${fullBytes}, CoalescedHeartbeat ${compactBytes}; response ${responseBytes}`,
    );
    assert.ok(compactBytes * 2 < fullBytes, `${compactBytes} vs ${fullBytes}`);
  });

  it('round-trips heartbeats, responses and quiesce notices', () => {
    for (const env of [
      envelope(heartbeat()),
      envelope(heartbeat({ context: new Uint8Array(0) }), { quiesce: true }),
      envelope(heartbeat({ type: 'heartbeatResp', commit: 0 })),
    ]) {
      const record = coalescedHeartbeatOf(env) ?? assert.fail('coalesces');
      const wire = raftpb.CoalescedHeartbeat.decode(
        raftpb.CoalescedHeartbeat.encode(encodeCoalescedHeartbeat(record)).finish(),
      );
      const back = decodeCoalescedHeartbeat(wire, record.isResponse, 'heartbeats[0]');
      assert.deepEqual({ ...back, context: [...back.context] }, { ...record, context: [...record.context] });
    }
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat(), { quiesce: true }))?.quiesce, true);
  });

  it('leaves everything that is not a plain heartbeat to the full form', () => {
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat({ type: 'app' }))), undefined);
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat(), { isTombstone: true })), undefined);
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat({ index: 3 }))), undefined);
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat({ context: new Uint8Array(65) }))), undefined);
    // Commit 0: the follower's store may not hold the region; only a full message creates it.
    assert.equal(coalescedHeartbeatOf(envelope(heartbeat({ commit: 0 }))), undefined);
  });

  it('rejects zero ids and a quiesce flag on a response', () => {
    const good = encodeCoalescedHeartbeat(coalescedHeartbeatOf(envelope(heartbeat())) ?? assert.fail());
    assert.throws(
      () => decodeCoalescedHeartbeat({ ...good, regionId: 0n }, false, 'h'),
      TransportDecodeError,
    );
    assert.throws(
      () => decodeCoalescedHeartbeat({ ...good, toPeerId: 0n }, false, 'h'),
      TransportDecodeError,
    );
    assert.throws(() => decodeCoalescedHeartbeat({ ...good, quiesce: true }, true, 'h'), /never a quiesce/);
    assert.throws(
      () => decodeCoalescedHeartbeat({ ...good, term: 1n << 60n }, false, 'h'),
      TransportDecodeError,
    );
  });
});
