// One chaos run on a live cluster: concurrent SDK clients write unique values and read a
// small key set while nemeses drawn from the run's list start and heal in turn; then every
// fault is healed, each key is read once more, and the history is checked (linearizable per
// key, acknowledged writes lost, writes acknowledged while a quorum was down). The report
// carries the fault timeline, op counts, throughput, availability during each fault, time
// to the first acknowledged write after each heal, and a shrunk sub-history per bad key.
import { createClient, FlotillaError } from '../../../sdk/src/index.js';
import type { FlotillaClient } from '../../../sdk/src/index.js';
import { checkHistory, checkRegister, shrinkIllegalRegister } from '../checker/linearizability.js';
import type { KvOperation } from '../checker/linearizability.js';
import type { ChaosCluster } from './cluster.js';
import { LiveHistory, countLostWrites } from './history.js';
import type { OpKind } from './history.js';
import { leaderStore, nemesisNamed } from './nemesis.js';
import type { NemesisContext } from './nemesis.js';
import { seededRandom } from './proxy/seeded-random.js';
import { PdClient } from '../../../server/src/pd-client/pd-client.js';

export interface ChaosRunOptions {
  readonly faults: readonly string[];
  /**
   * Faults drawn in turn from a random start of the list while the next one fits before
   * this time; absent: each fault of the list runs exactly once, in order (the CI
   * scenarios, so every fault they name is exercised whatever the machine's speed).
   */
  readonly durationMs?: number;
  readonly seed: number;
  /** How long each fault stays before its heal. */
  readonly faultMs: number;
  /** Quiet time after each heal (recovery is measured in it). */
  readonly quietMs: number;
  readonly workers: number;
  readonly keys: number;
  /** Each operation's deadline, SDK retries included. */
  readonly opTimeoutMs: number;
  readonly log: (line: string) => void;
}

export interface FaultWindow {
  readonly name: string;
  readonly targets: string;
  /** The store PD names as the workload region's leader just before the heal ('?' if none answered). */
  readonly leaderBeforeHeal: string;
  readonly startMs: number;
  /** When start() returned: the fault is in force (a kill has completed) from here. */
  readonly activeMs: number;
  healMs: number;
  healedMs: number;
  ok: number;
  failed: number;
  /** Puts invoked after the fault was in force and acknowledged before its heal (quorum-loss check). */
  putsAckedInside: number;
  /**
   * From the fault being in force to the acknowledgement of the first put invoked after it
   * (the clients are served again, e.g. by a new leader); -1 if none before the heal.
   */
  servedAgainMs: number;
  /** Longest time an operation that failed inside the window took (deadline check). */
  failLatencyMsMax: number;
  /** From the end of the heal to the first acknowledged put invoked after it; -1 if none. */
  recoverMs: number;
}

export interface ChaosReport {
  readonly timeline: readonly FaultWindow[];
  readonly counts: Record<string, number>;
  readonly throughputOpsPerSecond: number;
  readonly verdict: 'linearizable' | 'NOT linearizable' | 'unknown (search bound)';
  readonly lostWrites: number;
  readonly phantomKeys: readonly string[];
  readonly illegalKeys: readonly string[];
  readonly shrunk: Readonly<Record<string, readonly KvOperation[]>>;
  readonly text: string;
}

const CHECK_STEPS_MAX_PER_KEY = 20_000_000;
const SHRINK_CHECKS_MAX = 400;
const FINAL_READ_DEADLINE_MS = 90_000;
/** Pause between a worker's operations, so a 2-core machine keeps up with the workload. */
const THINK_MS = 5;

