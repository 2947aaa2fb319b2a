// Full disks on real store processes: a store's data directory is a small tmpfs (48 MiB)
// filled by the cluster's own writes of 64 KiB values, then grown by a remount (the way an
// operator frees space). No store exits: a full follower stops acking while the other two
// keep taking writes, and catches up once space is freed; a full leader hands its leadership
// to a store with room (the writes meanwhile retry, none is refused); a leader whose two
// followers are full answers DiskFull at once while reads and deletes still work, and takes
// writes again after freeing. No acknowledged write is lost. Needs root (tmpfs).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { kvpb, metapb, raftpb } from '@flotilla/proto';
import { KvClient, KvClientError } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, adminStatus, eventually } from '../support/store-processes.js';
import { Tmpfs } from '../support/tmpfs.js';

const VALUE_BYTES = 64 * 1024;
const TMPFS_MIB = 48;
const FREED_MIB = 128;
/** Writes tried at most while filling: 48 MiB holds well under 400 of them (log + data). */
const FILL_WRITES_MAX = 2_000;
const FILL_CONCURRENCY = 4;
/** Writes the other two stores take while the third is full. */
const MORE_WRITES = 40;
/** Writes at most while waiting for the full follower to fall behind. */
const MORE_WRITES_MAX = 400;
/**
 * A 1 MiB memtable: the reserve covers LevelDB's own flushes and compactions (15 MiB of the
 * 48, storage/disk-space.ts), so the stores mostly meet the reserve, not ENOSPC.
 */
const STORE_ARGS = ['--disk-check-interval-ms', '100', '--engine-write-buffer-bytes', String(1024 * 1024)];

const te = new TextEncoder();
const keyOf = (i: number): Uint8Array => te.encode(`fill-${String(i).padStart(6, '0')}`);

/** A three-store static cluster whose stores in `fullSlots` run on a small tmpfs. */
class DiskCluster {
  private constructor(
    readonly stores: StoreProcesses,
    readonly mounts: Map<number, Tmpfs>,
    readonly client: KvClient,
  ) {}

  static async start(fullSlots: readonly number[]): Promise<DiskCluster> {
    const stores = await StoreProcesses.create([1, 2, 3], [...STORE_ARGS]);
    const mounts = new Map<number, Tmpfs>();
    try {
      for (const slot of fullSlots)
        mounts.set(slot, Tmpfs.mount(join(stores.baseDir, `store-${slot}`), TMPFS_MIB));
      await stores.startAll();
    } catch (err) {
      await DiskCluster.teardown(stores, mounts);
      throw err;
    }
    const client = new KvClient({ stores: stores.addresses, operationTimeoutMs: 20_000 });
    return new DiskCluster(stores, mounts, client);
  }

  private static async teardown(stores: StoreProcesses, mounts: Map<number, Tmpfs>): Promise<void> {
    for (const id of stores.runningStoreIds()) await stores.kill9(id);
    for (const fs of mounts.values()) fs.unmount();
    await stores.stopAll();
  }

  address(slot: number): string {
    return this.stores.addresses.get(slot) as string;
  }

  async stop(): Promise<void> {
    this.client.close();
    await DiskCluster.teardown(this.stores, this.mounts);
  }

  async diskUsage(slot: number): Promise<metapb.DiskUsage | undefined> {
    const status = await adminStatus(this.address(slot)).catch(() => undefined);
    return status?.disk?.usage;
  }

  async region(slot: number): Promise<raftpb.RegionStatus | undefined> {
    const status = await adminStatus(this.address(slot)).catch(() => undefined);
    return status?.regions.find((r) => Number(r.region?.id) === 1);
  }

