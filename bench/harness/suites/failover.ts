// Suite `failover`: under a steady write load (8 writers putting in a loop), SIGKILL the
// leader, N times (default 20), restarting it between tries. For each try: time from the kill
// to a new leader, the election itself (an upper bound: from the last poll that saw no
// survivor campaigning — a candidate role, or a higher term — to the poll that saw a new
// leader), and the longest gap
// between successful client operations around the kill. Flotilla (3 PD + 3 stores, the SDK
// with its defaults) beside etcd with its defaults and with timeouts tuned to ours.
// Roles are polled every 2 ms over kept-open connections (Flotilla: Admin Status; etcd:
// Maintenance Status); on a busy machine a poll itself takes milliseconds, which the bound includes.
// Flags: --tries N (default 20; quick 2), --writers N (8), --steady-ms N (2000; quick 1000),
// --systems flotilla,etcd-defaults,etcd-tuned, --etcd-tuned-deadline-ms N (300).
import { performance } from 'node:perf_hooks';
import { raftpb } from '@flotilla/proto';
import { EtcdCluster } from '../etcd-cluster.js';
import type { EtcdProfile } from '../etcd-cluster.js';
import { etcdTarget } from '../etcd-target.js';
import { FlotillaCluster } from '../flotilla-cluster.js';
import { flotillaSdkTarget } from '../flotilla-target.js';
import { keyOf } from '../key-chooser.js';
import type { KvTarget } from '../kv-target.js';
import { machineFacts } from '../machine-facts.js';
import { ProgressLine } from '../progress-line.js';
import { median, percentile } from '../repeated-runs.js';
import type { SuiteReport, Table } from '../suite-report.js';
import { intFlag, listFlag } from '../suite-options.js';
import type { SuiteOptions } from '../suite-options.js';
import { VALUE } from '../workload.js';

const POLL_INTERVAL_MS = 2;
/** A writer whose put failed waits this long before the next (both systems alike). */
const ERROR_BACKOFF_MS = 10;
/** Generous bounds: a busy shared machine. */
const NEW_LEADER_WAIT_MS_MAX = 60_000;
const WRITE_AFTER_KILL_WAIT_MS_MAX = 60_000;
/** Keep writing this long after the first write that follows the kill. */
const AFTER_RECOVERY_MS = 1000;
/** Pause after a restart: the restarted member catches up (and its vote hold-back passes). */
const SETTLE_AFTER_RESTART_MS = 1500;

export const FAILOVER_SYSTEMS = ['flotilla', 'etcd-defaults', 'etcd-tuned'] as const;
type System = (typeof FAILOVER_SYSTEMS)[number];

