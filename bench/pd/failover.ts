// `npm run bench:pd-failover`: how long PD is unavailable when its leader process is killed
// with SIGKILL. Three PD members run as real processes; each try kills the serving leader
// and measures (a) the time until a surviving member names a new leader in GetMembers, and
// (b) the time until a new leader answers AllocId successfully (what a store or client
// waits for: election plus the new leader loading the cluster state from its meta store).
// Surviving members are polled every 10 ms with 200 ms call deadlines. The killed member is
// restarted and must learn the leader before the next try. Prints a table and the medians.
// Options: --tries N (default 5), --json.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PdProcesses, pdCall } from '../../tests/support/pd-processes.js';
import { eventually } from '../../tests/support/store-processes.js';
import { median, round2 } from '../kv/stats.js';

const { values } = parseArgs({
  options: {
    tries: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const tries = Number(values.tries);
if (!Number.isSafeInteger(tries) || tries < 1) throw new Error('tries must be a positive integer');

const POLL_INTERVAL_MS = 10;
const CALL_DEADLINE_MS = 200;
const TRY_TIMEOUT_MS = 30_000;

interface TryResult {
  readonly killedMemberId: number;
  readonly newLeaderId: number;
  readonly electedMs: number;
  readonly allocIdMs: number;
}

async function oneTry(pd: PdProcesses): Promise<TryResult> {
  const leader = await eventually(() => pd.leaderId(), TRY_TIMEOUT_MS, 'a serving PD leader');
  // Warm the clients of the survivors so connection setup is not counted.
  const survivors = pd.runningMemberIds().filter((id) => id !== leader);
  await Promise.all(survivors.map((id) => pdCall(pd.client(id), 'getMembers', { header: undefined })));
  const killedAt = performance.now();
  await pd.kill9(leader);
  let electedMs: number | undefined;
  let allocIdMs: number | undefined;
  let newLeaderId = 0;
  while (allocIdMs === undefined) {
    if (performance.now() - killedAt > TRY_TIMEOUT_MS)
      throw new Error(`no new PD leader within ${TRY_TIMEOUT_MS} ms`);
    await Promise.all(
      survivors.map(async (id) => {
        const client = pd.client(id);
        if (electedMs === undefined) {
          const members = await pdCall(client, 'getMembers', { header: undefined }, CALL_DEADLINE_MS).catch(
            () => undefined,
          );
          const named = Number(members?.leader?.memberId ?? 0n);
          if (named !== 0 && named !== leader) electedMs ??= performance.now() - killedAt;
        }
        const res = await pdCall(client, 'allocId', { header: undefined }, CALL_DEADLINE_MS).catch(
          () => undefined,
        );
        if (res !== undefined && res.header?.error === undefined && allocIdMs === undefined) {
          allocIdMs = performance.now() - killedAt;
          newLeaderId = id;
        }
      }),
    );
    if (allocIdMs === undefined) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  await pd.start(leader);
  await eventually(
    async () => {
      const res = await pdCall(pd.client(leader), 'getMembers', { header: undefined }).catch(() => undefined);
      return res?.leader !== undefined ? true : undefined;
    },
    TRY_TIMEOUT_MS,
    `restarted member ${leader} to learn the leader`,
  );
  return {
    killedMemberId: leader,
    newLeaderId,
    electedMs: round2(electedMs ?? allocIdMs),
    allocIdMs: round2(allocIdMs),
  };
}

const pd = await PdProcesses.create([1, 2, 3]);
try {
  await pd.startAll();
  const results: TryResult[] = [];
  for (let i = 0; i < tries; i++) results.push(await oneTry(pd));
  const elected = results.map((r) => r.electedMs);
  const alloc = results.map((r) => r.allocIdMs);
  if (values.json) {
    console.log(
      JSON.stringify({ results, medianElectedMs: median(elected), medianAllocIdMs: median(alloc) }, null, 2),
    );
  } else {
    console.log(`kill -9 of the PD leader, 3 PD members (processes), ${tries} tries`);
    console.log('try  killed  new leader  leader named ms  AllocId answered ms');
    results.forEach((r, i) =>
      console.log(
        `${String(i + 1).padStart(3)}  ${String(r.killedMemberId).padStart(6)}  ${String(r.newLeaderId).padStart(10)}  ${r.electedMs.toFixed(0).padStart(15)}  ${r.allocIdMs.toFixed(0).padStart(19)}`,
      ),
    );
    console.log(
      `median: leader named after ${median(elected).toFixed(0)} ms, AllocId answered after ${median(alloc).toFixed(0)} ms (max ${Math.max(...alloc).toFixed(0)} ms)`,
    );
  }
} finally {
  await pd.stopAll();
}
