// Conversions between PD's wire messages and the cluster's types, with the validation a
// request needs before it touches the cluster: every malformed field becomes an
// invalid-argument error naming the field.
import type { metapb, pdpb } from '@flotilla/proto';
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import {
  peerFromProto,
  peerToProto,
  regionFromProto,
  regionToProto,
} from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { RegionReport } from '../cluster/pd-cluster.js';
import { positiveId } from '../cluster/pd-cluster.js';
import { invalidArgument } from '../pd-errors.js';

/** Peers one region may list. */
const PEERS_PER_REGION_MAX = 64;

/** Runs a conversion, turning its range errors into invalid-argument errors. */
function checked<T>(convert: () => T): T {
  try {
    return convert();
  } catch (err) {
    if (err instanceof RangeError) throw invalidArgument(err.message);
    throw err;
  }
}

export function regionOfRequest(region: metapb.Region | undefined, field: string): RegionMeta {
  if (region === undefined) throw invalidArgument(`${field} is missing`);
  const meta = checked(() => regionFromProto(region, field));
  positiveId(region.id, `${field}.id`);
  if (meta.endKey.length > 0 && compareBytes(meta.startKey, meta.endKey) >= 0) {
    throw invalidArgument(`${field}: start key must be below end key`);
  }
  if (meta.peers.length === 0 || meta.peers.length > PEERS_PER_REGION_MAX) {
    throw invalidArgument(`${field} must have 1 to ${PEERS_PER_REGION_MAX} peers, has ${meta.peers.length}`);
  }
  for (const [i, peer] of meta.peers.entries()) {
    if (peer.id <= 0 || peer.storeId <= 0) throw invalidArgument(`${field}.peers[${i}] needs positive ids`);
  }
  return meta;
}

export function regionReportOf(req: pdpb.RegionHeartbeatRequest): RegionReport {
  const region = regionOfRequest(req.region, 'region');
  if (req.leader === undefined) throw invalidArgument('leader is missing');
  const leader = checked(() => peerFromProto(req.leader as metapb.Peer, 'leader'));
  if (!region.peers.some((p) => p.id === leader.id && p.storeId === leader.storeId)) {
    throw invalidArgument(`leader peer ${leader.id} is not a peer of region ${region.id}`);
  }
  return checked(() => ({
    region,
    leader,
    term: safe(req.term, 'term'),
    downPeers: req.downPeers.map((d, i) => {
      if (d.peer === undefined) throw new RangeError(`downPeers[${i}].peer is missing`);
      return {
        peer: peerFromProto(d.peer, `downPeers[${i}].peer`),
        downMs: safe(d.downMs, `downPeers[${i}].downMs`),
      };
    }),
    pendingPeers: req.pendingPeers.map((p, i) => peerFromProto(p, `pendingPeers[${i}]`)),
    load: {
      approximateSizeBytes: safe(req.approximateSizeBytes, 'approximateSizeBytes'),
      approximateKeys: safe(req.approximateKeys, 'approximateKeys'),
      intervalMs: req.intervalMs,
      writtenBytes: safe(req.writtenBytes, 'writtenBytes'),
      writtenKeys: safe(req.writtenKeys, 'writtenKeys'),
      readBytes: safe(req.readBytes, 'readBytes'),
      readKeys: safe(req.readKeys, 'readKeys'),
    },
  }));
}

export function regionInfoToProto(info: RegionInfo): pdpb.RegionInfo {
  return {
    region: regionToProto(info.region),
    leader: info.leader === undefined ? undefined : peerToProto(info.leader),
    downPeers: info.downPeers.map((d) => ({ peer: peerToProto(d.peer), downMs: BigInt(d.downMs) })),
    pendingPeers: info.pendingPeers.map(peerToProto),
  };
}

function safe(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`${field}: ${value} is out of range`);
  return Number(value);
}