/** What a suite needs from a cluster to kill its leader and watch the election. */
interface FailoverCluster {
  /** The leader's member/slot number and its term. */
  leader(): Promise<{ member: number; term: number } | undefined>;
  /** Survivors' view: someone campaigning (candidate, or a term above `term`), and a new leader. */
  observe(term: number, killed: number): Promise<{ campaigning: boolean; leader: boolean }>;
  kill9(member: number): Promise<void>;
  restart(member: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TryResult {
  readonly killed: number;
  readonly killToLeaderMs: number;
  /** Upper bound on the election: last poll with no survivor campaigning → the poll that saw the leader. */
  readonly electionMs: number;
  /** Terms the new leader is above the old one (2+ means a split vote or a failed round). */
  readonly termsAdvanced: number;
  readonly clientGapMs: number;
  readonly failedOps: number;
}

async function startFlotilla(): Promise<{ cluster: FailoverCluster; target: KvTarget }> {
  const c = await FlotillaCluster.startWithPd();
  const target = await flotillaSdkTarget({ pdEndpoints: c.pdEndpoints() });
  return {
    target,
    cluster: {
      leader: async () => {
        const l = await c.leader();
        return l === undefined ? undefined : { member: l.slot, term: l.term };
      },
      observe: async (term, killed) => {
        const roles = (await c.roles()).filter((r) => r.slot !== killed);
        return {
          campaigning: roles.some(
            (r) =>
              r.term > term ||
              r.role === raftpb.RaftRole.CANDIDATE ||
              r.role === raftpb.RaftRole.PRE_CANDIDATE,
          ),
          leader: roles.some((r) => r.role === raftpb.RaftRole.LEADER && r.term > term),
        };
      },
      kill9: (slot) => c.stores.kill9(slot),
      restart: async (slot) => {
        await c.stores.start(slot);
      },
      stop: async () => {
        await target.close();
        await c.stop();
      },
    },
  };
}

async function startEtcd(
  profile: EtcdProfile,
  deadlineMs: number | undefined,
): Promise<{ cluster: FailoverCluster; target: KvTarget }> {
  const c = await EtcdCluster.start(profile);
  const target = etcdTarget({
    name: `etcd-${profile}`,
    clientUrls: c.clientUrls(),
    callDeadlineMs: deadlineMs,
  });
  return {
    target,
    cluster: {
      leader: () => c.leader(),
      observe: async (term, killed) => {
        const statuses = (await c.statuses()).filter((s) => s.member !== killed);
        return {
          campaigning: statuses.some((s) => s.term > term),
          leader: statuses.some((s) => s.term > term && s.leaderId !== '0' && s.leaderId === s.memberId),
        };
      },
      kill9: (member) => c.kill9(member),
      restart: (member) => c.startMember(member),
      stop: async () => {
        await target.close();
        await c.stop();
      },
    },
  };
}

async function oneTry(
  cluster: FailoverCluster,
  target: KvTarget,
  attempt: number,
  writers: number,
  steadyMs: number,
): Promise<TryResult> {
  // A leader first, so the steady phase measures a serving cluster.
  await waitFor(() => cluster.leader(), NEW_LEADER_WAIT_MS_MAX, 'a leader');
  let killed: number | undefined;
  const completions: number[] = [];
  let failedOps = 0;
  let stop = false;
  let seq = 0;
  const writer = async (w: number): Promise<void> => {
    while (!stop) {
      try {
        await target.put(keyOf(attempt * 1_000_000 + w * 100_000 + (seq++ % 100_000)), VALUE);
        completions.push(performance.now());
      } catch {
        failedOps++;
        // A refused connection fails at once: do not spin.
        await delay(ERROR_BACKOFF_MS);
      }
    }
  };
  const running = Array.from({ length: writers }, (_, w) => writer(w));
  try {
    await delay(steadyMs);
    // Asked again right before the kill: under load a short election timeout can move
    // leadership during the steady phase, and killing a follower would measure nothing.
    const leader = await waitFor(() => cluster.leader(), NEW_LEADER_WAIT_MS_MAX, 'a leader');
    const killedAt = performance.now();
    killed = leader.member;
    await cluster.kill9(leader.member);
    // The election started after the last poll that saw no survivor campaigning: from that
    // poll's start to the end of the poll that saw the leader is an upper bound on it.
    let quietPollStart = killedAt;
    let campaignSeen = false;
    let leaderAt: number | undefined;
    while (leaderAt === undefined) {
      if (performance.now() - killedAt > NEW_LEADER_WAIT_MS_MAX)
        throw new Error(`no new leader within ${NEW_LEADER_WAIT_MS_MAX} ms`);
      const pollStart = performance.now();
      const seen = await cluster.observe(leader.term, leader.member);
      if (seen.leader) leaderAt = performance.now();
      else {
        if (!seen.campaigning && !campaignSeen) quietPollStart = pollStart;
        campaignSeen ||= seen.campaigning;
        await delay(POLL_INTERVAL_MS);
      }
    }
    const newLeader = await waitFor(() => cluster.leader(), NEW_LEADER_WAIT_MS_MAX, 'the new leader');
    const deadline = performance.now() + WRITE_AFTER_KILL_WAIT_MS_MAX;
    while (!completions.some((t) => t > killedAt)) {
      if (performance.now() > deadline)
        throw new Error(`no write completed within ${WRITE_AFTER_KILL_WAIT_MS_MAX} ms of the kill`);
      await delay(10);
    }
    await delay(AFTER_RECOVERY_MS);
    stop = true;
    await Promise.all(running);
    return {
      killed: leader.member,
      killToLeaderMs: Math.round(leaderAt - killedAt),
      electionMs: Math.round(leaderAt - quietPollStart),
      termsAdvanced: newLeader.term - leader.term,
      clientGapMs: Math.round(longestGap(completions, killedAt)),
      failedOps,
    };
  } finally {
    stop = true;
    await Promise.all(running);
    if (killed !== undefined) {
      await cluster.restart(killed);
      await delay(SETTLE_AFTER_RESTART_MS);
    }
  }
}

/** Longest time between consecutive successful completions, over the span that holds the kill. */
export function longestGap(completionsMs: readonly number[], killedAtMs: number): number {
  const sorted = [...completionsMs].sort((a, b) => a - b);
  const firstAfter = sorted.findIndex((t) => t > killedAtMs);
  if (firstAfter < 0) throw new Error('no completion after the kill');
  let gap = firstAfter === 0 ? 0 : (sorted[firstAfter] as number) - (sorted[firstAfter - 1] as number);
  for (let i = 1; i < sorted.length; i++)
    gap = Math.max(gap, (sorted[i] as number) - (sorted[i - 1] as number));
  return gap;
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await delay(POLL_INTERVAL_MS * 4);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runFailoverSuite(options: SuiteOptions): Promise<SuiteReport> {
  const startedMs = Date.now();
  const facts = machineFacts();
  const tries = intFlag(options, 'tries', options.quick ? 2 : 20);
  const writers = intFlag(options, 'writers', 8);
  const steadyMs = intFlag(options, 'steady-ms', options.quick ? 1000 : 2000);
  const tunedDeadlineMs = intFlag(options, 'etcd-tuned-deadline-ms', 300);
  const systems = listFlag(options, 'systems', FAILOVER_SYSTEMS).map((s) => {
    if (!(FAILOVER_SYSTEMS as readonly string[]).includes(s))
      throw new Error(`--systems: ${FAILOVER_SYSTEMS.join(', ')}; got '${s}'`);
    return s as System;
  });
  const progress = new ProgressLine('failover');
  const results = new Map<System, TryResult[]>();
  for (const system of systems) {
    progress.update(`${system}: starting`);
    const { cluster, target } =
      system === 'flotilla'
        ? await startFlotilla()
        : await startEtcd(
            system === 'etcd-tuned' ? 'tuned' : 'defaults',
            system === 'etcd-tuned' ? tunedDeadlineMs : undefined,
          );
    const list: TryResult[] = [];
    results.set(system, list);
    try {
      for (let i = 0; i < tries; i++) {
        const r = await oneTry(cluster, target, i, writers, steadyMs);
        list.push(r);
        progress.update(
          `${system}: try ${i + 1}/${tries}: kill→leader ${r.killToLeaderMs} ms, election ${r.electionMs} ms, client gap ${r.clientGapMs} ms`,
        );
      }
    } finally {
      await cluster.stop();
    }
  }
  progress.done();
  return buildReport(
    options,
    facts,
    results,
    { tries, writers, steadyMs, tunedDeadlineMs },
    Math.round((Date.now() - startedMs) / 1000),
  );
}

function buildReport(
  options: SuiteOptions,
  facts: ReturnType<typeof machineFacts>,
  results: Map<System, TryResult[]>,
  params: { tries: number; writers: number; steadyMs: number; tunedDeadlineMs: number },
  durationS: number,
): SuiteReport {
  const summaryRows = [...results].map(([system, list]) => {
    const kill = list.map((r) => r.killToLeaderMs);
    const election = list.map((r) => r.electionMs);
    const gap = list.map((r) => r.clientGapMs);
    return {
      system,
      killToLeaderMedianMs: median(kill),
      killToLeaderMaxMs: Math.max(...kill),
      electionMedianMs: median(election),
      electionP99Ms: percentile(election, 99),
      gapMedianMs: median(gap),
      gapP99Ms: percentile(gap, 99),
      gapMaxMs: Math.max(...gap),
      multiRoundTries: list.filter((r) => r.termsAdvanced > 1).length,
      failedOps: list.reduce((s, r) => s + r.failedOps, 0),
    };
  });
  const summary: Table = {
    title: `Summary (${params.tries} kills each, ${params.writers} writers)`,
    columns: [
      'system',
      'kill → new leader median ms',
      'max ms',
      'election median ms (bound)',
      'election p99 ms (bound)',
      'client gap median ms',
      'gap p99 ms',
      'gap max ms',
      'tries with 2+ terms',
      'failed ops',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: summaryRows.map((s) => [
      s.system,
      s.killToLeaderMedianMs,
      s.killToLeaderMaxMs,
      s.electionMedianMs,
      s.electionP99Ms,
      s.gapMedianMs,
      s.gapP99Ms,
      s.gapMaxMs,
      s.multiRoundTries,
      s.failedOps,
    ]),
  };
  const perTry: Table = {
    title: 'Every try',
    columns: [
      'system',
      'try',
      'killed',
      'kill → new leader ms',
      'election ms (bound)',
      'terms advanced',
      'client gap ms',
      'failed ops',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows: [...results].flatMap(([system, list]) =>
      list.map((r, i) => [
        system,
        i + 1,
        r.killed,
        r.killToLeaderMs,
        r.electionMs,
        r.termsAdvanced,
        r.clientGapMs,
        r.failedOps,
      ]),
    ),
  };
  const headline: string[] = [];
  const fl = summaryRows.find((s) => s.system === 'flotilla');
  if (fl !== undefined) {
    headline.push(
      `Flotilla client-visible gap p99 **${fl.gapP99Ms} ms** (target < 1000 ms): ${fl.gapP99Ms < 1000 ? '**met**' : `**missed** by ${fl.gapP99Ms - 1000} ms`}.`,
      `Flotilla election median **<= ${fl.electionMedianMs} ms** (an upper bound; target < 200 ms): ${fl.electionMedianMs < 200 ? '**met**' : `**missed** by ${fl.electionMedianMs - 200} ms`}.`,
    );
    for (const other of summaryRows.filter((s) => s.system !== 'flotilla'))
      headline.push(
        `${other.system}: gap median ${other.gapMedianMs} ms (Flotilla ${fl.gapMedianMs} ms), kill → leader median ${other.killToLeaderMedianMs} ms (Flotilla ${fl.killToLeaderMedianMs} ms).`,
      );
  }
  return {
    suite: 'failover',
    command: options.command,
    quick: options.quick,
    facts,
    durationS,
    headline,
    tables: [summary, perTry],
    notes: [
      `Each try: ${params.writers} writers put 256 B values in a loop for ${params.steadyMs} ms, then the leader's process is killed with SIGKILL; writing goes on until a put succeeds after the kill and ${AFTER_RECOVERY_MS} ms more; the killed member is restarted on its data and given ${SETTLE_AFTER_RESTART_MS} ms before the next try.`,
      `Kill → new leader: until a survivor reports itself leader in a higher term. Election (an upper bound, the same method for both systems): from the start of the last poll that saw no survivor campaigning (Flotilla: pre-candidate/candidate role or a higher term; etcd: a higher term — etcd 3.4 runs no pre-vote) to the end of the poll that saw the new leader; polls every ${POLL_INTERVAL_MS} ms over open connections, each poll taking a few ms on a busy machine. Detection (the election timeout running out) is in kill → new leader, not in election.`,
      'Client gap: the longest interval between successive successful puts (any writer) over the try; failed ops are puts that returned an error (the writer goes on with the next).',
      `Flotilla: defaults (10 ms tick, election timeout 100-200 ms, heartbeat 30 ms), SDK defaults. etcd-defaults: heartbeat 100 ms, election 1000 ms, the etcd3 client with no call deadline. etcd-tuned: heartbeat 20 ms, election 100 ms (Flotilla's; etcd needs election >= 5 heartbeats), etcd3 calls with a ${params.tunedDeadlineMs} ms deadline (a request stuck at the dead leader fails and the writer retries).`,
      "Shared machine: other engineers' builds and tests ran at the same time; see the load average above.",
    ],
    chart: {
      kind: 'bar',
      title: 'failover: median and p99 (ms)',
      yLabel: 'ms',
      categories: summaryRows.map((s) => s.system),
      series: [
        { name: 'kill → new leader median', values: summaryRows.map((s) => s.killToLeaderMedianMs) },
        { name: 'election median', values: summaryRows.map((s) => s.electionMedianMs) },
        { name: 'client gap median', values: summaryRows.map((s) => s.gapMedianMs) },
        { name: 'client gap p99', values: summaryRows.map((s) => s.gapP99Ms) },
      ],
    },
    data: { params, summary: summaryRows, tries: Object.fromEntries(results) },
  };
}
