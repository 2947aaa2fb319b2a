// Why a region refused a request, as data with the hint the client needs. One union for
// the whole store; regionErrorToProto is the single place it is mapped to the wire.
import type { errorpb } from '@flotilla/proto';
import type { PeerMeta, RegionMeta } from './region-meta.js';
import { peerToProto, regionToProto } from './region-meta.js';

export type RegionError =
  | { readonly kind: 'notLeader'; readonly regionId: number; readonly leader: PeerMeta | undefined }
  | { readonly kind: 'epochNotMatch'; readonly currentRegions: readonly RegionMeta[] }
  | { readonly kind: 'regionNotFound'; readonly regionId: number }
  | { readonly kind: 'keyNotInRegion'; readonly key: Uint8Array; readonly region: RegionMeta }
  | { readonly kind: 'serverIsBusy'; readonly reason: string; readonly backoffMs: number }
  | { readonly kind: 'staleCommand'; readonly reason: string }
  | { readonly kind: 'storeNotMatch'; readonly requestStoreId: number; readonly actualStoreId: number }
  | {
      readonly kind: 'raftEntryTooLarge';
      readonly regionId: number;
      readonly entrySizeBytes: number;
      readonly entrySizeBytesMax: number;
    }
  /** The store is (almost) out of disk space: it refuses proposals that add data (disk/disk-guard.ts). */
  | { readonly kind: 'diskFull'; readonly storeIds: readonly number[]; readonly reason: string };

export function describeRegionError(e: RegionError): string {
  switch (e.kind) {
    case 'notLeader':
      return `region ${e.regionId}: not leader${e.leader ? `; leader is peer ${e.leader.id} on store ${e.leader.storeId}` : '; leader unknown'}`;
    case 'epochNotMatch':
      return `region epoch does not match; current regions: ${e.currentRegions.map((r) => `${r.id}(v${r.epoch.version},c${r.epoch.confVer})`).join(', ')}`;
    case 'regionNotFound':
      return `region ${e.regionId} not found on this store`;
    case 'keyNotInRegion':
      return `key is not in region ${e.region.id}`;
    case 'serverIsBusy':
      return `server is busy: ${e.reason}; retry after ${e.backoffMs} ms`;
    case 'staleCommand':
      return `stale command: ${e.reason}`;
    case 'storeNotMatch':
      return `request for store ${e.requestStoreId} reached store ${e.actualStoreId}`;
    case 'raftEntryTooLarge':
      return `region ${e.regionId}: entry of ${e.entrySizeBytes} bytes exceeds ${e.entrySizeBytesMax} bytes`;
    case 'diskFull':
      return `disk full on store ${e.storeIds.join(', ')}: ${e.reason}`;
    default:
      return assertNever(e);
  }
}

export function regionErrorToProto(e: RegionError): errorpb.RegionError {
  const message = describeRegionError(e);
  switch (e.kind) {
    case 'notLeader':
      return {
        message,
        error: {
          $case: 'notLeader',
          notLeader: { regionId: BigInt(e.regionId), leader: e.leader ? peerToProto(e.leader) : undefined },
        },
      };
    case 'epochNotMatch':
      return {
        message,
        error: {
          $case: 'epochNotMatch',
          epochNotMatch: { currentRegions: e.currentRegions.map(regionToProto) },
        },
      };
    case 'regionNotFound':
      return {
        message,
        error: { $case: 'regionNotFound', regionNotFound: { regionId: BigInt(e.regionId) } },
      };
    case 'keyNotInRegion':
      return {
        message,
        error: {
          $case: 'keyNotInRegion',
          keyNotInRegion: {
            key: Buffer.from(e.key),
            regionId: BigInt(e.region.id),
            startKey: Buffer.from(e.region.startKey),
            endKey: Buffer.from(e.region.endKey),
          },
        },
      };
    case 'serverIsBusy':
      return {
        message,
        error: { $case: 'serverIsBusy', serverIsBusy: { reason: e.reason, backoffMs: e.backoffMs } },
      };
    case 'staleCommand':
      return { message, error: { $case: 'staleCommand', staleCommand: {} } };
    case 'storeNotMatch':
      return {
        message,
        error: {
          $case: 'storeNotMatch',
          storeNotMatch: { requestStoreId: BigInt(e.requestStoreId), actualStoreId: BigInt(e.actualStoreId) },
        },
      };
    case 'raftEntryTooLarge':
      return {
        message,
        error: {
          $case: 'raftEntryTooLarge',
          raftEntryTooLarge: {
            regionId: BigInt(e.regionId),
            entrySizeBytes: BigInt(e.entrySizeBytes),
            entrySizeBytesMax: BigInt(e.entrySizeBytesMax),
          },
        },
      };
    case 'diskFull':
      return {
        message,
        error: { $case: 'diskFull', diskFull: { storeIds: e.storeIds.map(BigInt), reason: e.reason } },
      };
    default:
      return assertNever(e);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
