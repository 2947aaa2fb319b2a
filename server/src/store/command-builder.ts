// Builds the RaftCommand a client request is proposed as. The header pins the region epoch
// (checked again at apply) and the leader's wall clock, which turns a relative TTL into the
// absolute deadline every replica stores.
import { raftpb } from '@flotilla/proto';
import type { RegionMeta } from './region-meta.js';
import { epochToProto } from './region-meta.js';

export interface CommandOrigin {
  readonly region: RegionMeta;
  readonly peerId: number;
  readonly nowUnixMs: number;
}

export function commandHeader(origin: CommandOrigin): raftpb.RaftCommandHeader {
  return {
    regionId: BigInt(origin.region.id),
    peerId: BigInt(origin.peerId),
    regionEpoch: epochToProto(origin.region.epoch),
    proposedAtUnixMs: BigInt(origin.nowUnixMs),
  };
}

export type WriteMutation =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly ttlMs?: number }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'deleteRange'; readonly startKey: Uint8Array; readonly endKey: Uint8Array }
  /** Delete the key only if its TTL ran out by the command's timestamp (the expiry sweep). */
  | { readonly kind: 'expire'; readonly key: Uint8Array };

export function expireAt(origin: CommandOrigin, ttlMs: number | undefined): bigint {
  return ttlMs === undefined || ttlMs === 0 ? 0n : BigInt(origin.nowUnixMs + ttlMs);
}

export function encodeWrite(origin: CommandOrigin, mutations: readonly WriteMutation[]): Uint8Array {
  const ops: raftpb.WriteOp[] = mutations.map((m) => {
    switch (m.kind) {
      case 'put':
        return {
          op: {
            $case: 'put',
            put: {
              key: Buffer.from(m.key),
              value: Buffer.from(m.value),
              expireAtUnixMs: expireAt(origin, m.ttlMs),
            },
          },
        };
      case 'delete':
        return { op: { $case: 'delete', delete: { key: Buffer.from(m.key) } } };
      case 'deleteRange':
        return {
          op: {
            $case: 'deleteRange',
            deleteRange: { startKey: Buffer.from(m.startKey), endKey: Buffer.from(m.endKey) },
          },
        };
      case 'expire':
        return { op: { $case: 'expire', expire: { key: Buffer.from(m.key) } } };
    }
  });
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: { $case: 'write', write: { ops } },
  }).finish();
}

export interface CompareAndSwapSpec {
  readonly key: Uint8Array;
  /** undefined = the key must be absent. */
  readonly expectedValue: Uint8Array | undefined;
  /** undefined = delete the key. */
  readonly newValue: Uint8Array | undefined;
  readonly ttlMs?: number;
}

export function encodeCompareAndSwap(origin: CommandOrigin, spec: CompareAndSwapSpec): Uint8Array {
  const cas: raftpb.CompareAndSwapCommand = {
    key: Buffer.from(spec.key),
    expected:
      spec.expectedValue === undefined
        ? { $case: 'expectedAbsent', expectedAbsent: {} }
        : { $case: 'expectedValue', expectedValue: Buffer.from(spec.expectedValue) },
    update:
      spec.newValue === undefined
        ? { $case: 'delete', delete: {} }
        : { $case: 'newValue', newValue: Buffer.from(spec.newValue) },
    expireAtUnixMs: expireAt(origin, spec.ttlMs),
  };
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: { $case: 'compareAndSwap', compareAndSwap: cas },
  }).finish();
}

export function encodeReadBarrier(origin: CommandOrigin): Uint8Array {
  return raftpb.RaftCommand.encode({
    header: commandHeader(origin),
    command: { $case: 'readBarrier', readBarrier: {} },
  }).finish();
}
