// The codec between core Raft records and raftpb: every core message kind survives a
// round trip through the wire bytes unchanged, and malformed wire input is rejected with a
// TransportDecodeError naming the field (unset/unknown enums, missing required fields,
// integers past 2^53, local-only kinds arriving from the network).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Message, MessageType } from '@flotilla/raft';
import type { metapb } from '@flotilla/proto';
import { raftpb } from '@flotilla/proto';

import {
  ALL_MESSAGE_TYPES,
  decodeConfState,
  decodeHardState,
  decodeMessage,
  decodeRegionRaftMessage,
  encodeConfState,
  encodeHardState,
  encodeMessage,
  encodeRegionRaftMessage,
  estimateRaftMessageSizeBytes,
  isLocalOnlyMessageType,
} from '../../src/transport/raft-message-codec.js';
import type { RegionRaftMessage } from '../../src/transport/raft-message-codec.js';
import { TransportDecodeError, TransportEncodeError } from '../../src/transport/transport-errors.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function coreMessage(type: MessageType, overrides: Partial<Message> = {}): Message {
  return {
    type,
    to: 2,
    from: 1,
    term: 7,
    logTerm: 6,
    index: 41,
    entries: [
      { term: 6, index: 42, type: 'normal', data: bytes('put a=1') },
      { term: 7, index: 43, type: 'confChange', data: new Uint8Array([1, 2, 3]) },
      { term: 7, index: 44, type: 'normal', data: new Uint8Array(0) },
    ],
    commit: 40,
    reject: true,
    rejectHint: 39,
    snapshot: {
      metadata: {
        index: 30,
        term: 5,
        confState: {
          voters: [1, 2],
          learners: [4],
          votersOutgoing: [1, 2, 3],
          learnersNext: [3],
          autoLeave: true,
        },
      },
      data: bytes('descriptor'),
    },
    context: bytes('ctx'),
    ...overrides,
  };
}

function envelope(message: Message): RegionRaftMessage {
  return {
    regionId: 9_007_199_254_740_991, // Number.MAX_SAFE_INTEGER survives
    fromPeer: { id: message.from, storeId: 11, role: 'voter' },
    toPeer: { id: message.to, storeId: 12, role: 'learner' },
    regionEpoch: { confVer: 3, version: 5 },
    message,
    isTombstone: false,
    startKey: bytes('a'),
    endKey: new Uint8Array(0),
  };
}

/** Through the actual protobuf bytes, as the network would carry it. */
function overTheWire(m: raftpb.RaftMessage): raftpb.RaftMessage {
  return raftpb.RaftMessage.decode(raftpb.RaftMessage.encode(m).finish());
}

function expectDecodeError(action: () => unknown, field: string): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof TransportDecodeError, `expected TransportDecodeError, got ${String(err)}`);
    assert.equal(err.code, 'decode');
    assert.equal(err.field, field);
    assert.ok(err.message.includes(field));
    return true;
  });
}

function validWire(): raftpb.RaftMessage {
  return encodeRegionRaftMessage(envelope(coreMessage('app')));
}

describe('raft message codec: round trips', () => {
  for (const type of ALL_MESSAGE_TYPES) {
    it(`round-trips a '${type}' message with entries and a snapshot through protobuf bytes`, () => {
      const message = coreMessage(type);
      const wire = raftpb.Message.decode(raftpb.Message.encode(encodeMessage(message)).finish());
      assert.deepStrictEqual(decodeMessage(wire), message);
    });
  }

  for (const type of ALL_MESSAGE_TYPES.filter((t) => !isLocalOnlyMessageType(t))) {
    it(`round-trips a '${type}' RaftMessage envelope (region, peers, epoch, keys)`, () => {
      const original = envelope(coreMessage(type));
      assert.deepStrictEqual(
        decodeRegionRaftMessage(overTheWire(encodeRegionRaftMessage(original))),
        original,
      );
    });
  }

  it('round-trips a message without snapshot, entries or context (snapshot stays null)', () => {
    const message = coreMessage('heartbeat', {
      entries: [],
      snapshot: null,
      context: new Uint8Array(0),
      reject: false,
    });
    const decoded = decodeRegionRaftMessage(overTheWire(encodeRegionRaftMessage(envelope(message))));
    assert.deepStrictEqual(decoded.message, message);
    assert.equal(decoded.message.snapshot, null);
  });

  it('round-trips hard state and conf state', () => {
    const hs = { term: 5, vote: 3, commit: 2 ** 40 };
    assert.deepStrictEqual(
      decodeHardState(raftpb.HardState.decode(raftpb.HardState.encode(encodeHardState(hs)).finish())),
      hs,
    );
    const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    assert.deepStrictEqual(
      decodeConfState(raftpb.ConfState.decode(raftpb.ConfState.encode(encodeConfState(cs)).finish())),
      cs,
    );
  });

  it('hands the core plain Uint8Array views, not Buffers', () => {
    const decoded = decodeRegionRaftMessage(overTheWire(validWire()));
    assert.equal(Object.getPrototypeOf(decoded.message.context), Uint8Array.prototype);
    assert.equal(Object.getPrototypeOf(decoded.message.entries[0]?.data), Uint8Array.prototype);
  });
});

