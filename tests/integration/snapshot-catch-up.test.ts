// A store killed with SIGKILL misses far more entries than the leader keeps (a small
// snapshot interval, so CI stays fast): the leader compacts past what the dead store has,
// and when it restarts on its own data it catches up through a snapshot streamed over
// gRPC, installed in one LevelDB batch, and then serves the newest key on a stale read,
// with the keys deleted while it was down gone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb } from '@flotilla/proto';
import type { raftpb } from '@flotilla/proto';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, adminStatus, eventually } from '../support/store-processes.js';

const te = new TextEncoder();
const td = new TextDecoder();

const SNAPSHOT_INTERVAL_ENTRIES = 200;
const COMPACTION_KEEP_ENTRIES = 20;
const WRITES_WHILE_DOWN = 1000;
const WRITES_IN_FLIGHT = 8;

async function regionStatus(address: string): Promise<raftpb.RegionStatus | undefined> {
  const status = await adminStatus(address).catch(() => undefined);
  return status?.regions.find((r) => Number(r.region?.id) === 1);
}

describe('snapshot catch-up (real processes)', () => {
  let cluster: StoreProcesses;
  let client: KvClient;

  before(async () => {
    cluster = await StoreProcesses.create(
      [1, 2, 3],
      [
        '--snapshot-interval-entries',
        String(SNAPSHOT_INTERVAL_ENTRIES),
        '--compaction-keep-entries',
        String(COMPACTION_KEEP_ENTRIES),
      ],
    );
    await cluster.startAll();
    client = new KvClient({ stores: cluster.addresses, operationTimeoutMs: 30_000 });
  });

  after(async () => {
    client?.close();
    await cluster?.stopAll();
  });

  it('restarts a store that missed more than the retained log and catches it up through a snapshot', async () => {
    const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
    const victim = [1, 2, 3].find((id) => id !== leader) as number;
    const victimAddress = cluster.addresses.get(victim) as string;
    const victimClient = new KvClient({
      stores: new Map([[victim, victimAddress]]),
      operationTimeoutMs: 5_000,
    });
    try {
      for (let i = 0; i < 20; i++) await client.put(te.encode(`doomed-${i}`), te.encode('x'));
      const staleGet = (key: string): Promise<Uint8Array | undefined> =>
        victimClient.get(te.encode(key), kvpb.ReadConsistency.STALE);
      await eventually(
        async () => staleGet('doomed-19').catch(() => undefined),
        30_000,
        'victim has doomed-19',
      );
      const before = await regionStatus(victimAddress);
      assert.ok(before);
      await cluster.kill9(victim);

      for (let i = 0; i < 20; i++) await client.delete(te.encode(`doomed-${i}`));
      for (let i = 0; i < WRITES_WHILE_DOWN; i += WRITES_IN_FLIGHT) {
        await Promise.all(
          Array.from({ length: WRITES_IN_FLIGHT }, (_, j) =>
            client.put(te.encode(`key-${String(i + j).padStart(5, '0')}`), te.encode(`value-${i + j}`)),
          ),
        );
      }
      const lastKey = `key-${String(WRITES_WHILE_DOWN - 1).padStart(5, '0')}`;
      const leaderStatus = await regionStatus(cluster.addresses.get(leader) as string);
      assert.ok(leaderStatus);
      assert.ok(
        leaderStatus.firstIndex > before.lastIndex + 1n,
        `the leader compacted past the victim's log (first ${leaderStatus.firstIndex}, victim last ${before.lastIndex})`,
      );

      await cluster.start(victim);
      const value = await eventually(
        async () => staleGet(lastKey).catch(() => undefined),
        60_000,
        `store ${victim} serving ${lastKey} on a stale read`,
      );
      assert.equal(td.decode(value), `value-${WRITES_WHILE_DOWN - 1}`);
      assert.equal(await staleGet('doomed-7'), undefined);
      const after = await regionStatus(victimAddress);
      assert.ok(after);
      assert.ok(after.firstIndex > before.lastIndex + 1n, `victim first index moved to ${after.firstIndex}`);
      assert.ok(after.appliedIndex >= leaderStatus.firstIndex);
    } finally {
      victimClient.close();
    }
  });
});