export async function runChaos(cluster: ChaosCluster, options: ChaosRunOptions): Promise<ChaosReport> {
  const random = seededRandom(options.seed);
  const keys = Array.from({ length: options.keys }, (_, i) => `chaos-${options.seed}-k${i}`);
  const history = new LiveHistory();
  const clients: FlotillaClient[] = [];
  for (let i = 0; i < 2; i++) {
    clients.push(
      await createClient({
        pdEndpoints: cluster.pdEndpoints(),
        timeoutMs: options.opTimeoutMs,
        connectTimeoutMs: 500,
      }),
    );
  }
  const pd = new PdClient({ endpoints: cluster.pdEndpoints() });
  const context: NemesisContext = { cluster, pd, probeKey: keys[0] ?? 'k', log: options.log };
  const timeline: FaultWindow[] = [];
  let running = true;
  let processNext = options.workers;
  let valueNext = 0;
  try {
    const workers = Array.from({ length: options.workers }, async (_, worker) => {
      let process = worker;
      const client = clients[worker % clients.length] as FlotillaClient;
      while (running) {
        const key = keys[Math.floor(random() * keys.length)] as string;
        const f: OpKind = random() < 0.5 ? 'put' : 'get';
        const outcome = await operate(
          history,
          client,
          process,
          f,
          key,
          `v${valueNext++}-p${process}`,
          options.opTimeoutMs,
        );
        if (outcome === 'info') process = processNext++;
        await new Promise((resolve) => setTimeout(resolve, THINK_MS));
      }
    });
    const schedule = (async () => {
      await sleep(Math.min(options.quietMs, 3_000));
      const durationMs = options.durationMs;
      const endMs = history.startMs + (durationMs ?? 0);
      let index = durationMs === undefined ? 0 : Math.floor(random() * options.faults.length);
      for (;;) {
        if (
          durationMs === undefined
            ? index >= options.faults.length
            : performance.now() + options.faultMs >= endMs
        )
          break;
        const nemesis = nemesisNamed(options.faults[index % options.faults.length] as string);
        index++;
        const startMs = performance.now() - history.startMs;
        const targets = await nemesis.start(context);
        const activeMs = performance.now() - history.startMs;
        options.log(`${(startMs / 1000).toFixed(1)} s: start ${nemesis.name} on ${targets}`);
        await sleep(options.faultMs);
        const leaderBeforeHeal = await leaderStore(context).then(
          (node) => node.name,
          () => '?',
        );
        const healMs = performance.now() - history.startMs;
        await nemesis.heal(context);
        const healedMs = performance.now() - history.startMs;
        options.log(
          `${(healMs / 1000).toFixed(1)} s: heal ${nemesis.name} (took ${Math.round(healedMs - healMs)} ms)`,
        );
        timeline.push({
          name: nemesis.name,
          targets,
          leaderBeforeHeal,
          startMs,
          activeMs,
          healMs,
          healedMs,
          ok: 0,
          failed: 0,
          putsAckedInside: 0,
          servedAgainMs: -1,
          failLatencyMsMax: 0,
          recoverMs: -1,
        });
        await sleep(options.quietMs);
      }
    })();
    await schedule.catch(async (err) => {
      running = false;
      throw err;
    });
    running = false;
    await Promise.all(workers);
    await cluster.healAll();
    const finalValues = await finalReads(history, clients[0] as FlotillaClient, keys, processNext++);
    return report(history, timeline, finalValues, options);
  } finally {
    running = false;
    pd.close();
    for (const client of clients) await client.close();
  }
}

async function operate(
  history: LiveHistory,
  client: FlotillaClient,
  process: number,
  f: OpKind,
  key: string,
  value: string,
  timeoutMs: number,
): Promise<'ok' | 'fail' | 'info'> {
  history.invoke(process, f, key, f === 'put' ? value : null);
  try {
    if (f === 'put') {
      await client.put(key, value, { timeoutMs });
      history.complete(process, 'ok', value);
    } else {
      const read = await client.get(key, { timeoutMs });
      history.complete(process, 'ok', read === undefined ? null : read.toString());
    }
    return 'ok';
  } catch (err) {
    const code = err instanceof FlotillaError ? err.code : 'UNTYPED';
    // A read never changes state; a put the SDK calls retryable was certainly not applied.
    const certain = f === 'get' || (err instanceof FlotillaError && err.retryable);
    history.complete(process, certain ? 'fail' : 'info', null, code);
    return certain ? 'fail' : 'info';
  }
}

async function finalReads(
  history: LiveHistory,
  client: FlotillaClient,
  keys: readonly string[],
  process: number,
): Promise<Map<string, string | null>> {
  const values = new Map<string, string | null>();
  const deadlineMs = performance.now() + FINAL_READ_DEADLINE_MS;
  for (const key of keys) {
    for (;;) {
      if ((await operate(history, client, process, 'get', key, '', 5_000)) === 'ok') {
        const last = history.events[history.events.length - 1];
        values.set(key, last?.value ?? null);
        break;
      }
      if (performance.now() > deadlineMs)
        throw new Error(`no final read of ${key} within ${FINAL_READ_DEADLINE_MS} ms of the heal`);
      await sleep(200);
    }
  }
  return values;
}

