// A 3-store cluster of real processes on loopback with LevelDB on disk: writes and
// linearizable reads through gRPC, then kill -9 of the leader in the middle of a write
// load: every acknowledged write survives, a new leader serves, and the killed store
// recovers from its own disk and catches up when restarted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kvpb } from '@flotilla/proto';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';

const te = new TextEncoder();
const td = new TextDecoder();

describe('3-store cluster (real processes)', () => {
  let cluster: StoreProcesses;
  let client: KvClient;

  before(async () => {
    cluster = await StoreProcesses.create([1, 2, 3]);
    await cluster.startAll();
    client = new KvClient({ stores: cluster.addresses, operationTimeoutMs: 30_000 });
  });

  after(async () => {
    client?.close();
    await cluster?.stopAll();
  });

  it('writes and reads back through the elected leader', async () => {
    for (let i = 0; i < 50; i++) await client.put(te.encode(`key-${i}`), te.encode(`value-${i}`));
    assert.equal(td.decode(await client.get(te.encode('key-7'))), 'value-7');
    assert.equal(await client.get(te.encode('missing')), undefined);
    const scanned = await client.scan(te.encode('key-1'), te.encode('key-2'), 100);
    assert.deepEqual(
      scanned.map(([k]) => td.decode(k)),
      ['key-1', ...Array.from({ length: 10 }, (_, i) => `key-1${i}`)],
    );
    for (const consistency of [kvpb.ReadConsistency.LEASE, kvpb.ReadConsistency.LOG]) {
      assert.equal(td.decode(await client.get(te.encode('key-9'), consistency)), 'value-9');
    }
  });

  it('keeps every acknowledged write when the leader is killed with SIGKILL mid-load', async () => {
    const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
    const acked: string[] = [];
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const key = `load-${String(i).padStart(6, '0')}`;
        await client.put(te.encode(key), te.encode(`v${i}`));
        acked.push(key);
      }
    })();
    await eventually(async () => (acked.length >= 100 ? true : undefined), 60_000, '100 acknowledged writes');
    await cluster.kill9(leader);
    const ackedAtKill = acked.length;
    await eventually(
      async () => (acked.length >= ackedAtKill + 100 ? true : undefined),
      60_000,
      '100 more writes after the kill',
    );
    stop = true;
    await writer;
    const newLeader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a new leader');
    assert.notEqual(newLeader, leader);
    const lost: string[] = [];
    for (const key of acked) if ((await client.get(te.encode(key))) === undefined) lost.push(key);
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes lost`);

    // The killed store restarts on its own data directory and catches up.
    await cluster.start(leader);
    const last = acked.at(-1) as string;
    const lagging = new KvClient({
      stores: new Map([[leader, cluster.addresses.get(leader) as string]]),
      operationTimeoutMs: 5_000,
    });
    try {
      await eventually(
        async () =>
          (await lagging.get(te.encode(last), kvpb.ReadConsistency.STALE).catch(() => undefined))
            ? true
            : undefined,
        60_000,
        `restarted store ${leader} applying ${last}`,
      );
    } finally {
      lagging.close();
    }
  });
});
