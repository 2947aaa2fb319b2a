// Issue 23: an idle cluster finishes replicating. 3 PD members and 3 stores as real processes,
// started the way `npm start` starts them (the first store bootstraps a one-voter region, the
// others join), and no client request at all: PD's replica checker must grow the region to
// three voters by itself. The stores' periodic region report is set to an hour, so only the
// reports a leader sends on events (a membership change applied, a learner caught up, a new
// heartbeat stream) can move PD's operators forward: before, the first learner waited for a
// periodic report to show it caught up (20 s by default), and a region that quiesced with the
// learner in it reported the learner down until a client write woke it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metapb, pdpb } from '@flotilla/proto';
import { PdClusterProcesses } from '../support/pd-cluster-processes.js';
import { adminStatus, eventually } from '../support/store-processes.js';

/** Generous: a busy 2-core machine starts 6 processes here; the work itself takes seconds. */
const REPLICATED_WITHIN_MS = 90_000;
const AN_HOUR_MS = 3_600_000;

describe('an idle fresh cluster', { timeout: 300_000 }, () => {
  let cluster: PdClusterProcesses | undefined;

  before(async () => {
    cluster = await PdClusterProcesses.start({
      storeArgs: ['--region-heartbeat-interval-ms', String(AN_HOUR_MS)],
      client: { timeoutMs: 10_000 },
    });
  });

  after(async () => {
    await cluster?.stop();
  });

  test('grows its region to three voters with no client traffic, and no learner stays', async () => {
    const c = cluster ?? assert.fail('no cluster');
    const region = await eventually(
      async () => {
        const res = await c.pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 16).catch(() => undefined);
        const only = res?.regions.length === 1 ? res.regions[0] : undefined;
        const peers = only?.region?.peers ?? [];
        const settled = peers.length === 3 && peers.every((p) => p.role === metapb.PeerRole.VOTER);
        return settled && only?.pendingPeers.length === 0 ? only : undefined;
      },
      REPLICATED_WITHIN_MS,
      'three voters in PD with no learner',
    );
    const regionId = region.region?.id;
    const storeIds = new Set(region.region?.peers.map((p) => Number(p.storeId)));
    assert.equal(storeIds.size, 3, 'one replica per store');
    // Every store holds the region with the same three voters, and one leads it.
    const roles = await eventually(
      async () => {
        const seen = await Promise.all(
          [1, 2, 3].map(async (slot) => {
            const status = await adminStatus(c.stores.addresses.get(slot) as string).catch(() => undefined);
            return status?.regions.find((r) => r.region?.id === regionId);
          }),
        );
        const agreed = seen.every(
          (r) =>
            r?.region?.peers.length === 3 && r.region.peers.every((p) => p.role === metapb.PeerRole.VOTER),
        );
        return agreed ? seen : undefined;
      },
      REPLICATED_WITHIN_MS,
      'every store sees three voters',
    );
    const leaders = roles.filter((r) => r?.leaderPeerId === r?.peerId);
    assert.equal(leaders.length, 1, 'one leader');
    const ops = await c.pd.getOperators();
    const replicaAdds = ops.finished.filter((op) => op.kind === 'replica');
    assert.equal(replicaAdds.length, 2, 'two replicas added, one operator each');
    assert.ok(
      replicaAdds.every((op) => op.status === pdpb.OperatorStatus.SUCCEEDED),
      `each succeeded: ${replicaAdds.map((op) => pdpb.operatorStatusToJSON(op.status)).join(', ')}`,
    );
  });
});
