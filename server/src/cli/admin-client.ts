// Calls to one store's Admin service, for `flotilla status` and the tests, and the
// human-readable rendering of a store's status.
import * as grpc from '@grpc/grpc-js';
import { metapb, raftpb } from '@flotilla/proto';

export function fetchStoreStatus(address: string, timeoutMs: number): Promise<raftpb.StatusResponse> {
  const client = new raftpb.AdminClient(address, grpc.credentials.createInsecure());
  return new Promise<raftpb.StatusResponse>((resolve, reject) => {
    client.status(
      { regionIds: [] },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      },
    );
  });
}

const ROLE_NAMES: Record<number, string> = {
  [raftpb.RaftRole.FOLLOWER]: 'follower',
  [raftpb.RaftRole.PRE_CANDIDATE]: 'pre-candidate',
  [raftpb.RaftRole.CANDIDATE]: 'candidate',
  [raftpb.RaftRole.LEADER]: 'LEADER',
};

/**
 * The peer's role as a person reads it: a learner is a follower to the Raft core (it takes
 * the leader's log) but never votes, and the region's membership says which it is.
 */
export function peerRoleName(r: raftpb.RegionStatus): string {
  const self = r.region?.peers.find((p) => p.id === r.peerId);
  if (r.role === raftpb.RaftRole.FOLLOWER && self?.role === metapb.PeerRole.LEARNER) return 'learner';
  return ROLE_NAMES[r.role] ?? `role ${r.role}`;
}

/** One line for the store, one per region it holds a peer of. */
export function formatStoreStatus(storeId: number, status: raftpb.StatusResponse): string[] {
  const lines = [
    `store ${storeId}  ${status.address}  version ${status.version}  cluster ${status.clusterId}  up ${formatDurationMs(Number(status.uptimeMs))}`,
  ];
  if (status.disk !== undefined) lines.push(formatDiskStatus(status.disk));
  for (const r of status.regions) {
    const region = r.region;
    const range = region ? `[${keyText(region.startKey, '-inf')}, ${keyText(region.endKey, '+inf')})` : '[?]';
    const epoch = region?.regionEpoch ? `c${region.regionEpoch.confVer}/v${region.regionEpoch.version}` : '?';
    lines.push(
      `  region ${region?.id ?? '?'} ${range} epoch ${epoch}  peer ${r.peerId}  ${peerRoleName(r)}` +
        `  leader peer ${r.leaderPeerId === 0n ? 'unknown' : r.leaderPeerId}  term ${r.term}` +
        `  commit ${r.commitIndex}  applied ${r.appliedIndex}  log ${r.firstIndex}..${r.lastIndex}` +
        ` (${formatBytes(Number(r.logSizeBytes))})`,
    );
  }
  return lines;
}

const DISK_USAGE_NAMES: Readonly<Record<number, string>> = {
  [metapb.DiskUsage.NORMAL]: 'normal',
  [metapb.DiskUsage.ALMOST_FULL]: 'ALMOST FULL (writes that add data refused)',
  [metapb.DiskUsage.ALREADY_FULL]: 'ALREADY FULL (writes and appends refused)',
};

/** "  disk 3.1 MiB free of 24.0 MiB (reserve 1.2 MiB): ALMOST FULL ...". */
export function formatDiskStatus(disk: raftpb.StoreDiskStatus): string {
  const used = Number(disk.capacityBytes - disk.availableBytes);
  const extra = [
    disk.placeholderBytes > 0n ? `placeholder ${formatBytes(Number(disk.placeholderBytes))}` : '',
    disk.noSpaceWritesCount > 0n ? `${disk.noSpaceWritesCount} write(s) hit ENOSPC` : '',
    disk.waitingForSpace ? 'a write is waiting for space' : '',
  ].filter((part) => part !== '');
  return (
    `  disk ${formatBytes(Number(disk.availableBytes))} free of ${formatBytes(Number(disk.capacityBytes))}` +
    ` (${formatBytes(used)} used, reserve ${formatBytes(Number(disk.reservedBytes))}): ` +
    `${DISK_USAGE_NAMES[disk.usage] ?? `usage ${disk.usage}`}` +
    (extra.length > 0 ? `; ${extra.join(', ')}` : '')
  );
}

function keyText(key: Uint8Array, emptyAs: string): string {
  if (key.length === 0) return emptyAs;
  const text = Buffer.from(key).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${Buffer.from(key).toString('hex')}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function formatDurationMs(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
}
