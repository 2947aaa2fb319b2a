// The SDK against a real PD cluster (a PD member and 3 stores, real processes) in the two
// situations a client gets wrong most easily:
//   - a scan whose region splits while the scan is between pages (forward and reverse) must
//     return every key exactly once, in order;
//   - a compare-and-swap whose outcome cannot be known (its region's followers are frozen
//     with SIGSTOP after the leader took the proposal, so it cannot commit before the
//     deadline) must fail with ResultUnknownError, be sent exactly once (no silent retry),
//     and the key must end up with the old or the new value, never anything else.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { raftpb } from '@flotilla/proto';
import { ResultUnknownError } from '../../sdk/src/index.js';
import type { ClientStats, FlotillaClient, RetryReason } from '../../sdk/src/index.js';
import { PdClusterProcesses } from '../support/pd-cluster-processes.js';
import type { StoreProcesses } from '../support/store-processes.js';
import { adminStatus, eventually, adminSplitRegion } from '../support/store-processes.js';

/** Generous bounds: a busy 2-core machine runs a PD member and 3 stores here. */
const SETTLE_MS = 90_000;
const SCAN_KEYS_COUNT = 2_000;
const SCAN_PAGE_SIZE = 50;

const scanKey = (i: number): string => `scan/${String(i).padStart(5, '0')}`;

interface LocalRegion {
  readonly slot: number;
  readonly region: NonNullable<raftpb.RegionStatus['region']>;
}

/** The store slot whose peer leads the region holding `key`, with that peer's view of the region. */
async function leaderOf(stores: StoreProcesses, key: string): Promise<LocalRegion | undefined> {
  const k = Buffer.from(key);
  for (const slot of stores.runningStoreIds()) {
    const status = await adminStatus(stores.addresses.get(slot) as string).catch(() => undefined);
    for (const r of status?.regions ?? []) {
      const region = r.region;
      if (region === undefined || r.role !== raftpb.RaftRole.LEADER) continue;
      const afterStart = Buffer.compare(k, region.startKey) >= 0;
      const beforeEnd = region.endKey.length === 0 || Buffer.compare(k, region.endKey) < 0;
      if (afterStart && beforeEnd) return { slot, region };
    }
  }
  return undefined;
}

/** Splits the region holding `splitKeys[0]` at `splitKeys` through its leader's Admin service. */
async function split(stores: StoreProcesses, splitKeys: readonly string[]): Promise<void> {
  const first = splitKeys[0] as string;
  // PD may be moving a replica or the leader meanwhile (a new epoch, another leader): ask again.
  const res = await eventually(
    async () => {
      const leader = await leaderOf(stores, first);
      if (leader === undefined) return undefined;
      const answer = await adminSplitRegion(stores.addresses.get(leader.slot) as string, {
        regionId: leader.region.id,
        regionEpoch: leader.region.regionEpoch,
        splitKeys: splitKeys.map((k) => Buffer.from(k)),
      }).catch(() => undefined);
      return answer?.regionError === undefined ? answer : undefined;
    },
    SETTLE_MS,
    `a split at ${first}`,
  );
  assert.equal(res.regions.length, splitKeys.length + 1);
}

