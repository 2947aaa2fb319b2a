// Retry decisions for every kind of failure: which are resent (and how routing is fixed),
// and which end the call — above all, that a write which may have reached the store is
// never resent unless the caller declared it idempotent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';
import type { errorpb } from '@flotilla/proto';
import { decideKeyError, decideRegionError, decideSendFailure } from '../src/retry-policy.js';
import type { Decision, RequestKind } from '../src/retry-policy.js';
import { SendFailure } from '../src/store-transport.js';
import { DiskFullError } from '../src/errors.js';

const addressed = { id: 11n, storeId: 1n };
const read: RequestKind = { write: false, idempotent: true };
const write: RequestKind = { write: true, idempotent: false };
const idempotentWrite: RequestKind = { write: true, idempotent: true };

function regionError(error: errorpb.RegionError['error']): errorpb.RegionError {
  return { message: 'test', error };
}

function failCode(d: Decision): string | undefined {
  return d.kind === 'fail' ? d.error.code : undefined;
}

describe('retry policy: region errors (the store did not apply the request)', () => {
  it('NotLeader with a hint: go to the hinted leader at once', () => {
    const d = decideRegionError(
      regionError({
        $case: 'notLeader',
        notLeader: { regionId: 1n, leader: { id: 12n, storeId: 2n, role: 0 } },
      }),
      addressed,
    );
    assert.deepEqual(d, {
      kind: 'retry',
      reason: 'notLeader',
      fix: { kind: 'leader', leader: { id: 12n, storeId: 2n } },
      wait: 'now',
    });
  });

  it('NotLeader without a hint, or naming the addressed peer: try the next peer', () => {
    for (const leader of [undefined, { id: 11n, storeId: 1n, role: 0 }]) {
      const d = decideRegionError(
        regionError({ $case: 'notLeader', notLeader: { regionId: 1n, leader } }),
        addressed,
      );
      assert.deepEqual(d, { kind: 'retry', reason: 'notLeader', fix: { kind: 'nextPeer' }, wait: 'now' });
    }
  });

  it('EpochNotMatch: cache the current regions and re-route; without regions, reload from PD', () => {
    const current = {
      id: 1n,
      startKey: Buffer.from(''),
      endKey: Buffer.from('m'),
      regionEpoch: { confVer: 1n, version: 2n },
      peers: [],
    };
    const d = decideRegionError(
      regionError({ $case: 'epochNotMatch', epochNotMatch: { currentRegions: [current] } }),
      addressed,
    );
    assert.equal(d.kind, 'retry');
    assert.ok(d.kind === 'retry' && d.fix.kind === 'regions' && d.fix.regions[0]?.epoch.version === 2n);
    assert.ok(d.kind === 'retry' && d.fix.kind === 'regions' && d.fix.regions[0]?.leader === undefined);
    const empty = decideRegionError(
      regionError({ $case: 'epochNotMatch', epochNotMatch: { currentRegions: [] } }),
      addressed,
    );
    assert.ok(empty.kind === 'retry' && empty.fix.kind === 'invalidateRegion');
  });

  it('EpochNotMatch: the current regions are routed first to their peers on the store that answered', () => {
    const region = (id: bigint, start: string, end: string, stores: bigint[]) => ({
      id,
      startKey: Buffer.from(start),
      endKey: Buffer.from(end),
      regionEpoch: { confVer: 1n, version: 3n },
      peers: stores.map((storeId) => ({ id: id * 100n + storeId, storeId, role: 0 })),
    });
    // A split answered by store 1 (addressed): both halves have a peer there; a region
    // without one (moved away) gets no guess.
    const d = decideRegionError(
      regionError({
        $case: 'epochNotMatch',
        epochNotMatch: {
          currentRegions: [
            region(1n, '', 'm', [1n, 2n, 3n]),
            region(7n, 'm', '', [3n, 1n, 2n]),
            region(8n, 'x', 'y', [2n, 3n, 4n]),
          ],
        },
      }),
      addressed,
    );
    assert.ok(d.kind === 'retry' && d.fix.kind === 'regions');
    assert.deepEqual(
      d.fix.regions.map((r) => r.leader),
      [{ id: 101n, storeId: 1n }, { id: 701n, storeId: 1n }, undefined],
    );
  });

  it('RegionNotFound and StoreNotMatch: invalidate and back off; KeyNotInRegion: invalidate, at once', () => {
    const nf = decideRegionError(
      regionError({ $case: 'regionNotFound', regionNotFound: { regionId: 1n } }),
      addressed,
    );
    assert.deepEqual(nf, {
      kind: 'retry',
      reason: 'regionNotFound',
      fix: { kind: 'invalidateRegion' },
      wait: 'backoff',
    });
    const sm = decideRegionError(
      regionError({ $case: 'storeNotMatch', storeNotMatch: { requestStoreId: 1n, actualStoreId: 4n } }),
      addressed,
    );
    assert.deepEqual(sm, {
      kind: 'retry',
      reason: 'storeNotMatch',
      fix: { kind: 'invalidateStore' },
      wait: 'backoff',
    });
    const kn = decideRegionError(
      regionError({
        $case: 'keyNotInRegion',
        keyNotInRegion: {
          key: Buffer.from('k'),
          regionId: 1n,
          startKey: Buffer.alloc(0),
          endKey: Buffer.alloc(0),
        },
      }),
      addressed,
    );
    assert.deepEqual(kn, {
      kind: 'retry',
      reason: 'keyNotInRegion',
      fix: { kind: 'invalidateRegion' },
      wait: 'now',
    });
  });

  it('ServerIsBusy: wait the time the store asked for', () => {
    const d = decideRegionError(
      regionError({ $case: 'serverIsBusy', serverIsBusy: { reason: 'full', backoffMs: 75 } }),
      addressed,
    );
    assert.deepEqual(d, { kind: 'retry', reason: 'serverIsBusy', fix: { kind: 'none' }, wait: { ms: 75 } });
  });

  it('StaleCommand: retried (the proposal lost its log slot, so it was not applied)', () => {
    const d = decideRegionError(regionError({ $case: 'staleCommand', staleCommand: {} }), addressed);
    assert.deepEqual(d, { kind: 'retry', reason: 'staleCommand', fix: { kind: 'none' }, wait: 'backoff' });
  });

  it('RaftEntryTooLarge, DiskFull (with the full store) and an empty error end the call', () => {
    const big = decideRegionError(
      regionError({
        $case: 'raftEntryTooLarge',
        raftEntryTooLarge: { regionId: 1n, entrySizeBytes: 9n, entrySizeBytesMax: 8n },
      }),
      addressed,
    );
    assert.equal(failCode(big), 'ENTRY_TOO_LARGE');
    const full = decideRegionError(
      regionError({
        $case: 'diskFull',
        diskFull: { storeIds: [3n], reason: 'almostFull: 1.0 MiB available' },
      }),
      addressed,
    );
    assert.equal(failCode(full), 'DISK_FULL');
    assert.ok(full.kind === 'fail' && full.error instanceof DiskFullError);
    assert.deepEqual(full.error.storeIds, [3]);
    assert.equal(failCode(decideRegionError(regionError(undefined), addressed)), 'INTERNAL');
  });
});