describe('raft message codec: rejections', () => {
  it('rejects an unset (UNSPECIFIED) message type', () => {
    const wire = validWire();
    expectDecodeError(
      () =>
        decodeRegionRaftMessage({
          ...wire,
          message: { ...wire.message!, type: raftpb.MessageType.UNSPECIFIED },
        }),
      'message.type',
    );
  });

  it('rejects an unknown message type from a newer peer', () => {
    const wire = validWire();
    expectDecodeError(
      () =>
        decodeRegionRaftMessage({ ...wire, message: { ...wire.message!, type: 99 as raftpb.MessageType } }),
      'message.type',
    );
    expectDecodeError(
      () =>
        decodeRegionRaftMessage({
          ...wire,
          message: { ...wire.message!, type: raftpb.MessageType.UNRECOGNIZED },
        }),
      'message.type',
    );
  });

  it('rejects an unknown entry type and names the entry', () => {
    const wire = validWire();
    const entries = [...wire.message!.entries];
    entries[1] = { ...entries[1]!, type: 7 as raftpb.EntryType };
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, message: { ...wire.message!, entries } }),
      'message.entries[1].type',
    );
  });

  it('rejects local-only message kinds arriving from another store', () => {
    for (const type of ALL_MESSAGE_TYPES.filter(isLocalOnlyMessageType)) {
      const wire = encodeRegionRaftMessage(envelope(coreMessage(type)));
      expectDecodeError(() => decodeRegionRaftMessage(wire), 'message.type');
    }
  });

  it('rejects terms, indexes and ids beyond Number.MAX_SAFE_INTEGER', () => {
    const unsafe = 2n ** 53n;
    const wire = validWire();
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, regionId: unsafe }), 'regionId');
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, message: { ...wire.message!, term: unsafe } }),
      'message.term',
    );
    const entries = [{ ...wire.message!.entries[0]!, index: 2n ** 64n - 1n }];
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, message: { ...wire.message!, entries } }),
      'message.entries[0].index',
    );
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, fromPeer: { ...wire.fromPeer!, storeId: unsafe } }),
      'fromPeer.storeId',
    );
  });

  it('rejects missing required fields: message, peers, epoch, snapshot of a snap, snapshot metadata', () => {
    const wire = validWire();
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, message: undefined }), 'message');
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, fromPeer: undefined }), 'fromPeer');
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, toPeer: undefined }), 'toPeer');
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, regionEpoch: undefined }), 'regionEpoch');
    const snapMessage = { ...wire.message!, type: raftpb.MessageType.SNAP };
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, message: { ...snapMessage, snapshot: undefined } }),
      'message.snapshot',
    );
    const noMetadata = { ...snapMessage, snapshot: { data: Buffer.alloc(0), metadata: undefined } };
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, message: noMetadata }),
      'message.snapshot.metadata',
    );
  });

  it('rejects region id 0 and peers without id or store', () => {
    const wire = validWire();
    expectDecodeError(() => decodeRegionRaftMessage({ ...wire, regionId: 0n }), 'regionId');
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, toPeer: { ...wire.toPeer!, id: 0n } }),
      'toPeer.id',
    );
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, toPeer: { ...wire.toPeer!, storeId: 0n } }),
      'toPeer.storeId',
    );
    expectDecodeError(
      () => decodeRegionRaftMessage({ ...wire, toPeer: { ...wire.toPeer!, role: 9 as metapb.PeerRole } }),
      'toPeer.role',
    );
  });

  it('decodes an empty protobuf frame into a decode error, not a crash', () => {
    expectDecodeError(
      () => decodeRegionRaftMessage(raftpb.RaftMessage.decode(new Uint8Array(0))),
      'regionId',
    );
  });

  it('refuses to encode negative or unsafe numbers', () => {
    assert.throws(() => encodeMessage(coreMessage('app', { term: -1 })), TransportEncodeError);
    assert.throws(() => encodeMessage(coreMessage('app', { index: 2 ** 53 })), TransportEncodeError);
    assert.throws(() => encodeMessage(coreMessage('app', { commit: 1.5 })), TransportEncodeError);
  });
});

describe('raft message codec: size estimate', () => {
  it('never underestimates the encoded size (frames are cut by it)', () => {
    const huge = 2 ** 53 - 1;
    const cases: Message[] = [
      coreMessage('app'),
      coreMessage('heartbeat', { entries: [], snapshot: null, context: new Uint8Array(0) }),
      coreMessage('app', {
        term: huge,
        index: huge,
        commit: huge,
        logTerm: huge,
        rejectHint: huge,
        to: huge,
        from: huge,
        entries: Array.from({ length: 50 }, (_, i) => ({
          term: huge,
          index: huge - i,
          type: 'normal' as const,
          data: new Uint8Array(i * 7),
        })),
      }),
      coreMessage('snap', { entries: [], context: new Uint8Array(300) }),
    ];
    for (const message of cases) {
      const wire = encodeRegionRaftMessage({
        ...envelope(message),
        startKey: new Uint8Array(40),
        endKey: new Uint8Array(40),
      });
      const actualBytes = raftpb.RaftMessage.encode(wire).finish().length;
      const estimatedBytes = estimateRaftMessageSizeBytes(wire);
      assert.ok(
        estimatedBytes >= actualBytes,
        `${message.type}: estimate ${estimatedBytes} < actual ${actualBytes}`,
      );
      assert.ok(
        estimatedBytes <= actualBytes * 2 + 400,
        `${message.type}: estimate ${estimatedBytes} far above ${actualBytes}`,
      );
    }
  });
});
