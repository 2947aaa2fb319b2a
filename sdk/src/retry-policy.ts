// What to do after a failed attempt, as a pure function of what happened and what kind of
// request it was. The rule that keeps writes exactly-once: a write is resent only when the
// store cannot have applied it — a RegionError (the store refused it before proposing, or
// Raft dropped it), or a send that certainly never left the client. When a write may have
// reached the store and its answer was lost, the answer is ResultUnknownError, unless the
// caller declared the write idempotent. Reads change nothing and are always resent.
//
// StaleCommand: the store answers it when the log position of the proposal was committed
// with another leader's entry (server/src/store/region-peer.ts completeProposal). Raft never
// commits two entries at one index, so the proposal is dead: "not applied", retried.
import * as grpc from '@grpc/grpc-js';
import type { errorpb } from './wire.js';
import { kvpb } from './wire.js';
import {
  AbortedError,
  DiskFullError,
  EntryTooLargeError,
  InternalError,
  InvalidArgumentError,
  KeyTooLargeError,
  ResultUnknownError,
  TimeoutError,
  TooManyKeysError,
  ValueTooLargeError,
} from './errors.js';
import type { FlotillaError } from './errors.js';
import type { Peer, RegionInfo } from './region-cache.js';
import { regionFromProto } from './region-cache.js';
import type { RetryReason } from './stats.js';
import type { SendFailure } from './store-transport.js';

export interface RequestKind {
  /** Whether the request changes data. */
  readonly write: boolean;
  /** Whether the caller allowed resending the write after an ambiguous failure. */
  readonly idempotent: boolean;
}

/** How to fix routing before the next attempt. */
export type RoutingFix =
  | { readonly kind: 'none' }
  /** Send to this peer next (a NotLeader hint). */
  | { readonly kind: 'leader'; readonly leader: Peer }
  /** This store did not lead or could not be reached: try the region's other peers. */
  | { readonly kind: 'nextPeer' }
  /** The region changed: cache these regions and route the keys again. */
  | { readonly kind: 'regions'; readonly regions: readonly RegionInfo[] }
  /** Forget the region and route the keys again (through PD). */
  | { readonly kind: 'invalidateRegion' }
  /** Forget the store's address and its regions. */
  | { readonly kind: 'invalidateStore' };

export type Decision =
  | {
      readonly kind: 'retry';
      readonly reason: RetryReason;
      readonly fix: RoutingFix;
      /** 'now', a jittered backoff, or a pause the server asked for. */
      readonly wait: 'now' | 'backoff' | { readonly ms: number };
    }
  | { readonly kind: 'fail'; readonly error: FlotillaError };

const retry = (reason: RetryReason, fix: RoutingFix, wait: 'now' | 'backoff' | { ms: number }): Decision => ({
  kind: 'retry',
  reason,
  fix,
  wait,
});

export function decideRegionError(error: errorpb.RegionError, addressed: Peer): Decision {
  const e = error.error;
  switch (e?.$case) {
    case 'notLeader': {
      const leader = e.notLeader.leader;
      if (leader === undefined || leader.id === addressed.id)
        return retry('notLeader', { kind: 'nextPeer' }, 'now');
      return retry(
        'notLeader',
        { kind: 'leader', leader: { id: leader.id, storeId: leader.storeId } },
        'now',
      );
    }
    case 'epochNotMatch': {
      // The store that answered led the old region (requests go to leaders): after a split its
      // peers of the new regions campaign at once, and after a merge it holds the merged
      // region's leader if anyone does. Guess it leads them; a NotLeader hint corrects a miss.
      const regions = e.epochNotMatch.currentRegions.map((r) =>
        regionFromProto(
          r,
          r.peers.find((p) => p.storeId === addressed.storeId),
        ),
      );
      if (regions.length === 0) return retry('epochNotMatch', { kind: 'invalidateRegion' }, 'now');
      return retry('epochNotMatch', { kind: 'regions', regions }, 'now');
    }
    case 'regionNotFound':
      return retry('regionNotFound', { kind: 'invalidateRegion' }, 'backoff');
    case 'keyNotInRegion':
      return retry('keyNotInRegion', { kind: 'invalidateRegion' }, 'now');
    case 'serverIsBusy':
      return retry('serverIsBusy', { kind: 'none' }, { ms: Math.max(1, e.serverIsBusy.backoffMs) });
    case 'staleCommand':
      return retry('staleCommand', { kind: 'none' }, 'backoff');
    case 'storeNotMatch':
      return retry('storeNotMatch', { kind: 'invalidateStore' }, 'backoff');
    case 'raftEntryTooLarge': {
      const t = e.raftEntryTooLarge;
      return {
        kind: 'fail',
        error: new EntryTooLargeError(
          `the write encodes to ${t.entrySizeBytes} bytes; region ${t.regionId} accepts at most ${t.entrySizeBytesMax}`,
        ),
      };
    }
    case 'diskFull': {
      const storeIds = e.diskFull.storeIds.map(Number);
      return {
        kind: 'fail',
        error: new DiskFullError(storeIds, `disk full on store ${storeIds.join(', ')}: ${e.diskFull.reason}`),
      };
    }
    case undefined:
      return { kind: 'fail', error: new InternalError(`region error without a kind: ${error.message}`) };
  }
}

