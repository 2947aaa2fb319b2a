// A store whose Raft log was damaged on disk while it was down refuses to start, with a
// message naming the region and the record, instead of serving or replicating wrong data;
// the rest of the cluster keeps serving.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { LevelDbEngine } from '../../server/src/storage/leveldb-engine.js';
import { WriteBatch } from '../../server/src/storage/engine.js';
import { raftLogRange } from '../../server/src/storage/keys.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';

const te = new TextEncoder();

describe('damaged Raft log on disk', () => {
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

  it('makes the store refuse to start, naming region and record, while the others serve', async () => {
    for (let i = 0; i < 20; i++) await client.put(te.encode(`c${i}`), te.encode('v'));
    const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
    const victim = [1, 2, 3].find((id) => id !== leader) as number;
    await cluster.kill9(victim);

    // Flip one byte of the last log record of region 1, as a failing disk might.
    const engine = await LevelDbEngine.open(join(cluster.baseDir, `store-${victim}`, 'db'));
    const [last] = await engine.scan(raftLogRange(1, 0, Number.MAX_SAFE_INTEGER), {
      limit: 1,
      reverse: true,
    });
    assert.ok(last, 'the victim has a log');
    const damaged = last.value.slice();
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0xff;
    await engine.write(new WriteBatch().put(last.key, damaged), { sync: true });
    await engine.close();

    await assert.rejects(cluster.start(victim), (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      return /region 1: Raft log record \d+ is unusable/.test(message) && /refusing to start/.test(message);
    });
    await client.put(te.encode('still-serving'), te.encode('yes'));
    assert.equal(new TextDecoder().decode(await client.get(te.encode('still-serving'))), 'yes');
  });
});