  /** Moves region 1's leadership to `slot` (peer id = store id in a static cluster). */
  async leadFrom(slot: number): Promise<void> {
    const leader = await eventually(() => this.stores.leaderStoreId(), 30_000, 'a leader');
    if (leader === slot) return;
    const region = (await this.region(leader))?.region;
    const client = new raftpb.AdminClient(this.address(leader), grpc.credentials.createInsecure());
    await new Promise<void>((resolve, reject) =>
      client.transferLeader(
        {
          regionId: 1n,
          regionEpoch: region?.regionEpoch,
          toPeer: { id: BigInt(slot), storeId: BigInt(slot), role: metapb.PeerRole.VOTER },
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    client.close();
    await eventually(
      async () => ((await this.stores.leaderStoreId()) === slot ? true : undefined),
      30_000,
      `store ${slot} leading`,
    );
  }

  /** Every store's log, for assertion messages. */
  logs(): string {
    return [1, 2, 3].map((slot) => `--- store ${slot}\n${this.stores.log(slot).slice(-4000)}`).join('\n');
  }
}

interface FillResult {
  /** Keys whose put was acknowledged. */
  readonly acked: number[];
  /** The first DiskFull a put got, if any. */
  readonly diskFull: KvClientError | undefined;
  readonly writesCount: number;
}

/**
 * Puts 64 KiB values with FILL_CONCURRENCY in flight until `done` says so (checked between
 * writes) or a put is refused with DiskFull; any other failure fails the test.
 */
async function fill(
  client: KvClient,
  firstKey: number,
  done: () => Promise<boolean>,
  writesMax = FILL_WRITES_MAX,
): Promise<FillResult> {
  const acked: number[] = [];
  let next = firstKey;
  let diskFull: KvClientError | undefined;
  let finished = false;
  const worker = async (): Promise<void> => {
    while (!finished && next < firstKey + writesMax) {
      const i = next++;
      try {
        await client.put(keyOf(i), randomBytes(VALUE_BYTES));
        acked.push(i);
      } catch (err) {
        if (err instanceof KvClientError && err.code === 'regionError' && /disk full/.test(err.message)) {
          diskFull ??= err;
          finished = true;
          return;
        }
        throw err;
      }
      if (await done()) finished = true;
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
  return { acked, diskFull, writesCount: next - firstKey };
}

async function assertAllReadable(cluster: DiskCluster, keys: readonly number[]): Promise<void> {
  for (const i of keys) {
    const value = await cluster.client.get(keyOf(i)).catch((err: unknown) => {
      throw new Error(`reading acknowledged key ${i}: ${String(err)}\n${cluster.logs()}`);
    });
    assert.equal(value?.length, VALUE_BYTES, `acknowledged key ${i} lost`);
  }
}

const notNormal = (usage: metapb.DiskUsage | undefined): boolean =>
  usage !== undefined && usage !== metapb.DiskUsage.NORMAL;

describe('a store on a full disk (real processes, 48 MiB tmpfs data directories)', () => {
  describe('a follower fills up', () => {
    let cluster: DiskCluster;
    before(async () => {
      cluster = await DiskCluster.start([3]);
    });
    after(() => cluster?.stop());

    it('stays up while the other two take writes, restarts on the full disk, and catches up once space is freed', async () => {
      await cluster.leadFrom(1);
      // Until store 3 is already full (seen once: a compaction may give it room for a while,
      // but the values only accumulate, so it fills again).
      let full = false;
      const filled = await fill(
        cluster.client,
        0,
        async () => (full ||= (await cluster.diskUsage(3)) === metapb.DiskUsage.ALREADY_FULL),
      );
      assert.equal(filled.diskFull, undefined, 'a write was refused while only a follower was full');
      assert.ok(full, `store 3 never reported a full disk\n${cluster.logs()}`);
      // The cluster keeps taking writes through stores 1 and 2, and store 3, unable to
      // persist them, falls behind (it stops acking; it does not exit).
      let behind = false;
      const fellBehind = async (): Promise<boolean> => {
        const [lagging, leading] = [await cluster.region(3), await cluster.region(1)];
        return (behind ||=
          lagging !== undefined && leading !== undefined && lagging.appliedIndex < leading.appliedIndex);
      };
      const more = await fill(cluster.client, 100_000, fellBehind, MORE_WRITES_MAX).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${cluster.logs()}`);
      });
      assert.equal(more.diskFull, undefined);
      assert.ok(more.acked.length >= 1);
      assert.ok(behind, `store 3 kept up on a full disk\n${cluster.logs()}`);
      assert.ok((await cluster.region(3)) !== undefined, `store 3 stopped answering\n${cluster.logs()}`);
      assert.doesNotMatch(cluster.stores.log(3), /fatal/);

      // Killed and restarted on the full disk, store 3 starts (no crash loop: on a disk with
      // no room at all it deletes its placeholder to open), reports its disk, and answers
      // stale reads of what it holds. (Its level may be back to normal: opening LevelDB
      // deletes what a failed compaction left.)
      await cluster.stores.kill9(3);
      await cluster.stores.start(3).catch((err: unknown) => {
        throw new Error(`store 3 did not restart on its full disk: ${String(err)}\n${cluster.logs()}`);
      });
      const usageAfterRestart = await eventually(() => cluster.diskUsage(3), 30_000, 'store 3 status');
      console.log(`# store 3 restarted on the full disk: disk ${metapb.DiskUsage[usageAfterRestart]}`);
      const early = filled.acked[0] as number;
      const restarted = new KvClient({
        stores: new Map([[3, cluster.address(3)]]),
        operationTimeoutMs: 10_000,
      });
      try {
        assert.equal((await restarted.get(keyOf(early), kvpb.ReadConsistency.STALE))?.length, VALUE_BYTES);
      } finally {
        restarted.close();
      }

      cluster.mounts.get(3)?.resize(FREED_MIB);
      await eventually(
        async () => {
          const [a, b] = [await cluster.region(3), await cluster.region(1)];
          return a !== undefined &&
            b !== undefined &&
            a.appliedIndex === b.appliedIndex &&
            a.appliedIndex > 0n
            ? true
            : undefined;
        },
        120_000,
        'store 3 catching up after space was freed',
      );
      await eventually(
        async () => ((await cluster.diskUsage(3)) === metapb.DiskUsage.NORMAL ? true : undefined),
        30_000,
        'store 3 back to a normal disk',
      );
      for (const line of cluster.stores.log(3).split('\n'))
        if (/disk/.test(line)) console.log(`# store 3: ${line}`);
      const store3 = new KvClient({
        stores: new Map([[3, cluster.address(3)]]),
        operationTimeoutMs: 10_000,
      });
      try {
        const last = more.acked[more.acked.length - 1] as number;
        assert.equal((await store3.get(keyOf(last), kvpb.ReadConsistency.STALE))?.length, VALUE_BYTES);
      } finally {
        store3.close();
      }
      await assertAllReadable(cluster, [...filled.acked, ...more.acked]);
    });
  });

  describe('the leader fills up', () => {
    let cluster: DiskCluster;
    before(async () => {
      cluster = await DiskCluster.start([1]);
    });
    after(() => cluster?.stop());

    it('hands its leadership to a store with room: writes go on, reads and deletes work, and it catches up once space is freed', async () => {
      await cluster.leadFrom(1);
      // Until store 1 is full and no longer leads: the writes meanwhile are told to retry
      // (ServerIsBusy) and land on the new leader; none is refused.
      // (Seen once is enough: store 1's disk may be back above its reserve after a compaction.)
      let moved = false;
      const leaderMoved = async (): Promise<boolean> =>
        (moved ||= notNormal(await cluster.diskUsage(1)) && (await cluster.stores.leaderStoreId()) !== 1);
      const filled = await fill(cluster.client, 0, leaderMoved);
      assert.equal(filled.diskFull, undefined, `a write was refused\n${cluster.logs()}`);
      assert.ok(moved, `store 1 kept leading on a full disk\n${cluster.logs()}`);
      // Store 1 hands off (a log line says so), or, when a compaction takes its last bytes
      // first and its loop waits for space, the others elect a leader without it.
      for (const line of cluster.stores.log(1).split('\n'))
        if (/disk|leadership/.test(line)) console.log(`# store 1: ${line}`);
      assert.ok(filled.acked.length > 10);
      const more = await fill(cluster.client, 100_000, () => Promise.resolve(false), MORE_WRITES);
      assert.equal(more.acked.length, MORE_WRITES);
      await assertAllReadable(cluster, [...filled.acked, ...more.acked]);
      const doomed = filled.acked[0] as number;
      await cluster.client.delete(keyOf(doomed));
      assert.equal(await cluster.client.get(keyOf(doomed)), undefined);
      assert.doesNotMatch(cluster.stores.log(1), /fatal/);

      cluster.mounts.get(1)?.resize(FREED_MIB);
      const leaderSlot = (await cluster.stores.leaderStoreId()) as number;
      await eventually(
        async () => {
          const [a, b] = [await cluster.region(1), await cluster.region(leaderSlot)];
          return a !== undefined && b !== undefined && a.appliedIndex === b.appliedIndex ? true : undefined;
        },
        120_000,
        'store 1 catching up after space was freed',
      );
      await eventually(
        async () => ((await cluster.diskUsage(1)) === metapb.DiskUsage.NORMAL ? true : undefined),
        30_000,
        'store 1 back to a normal disk',
      );
      await assertAllReadable(cluster, [...filled.acked.slice(1), ...more.acked]);
    });
  });

  describe('two of three stores fill up', () => {
    let cluster: DiskCluster;
    before(async () => {
      cluster = await DiskCluster.start([2, 3]);
    });
    after(() => cluster?.stop());

    it('answers DiskFull from the leader with room, serves reads, and resumes once space is freed', async () => {
      await cluster.leadFrom(1);
      const filled = await fill(cluster.client, 0, () => Promise.resolve(false));
      assert.ok(
        filled.diskFull !== undefined,
        `no DiskFull after ${filled.writesCount} writes\n${cluster.logs()}`,
      );
      assert.match(filled.diskFull.message, /disk full on store [23], [23]/);
      await assertAllReadable(cluster, filled.acked);
      for (const slot of [1, 2, 3]) assert.doesNotMatch(cluster.stores.log(slot), /fatal/);

      cluster.mounts.get(2)?.resize(FREED_MIB);
      cluster.mounts.get(3)?.resize(FREED_MIB);
      await eventually(
        () =>
          cluster.client.put(te.encode('after-free'), randomBytes(VALUE_BYTES)).then(
            () => true,
            () => undefined,
          ),
        60_000,
        'a write succeeding after space was freed',
      );
      await assertAllReadable(cluster, filled.acked);
    });
  });
});