export function decideKeyError(error: kvpb.KeyError, kind: RequestKind): Decision {
  const message = error.message || kvpb.keyErrorCodeToJSON(error.code);
  switch (error.code) {
    case kvpb.KeyErrorCode.INVALID_ARGUMENT:
      return { kind: 'fail', error: new InvalidArgumentError('request', message) };
    case kvpb.KeyErrorCode.KEY_TOO_LARGE:
      return { kind: 'fail', error: new KeyTooLargeError(message) };
    case kvpb.KeyErrorCode.VALUE_TOO_LARGE:
      return { kind: 'fail', error: new ValueTooLargeError(message) };
    case kvpb.KeyErrorCode.TOO_MANY_KEYS:
      return { kind: 'fail', error: new TooManyKeysError(message) };
    case kvpb.KeyErrorCode.DEADLINE_EXCEEDED:
      if (kind.write && !kind.idempotent)
        return { kind: 'fail', error: new ResultUnknownError(`the store's deadline passed: ${message}`) };
      return retry('readTimeout', { kind: 'none' }, 'now');
    default:
      return { kind: 'fail', error: new InternalError(`store key error ${error.code}: ${message}`) };
  }
}

export function decideSendFailure(failure: SendFailure, kind: RequestKind, timeoutMs: number): Decision {
  const ambiguousWrite = failure.sent && kind.write && !kind.idempotent;
  const unknown = (why: string): Decision => ({
    kind: 'fail',
    error: new ResultUnknownError(`the write was sent but ${why}; it may or may not have been applied`),
  });
  switch (failure.kind) {
    case 'connect':
      return retry('notSent', { kind: 'nextPeer' }, 'now');
    case 'connection':
      return ambiguousWrite
        ? unknown(`the connection broke (${failure.message})`)
        : retry('connectionLost', { kind: 'nextPeer' }, 'now');
    case 'deadline':
      if (ambiguousWrite) return unknown(`no answer came within ${timeoutMs} ms`);
      return { kind: 'fail', error: new TimeoutError(`no result within ${timeoutMs} ms`) };
    case 'abort':
      return ambiguousWrite
        ? unknown('the call was aborted')
        : { kind: 'fail', error: new AbortedError('aborted') };
    case 'status':
      return decideStatus(failure, kind, ambiguousWrite, unknown, timeoutMs);
  }
}

function decideStatus(
  failure: SendFailure,
  kind: RequestKind,
  ambiguousWrite: boolean,
  unknown: (why: string) => Decision,
  timeoutMs: number,
): Decision {
  switch (failure.grpcCode) {
    case grpc.status.INVALID_ARGUMENT:
      return { kind: 'fail', error: new InvalidArgumentError('request', failure.message) };
    case grpc.status.DEADLINE_EXCEEDED:
      if (ambiguousWrite) return unknown(`no answer came within ${timeoutMs} ms`);
      return kind.write && !kind.idempotent
        ? { kind: 'fail', error: new TimeoutError(`no result within ${timeoutMs} ms`) }
        : retry('readTimeout', { kind: 'none' }, 'now');
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    case grpc.status.RESOURCE_EXHAUSTED:
      return ambiguousWrite
        ? unknown(failure.message)
        : retry('connectionLost', { kind: 'nextPeer' }, 'backoff');
    default:
      if (ambiguousWrite) return unknown(`the store failed: ${failure.message}`);
      return { kind: 'fail', error: new InternalError(`store call failed: ${failure.message}`) };
  }
}