describe('retry policy: key errors', () => {
  const keyError = (code: kvpb.KeyErrorCode): kvpb.KeyError => ({ code, message: 'm', key: Buffer.alloc(0) });

  it('maps validation failures to their typed errors', () => {
    assert.equal(
      failCode(decideKeyError(keyError(kvpb.KeyErrorCode.INVALID_ARGUMENT), write)),
      'INVALID_ARGUMENT',
    );
    assert.equal(failCode(decideKeyError(keyError(kvpb.KeyErrorCode.KEY_TOO_LARGE), write)), 'KEY_TOO_LARGE');
    assert.equal(
      failCode(decideKeyError(keyError(kvpb.KeyErrorCode.VALUE_TOO_LARGE), write)),
      'VALUE_TOO_LARGE',
    );
    assert.equal(failCode(decideKeyError(keyError(kvpb.KeyErrorCode.TOO_MANY_KEYS), read)), 'TOO_MANY_KEYS');
    assert.equal(failCode(decideKeyError(keyError(kvpb.KeyErrorCode.UNSPECIFIED), read)), 'INTERNAL');
  });

  it("the store's deadline: a write's outcome is unknown, a read is retried", () => {
    assert.equal(
      failCode(decideKeyError(keyError(kvpb.KeyErrorCode.DEADLINE_EXCEEDED), write)),
      'RESULT_UNKNOWN',
    );
    assert.equal(decideKeyError(keyError(kvpb.KeyErrorCode.DEADLINE_EXCEEDED), read).kind, 'retry');
    assert.equal(
      decideKeyError(keyError(kvpb.KeyErrorCode.DEADLINE_EXCEEDED), idempotentWrite).kind,
      'retry',
    );
  });
});