function report(
  history: LiveHistory,
  timeline: FaultWindow[],
  finalValues: Map<string, string | null>,
  options: ChaosRunOptions,
): ChaosReport {
  const counts: Record<string, number> = {};
  const invokes = new Map<number, number>();
  let completed = 0;
  for (const event of history.events) {
    if (event.type === 'invoke') {
      invokes.set(event.process, event.timeMs);
      continue;
    }
    completed++;
    const name = `${event.f} ${event.type}${event.error === undefined ? '' : ` (${event.error})`}`;
    counts[name] = (counts[name] ?? 0) + 1;
    const invokedMs = invokes.get(event.process) ?? event.timeMs;
    for (const window of timeline) {
      if (event.timeMs >= window.startMs && event.timeMs < window.healMs) {
        if (event.type === 'ok') window.ok++;
        else window.failed++;
        if (event.type === 'ok' && event.f === 'put' && invokedMs >= window.activeMs) {
          window.putsAckedInside++;
          if (window.servedAgainMs < 0) window.servedAgainMs = event.timeMs - window.activeMs;
        }
        if (event.type !== 'ok')
          window.failLatencyMsMax = Math.max(window.failLatencyMsMax, event.timeMs - invokedMs);
      }
      if (window.recoverMs < 0 && event.type === 'ok' && event.f === 'put' && invokedMs >= window.healedMs) {
        window.recoverMs = event.timeMs - window.healedMs;
      }
    }
  }
  const operations = history.operations();
  const result = checkHistory(operations, CHECK_STEPS_MAX_PER_KEY);
  const shrunk: Record<string, KvOperation[]> = {};
  for (const key of result.illegalKeys) {
    const ofKey = operations.filter((op) => op.key === key);
    shrunk[key] =
      checkRegister(ofKey, CHECK_STEPS_MAX_PER_KEY).outcome === 'illegal'
        ? shrinkIllegalRegister(ofKey, 1_000_000, SHRINK_CHECKS_MAX)
        : ofKey;
  }
  const lost = countLostWrites(operations, finalValues);
  const elapsedS = (history.events.at(-1)?.timeMs ?? 1) / 1000;
  const verdict =
    result.outcome === 'ok'
      ? 'linearizable'
      : result.outcome === 'illegal'
        ? 'NOT linearizable'
        : 'unknown (search bound)';
  const lines = [
    `chaos run: seed ${options.seed}, faults ${options.faults.join(',')}, ${options.workers} clients on ${options.keys} keys, ${options.durationMs === undefined ? 'each fault once' : `${(options.durationMs / 1000).toFixed(0)} s`}, ${elapsedS.toFixed(0)} s run`,
    'fault timeline (s)       targets                start   heal  ok  failed  avail.  served again  fail max  heal took  recovery  leader at heal',
    ...timeline.map((w) => {
      const availability = availabilityOf(w);
      const cells = [
        w.name.padEnd(22),
        w.targets.padEnd(20),
        (w.startMs / 1000).toFixed(1).padStart(6),
        (w.healMs / 1000).toFixed(1).padStart(6),
        String(w.ok).padStart(4),
        String(w.failed).padStart(6),
        (availability === undefined ? 'n/a' : `${(100 * availability).toFixed(1)}%`).padStart(7),
        milliseconds(w.servedAgainMs).padStart(12),
        milliseconds(w.failed === 0 ? -1 : w.failLatencyMsMax).padStart(8),
        milliseconds(w.healedMs - w.healMs).padStart(9),
        milliseconds(w.recoverMs).padStart(8),
        w.leaderBeforeHeal,
      ];
      return `  ${cells.join('  ')}`;
    }),
    `ops: ${completed} completed, ${(completed / elapsedS).toFixed(0)} ops/s; ${Object.entries(counts)
      .sort()
      .map(([name, count]) => `${name}: ${count}`)
      .join(', ')}`,
    `final reads: ${[...finalValues].map(([key, value]) => `${key}=${value ?? '(absent)'}`).join(' ')}`,
    `checker: ${verdict} (${result.operationsChecked} operations, ${result.stepsTaken} steps); acknowledged writes lost: ${lost.lost}${lost.phantomKeys.length > 0 ? `; keys holding a value nobody wrote: ${lost.phantomKeys.join(',')}` : ''}`,
    ...Object.entries(shrunk).map(
      ([key, ops]) =>
        `  minimal failing sub-history of ${key}:\n${ops.map((op) => `    ${op.kind} ${op.value ?? '(absent)'} [${op.callSeq}, ${op.returnSeq}]`).join('\n')}`,
    ),
  ];
  return {
    timeline,
    counts,
    throughputOpsPerSecond: completed / elapsedS,
    verdict,
    lostWrites: lost.lost,
    phantomKeys: lost.phantomKeys,
    illegalKeys: result.illegalKeys,
    shrunk,
    text: lines.join('\n'),
  };
}

/** The share of operations completing inside the window that succeeded; undefined if none did. */
export function availabilityOf(window: FaultWindow): number | undefined {
  const total = window.ok + window.failed;
  return total === 0 ? undefined : window.ok / total;
}

function milliseconds(value: number): string {
  return value < 0 ? 'none' : `${Math.round(value)} ms`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