/** The pid of the store process of `slot` (found by its data directory; the harness keeps its children private). */
function storePid(stores: StoreProcesses, slot: number): number {
  const dataDir = join(stores.baseDir, `store-${slot}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited while we looked
    }
    const at = args.indexOf('--data-dir');
    if (at >= 0 && args[at + 1] === dataDir) return Number(entry);
  }
  throw new Error(`no process for store slot ${slot} (data dir ${dataDir})`);
}

/** Retry reasons that mean the store refused the request before proposing it: nothing applied. */
const REFUSALS: readonly RetryReason[] = [
  'notLeader',
  'epochNotMatch',
  'regionNotFound',
  'keyNotInRegion',
  'serverIsBusy',
  'staleCommand',
  'storeNotMatch',
];

function retriesTotal(stats: ClientStats): number {
  return Object.values(stats.retries).reduce((a, b) => a + b, 0);
}

describe('SDK on a PD cluster: splits mid-scan and writes of unknown outcome', { timeout: 600_000 }, () => {
  let cluster: PdClusterProcesses | undefined;
  let stores: StoreProcesses;
  let client: FlotillaClient;
  const frozen: number[] = [];

  before(async () => {
    cluster = await PdClusterProcesses.start({
      pdMemberIds: [1],
      pdArgs: ['--balance-interval-ms', '500'],
      storeArgs: ['--store-heartbeat-interval-ms', '300', '--region-heartbeat-interval-ms', '1000'],
      client: { timeoutMs: 20_000, scanPageSize: SCAN_PAGE_SIZE },
    });
    ({ stores, client } = cluster);
    // Three voters before anything else: the tests freeze followers and need them to exist.
    await eventually(
      async () => {
        const status = await Promise.all(
          [1, 2, 3].map((slot) => adminStatus(stores.addresses.get(slot) as string).catch(() => undefined)),
        );
        return status.every((s) => s?.regions.some((r) => (r.region?.peers.length ?? 0) === 3))
          ? true
          : undefined;
      },
      SETTLE_MS,
      'the first region on three stores',
    );
  });

  after(async () => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    await cluster?.stop();
  });

  it('a forward scan returns every key exactly once while its region splits mid-scan', async () => {
    const keys = Array.from({ length: SCAN_KEYS_COUNT }, (_, i) => scanKey(i));
    for (let i = 0; i < keys.length; i += 500)
      await client.batchPut(keys.slice(i, i + 500).map((k) => [k, `v-${k}`] as const));
    const before = client.stats();
    const seen: string[] = [];
    for await (const { key, value } of client.scan({ start: 'scan/', end: 'scan0' })) {
      assert.equal(value.toString(), `v-${key.toString()}`);
      seen.push(key.toString());
      // Between pages: split behind and ahead of the cursor, then once more further on.
      if (seen.length === 5 * SCAN_PAGE_SIZE)
        await split(stores, [scanKey(100), scanKey(900), scanKey(1500)]);
      if (seen.length === 25 * SCAN_PAGE_SIZE) await split(stores, [scanKey(1700)]);
    }
    assert.equal(new Set(seen).size, seen.length, 'no key twice');
    assert.deepEqual(seen, keys, 'every key, in order');
    const after = client.stats();
    assert.ok(
      after.retries.epochNotMatch > before.retries.epochNotMatch,
      'the scan ran into the split (EpochNotMatch) and re-routed',
    );
  });

  it('a reverse scan returns every key exactly once while its region splits mid-scan', async () => {
    const keys = Array.from({ length: SCAN_KEYS_COUNT }, (_, i) => scanKey(i)).reverse();
    const before = client.stats();
    const seen: string[] = [];
    for await (const { key } of client.scan({
      start: 'scan/',
      end: 'scan0',
      reverse: true,
      keysOnly: true,
    })) {
      seen.push(key.toString());
      if (seen.length === 3 * SCAN_PAGE_SIZE) await split(stores, [scanKey(1750), scanKey(1850)]);
      if (seen.length === 30 * SCAN_PAGE_SIZE) await split(stores, [scanKey(300)]);
    }
    assert.deepEqual(seen, keys, 'every key once, in descending order');
    assert.ok(client.stats().retries.epochNotMatch > before.retries.epochNotMatch);
  });

  it('a compare-and-swap that cannot commit before its deadline is ResultUnknown, sent once, applied at most once', async () => {
    const key = 'unknown/counter';
    await client.put(key, '0');
    const leader = await eventually(() => leaderOf(stores, key), SETTLE_MS, `a leader for ${key}`);
    assert.equal((await client.get(key))?.toString(), '0', 'the client knows the leader');
    // Freeze the leader's peers: the leader still takes the proposal, but no quorum can commit it.
    for (const slot of [1, 2, 3].filter((s) => s !== leader.slot)) {
      const pid = storePid(stores, slot);
      process.kill(pid, 'SIGSTOP');
      frozen.push(pid);
    }
    const before = client.stats();
    await assert.rejects(client.compareAndSwap(key, '0', '1', { timeoutMs: 2_000 }), (err: unknown) => {
      assert.ok(err instanceof ResultUnknownError, `expected ResultUnknownError, got ${String(err)}`);
      assert.equal(err.code, 'RESULT_UNKNOWN');
      assert.equal(err.retryable, false);
      return true;
    });
    const after = client.stats();
    // Sent once — or, should the leader have moved in the instant before, resent only after
    // a refusal (the store did not propose it); never after an answer that could hide an apply.
    const delta = (reason: RetryReason): number => after.retries[reason] - before.retries[reason];
    const refusals = REFUSALS.reduce((sum, reason) => sum + delta(reason), 0);
    assert.equal(
      after.requests - before.requests,
      1 + refusals,
      'the swap went out once, plus resends after refusals',
    );
    assert.equal(retriesTotal(after) - retriesTotal(before), refusals, 'no retry after an ambiguous failure');
    // Thaw: the proposal either commits (its leader wins again) or is overwritten.
    for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT');
    const settled = await eventually(
      async () => (await client.get(key, { timeoutMs: 5_000 }).catch(() => undefined))?.toString(),
      SETTLE_MS,
      'the region serving again',
    );
    assert.ok(settled === '0' || settled === '1', `the key holds the old or the new value, not ${settled}`);
    // The outcome is final: a swap from what we read succeeds, and nothing applies the old swap later.
    const next = String(Number(settled) + 10);
    assert.deepEqual(await client.compareAndSwap(key, settled, next), {
      succeeded: true,
      previousValue: Buffer.from(settled),
    });
    assert.equal((await client.get(key))?.toString(), next);
  });
});