describe('retry policy: send failures', () => {
  it('never sent: every request goes to the next peer, writes included', () => {
    for (const kind of [read, write]) {
      const d = decideSendFailure(new SendFailure('connect', false, 'refused'), kind, 1000);
      assert.deepEqual(d, { kind: 'retry', reason: 'notSent', fix: { kind: 'nextPeer' }, wait: 'now' });
    }
  });

  it('connection lost after sending: reads retry, writes are ResultUnknown unless idempotent', () => {
    const lost = new SendFailure('connection', true, 'reset');
    assert.equal(decideSendFailure(lost, read, 1000).kind, 'retry');
    assert.equal(failCode(decideSendFailure(lost, write, 1000)), 'RESULT_UNKNOWN');
    assert.equal(decideSendFailure(lost, idempotentWrite, 1000).kind, 'retry');
  });

  it('deadline: Timeout unless a write was sent (ResultUnknown)', () => {
    assert.equal(failCode(decideSendFailure(new SendFailure('deadline', true, ''), read, 1000)), 'TIMEOUT');
    assert.equal(failCode(decideSendFailure(new SendFailure('deadline', false, ''), write, 1000)), 'TIMEOUT');
    assert.equal(
      failCode(decideSendFailure(new SendFailure('deadline', true, ''), write, 1000)),
      'RESULT_UNKNOWN',
    );
  });

  it('abort: Aborted unless a write was sent (ResultUnknown)', () => {
    assert.equal(failCode(decideSendFailure(new SendFailure('abort', true, ''), read, 1000)), 'ABORTED');
    assert.equal(failCode(decideSendFailure(new SendFailure('abort', false, ''), write, 1000)), 'ABORTED');
    assert.equal(
      failCode(decideSendFailure(new SendFailure('abort', true, ''), write, 1000)),
      'RESULT_UNKNOWN',
    );
  });

  it('gRPC statuses of unary calls', () => {
    const status = (code: grpc.status): SendFailure => new SendFailure('status', true, 'x', code);
    assert.equal(
      failCode(decideSendFailure(status(grpc.status.INVALID_ARGUMENT), write, 1000)),
      'INVALID_ARGUMENT',
    );
    assert.equal(failCode(decideSendFailure(status(grpc.status.UNAVAILABLE), write, 1000)), 'RESULT_UNKNOWN');
    assert.equal(decideSendFailure(status(grpc.status.UNAVAILABLE), read, 1000).kind, 'retry');
    assert.equal(failCode(decideSendFailure(status(grpc.status.INTERNAL), write, 1000)), 'RESULT_UNKNOWN');
    assert.equal(failCode(decideSendFailure(status(grpc.status.INTERNAL), read, 1000)), 'INTERNAL');
    assert.equal(
      failCode(decideSendFailure(status(grpc.status.DEADLINE_EXCEEDED), write, 1000)),
      'RESULT_UNKNOWN',
    );
  });
});
