// `flotilla status` rendering of a store's regions (admin-client.ts): the role column.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metapb, pdpb, raftpb } from '@flotilla/proto';
import { formatStoreStatus } from '../../src/cli/admin-client.js';
import { formatPdStoreLine } from '../../src/cli/pd-store-line.js';

function storeStatus(role: raftpb.RaftRole, selfRole: metapb.PeerRole): raftpb.StatusResponse {
  return {
    storeId: 4n,
    clusterId: 1n,
    address: '127.0.0.1:1',
    version: '0.1.0',
    uptimeMs: 1000n,
    regions: [
      {
        region: {
          id: 2n,
          startKey: Buffer.alloc(0),
          endKey: Buffer.alloc(0),
          regionEpoch: { confVer: 3n, version: 1n },
          peers: [
            { id: 3n, storeId: 1n, role: metapb.PeerRole.VOTER },
            { id: 6n, storeId: 4n, role: selfRole },
          ],
        },
        peerId: 6n,
        role,
        leaderPeerId: 3n,
        term: 6n,
        commitIndex: 9n,
        appliedIndex: 9n,
        firstIndex: 6n,
        lastIndex: 9n,
        logSizeBytes: 100n,
      },
    ],
  };
}

describe('flotilla status', () => {
  it('shows a learner as learner, not follower', () => {
    const [, line] = formatStoreStatus(4, storeStatus(raftpb.RaftRole.FOLLOWER, metapb.PeerRole.LEARNER));
    assert.match(line ?? '', /peer 6 {2}learner {2}leader peer 3/);
  });

  it('shows a voter that follows as follower', () => {
    const [, line] = formatStoreStatus(4, storeStatus(raftpb.RaftRole.FOLLOWER, metapb.PeerRole.VOTER));
    assert.match(line ?? '', /peer 6 {2}follower {2}leader peer 3/);
  });
});

describe('flotilla status: PD view of a store disk (pd-store-line.ts)', () => {
  const stats = (diskUsage: metapb.DiskUsage): pdpb.StoreStats =>
    pdpb.StoreStats.fromPartial({
      storeId: 4n,
      capacityBytes: 24n * 1024n * 1024n,
      availableBytes: 1024n * 1024n,
      reservedBytes: 2n * 1024n * 1024n,
      diskUsage,
    });

  it('says what PD does with a store by its reported disk level', () => {
    assert.match(
      formatPdStoreLine(stats(metapb.DiskUsage.NORMAL)),
      /^ {2}PD: disk .* free of .*, normal: may receive/,
    );
    const full = formatPdStoreLine(stats(metapb.DiskUsage.ALMOST_FULL));
    assert.match(
      full,
      /\(reserve 2\.0 MiB\), ALMOST FULL: no new replicas or leaders; its leaders and regions move away/,
    );
    assert.match(formatPdStoreLine(stats(metapb.DiskUsage.ALREADY_FULL)), /ALREADY FULL/);
    assert.equal(formatPdStoreLine(undefined), '  PD: no store heartbeat yet');
  });
});
