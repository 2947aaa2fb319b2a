// `flotilla status` rendering of a store's regions (admin-client.ts): the role column.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metapb, raftpb } from '@flotilla/proto';
import { formatStoreStatus } from '../../src/cli/admin-client.js';

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
