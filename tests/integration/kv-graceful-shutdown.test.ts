// Graceful shutdown of a real store process: SIGTERM to the leader under a light write load
// hands its leadership to another voter before the process exits 0, and every write the
// client makes succeeds. For comparison the longest gap between two acknowledged writes is
// reported for SIGTERM and for SIGKILL of a leader (reported only: timings on a busy
// machine are not asserted).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KvClient } from '../../server/src/cli/kv-client.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';

const te = new TextEncoder();
const td = new TextDecoder();
/** Writes that must succeed after each event before the load stops. */
const WRITES_AFTER_EVENT = 50;

/** One client writing unique keys one after another with a short pause: a light load. */
class WriteLoad {
  readonly acked: Array<{ key: string; atMs: number }> = [];
  readonly errors: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly client: KvClient) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopped && i < 1_000_000; i++) {
      const key = `gs-${String(i).padStart(7, '0')}`;
      try {
        await this.client.put(te.encode(key), te.encode(`v${i}`));
        this.acked.push({ key, atMs: Date.now() });
      } catch (err) {
        this.errors.push(`${key}: ${String(err)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Resolves once `count` more writes than now were acknowledged. */
  more(count: number, what: string): Promise<true> {
    const target = this.acked.length + count;
    return eventually(async () => (this.acked.length >= target ? true : undefined), 60_000, what);
  }

  /** The longest pause between two acknowledged writes from index `from` on. */
  longestGapMs(from: number): number {
    let gap = 0;
    for (let i = Math.max(from, 1); i < this.acked.length; i++) {
      gap = Math.max(gap, (this.acked[i]?.atMs ?? 0) - (this.acked[i - 1]?.atMs ?? 0));
    }
    return gap;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

describe('graceful shutdown (3 real store processes)', () => {
  let cluster: StoreProcesses;
  let client: KvClient;

  before(async () => {
    // A generous drain bound: the hand-over must not be cut short by a slow machine.
    cluster = await StoreProcesses.create([1, 2, 3], ['--drain-timeout-ms', '10000']);
    await cluster.startAll();
    client = new KvClient({ stores: cluster.addresses, operationTimeoutMs: 30_000, attemptTimeoutMs: 1_000 });
  });

  after(async () => {
    client?.close();
    await cluster?.stopAll();
  });

  it('SIGTERM of the leader hands over leadership, exits 0, and no write fails', async (t) => {
    const load = new WriteLoad(client);
    try {
      await load.more(WRITES_AFTER_EVENT, 'writes before the SIGTERM');
      const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
      const beforeTerm = load.acked.length;
      assert.equal(await cluster.stop(leader, 'SIGTERM'), 0, cluster.log(leader));
      // 0 only if an election moved leadership away on its own just before the signal.
      assert.match(cluster.log(leader), /leadership handed over for [01] region\(s\)\n/);
      assert.doesNotMatch(cluster.log(leader), /still led here/);
      await load.more(WRITES_AFTER_EVENT, 'writes after the SIGTERM');
      const newLeader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a new leader');
      assert.notEqual(newLeader, leader);
      const termGapMs = load.longestGapMs(beforeTerm);

      // The same with SIGKILL of the new leader, for comparison (the stopped store rejoins first).
      await cluster.start(leader);
      const beforeKill = load.acked.length;
      await cluster.kill9(newLeader);
      await load.more(WRITES_AFTER_EVENT, 'writes after the SIGKILL');
      t.diagnostic(
        `longest gap between acknowledged writes: SIGTERM ${termGapMs} ms, SIGKILL ${load.longestGapMs(beforeKill)} ms`,
      );
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.errors, []);
    const lost: string[] = [];
    for (const { key } of load.acked) if ((await client.get(te.encode(key))) === undefined) lost.push(key);
    assert.deepEqual(lost, [], `${lost.length} of ${load.acked.length} acknowledged writes lost`);
    assert.equal(td.decode(await client.get(te.encode(load.acked[0]?.key ?? ''))), 'v0');
  });
});
