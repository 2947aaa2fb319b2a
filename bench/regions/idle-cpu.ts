// `npm run bench:regions`: what idle regions cost a store. Three store processes
// (store-process.ts: the Raft machinery of a store node over real gRPC and LevelDB) on this
// machine, each holding a peer of every one of N regions; for each N and with hibernation
// on and off: wait until every region has a leader (and, with hibernation, every region is
// quiesced on every store), then measure each process's CPU from /proc/<pid>/stat
// (utime + stime over the window) as % of one core, its RSS, and the frames, messages and
// heartbeats it sent in the window. Target (issue #5): 10,000 regions per store, idle CPU
// under 5% of a core per store with hibernation on.
//
// Regions are brought in waves of --wave-regions (store-process.ts says why).
// Options: --regions 1000,10000 (comma list), --modes on,off, --window-ms 10000,
// --settle-timeout-ms 600000, --wave-regions 500, --json, --profile-dir DIR (CPU profiles of
// the store processes), --verbose (every store's full status at each settle poll: rounds,
// Raft ticks delivered and lost, event-loop delay, drops, stream failures).
//
// --json prints an array with one object per case: { regionsPerStore, hibernation: 'on' |
// 'off', settled, settledMs, perStore: [{ storeId, cpuPercentOfCore, rssMiB, leaders, awake,
// wakeUpsPerSecond, framesPerSecond, messagesPerSecond, heartbeatsPerSecond,
// ticksPerSecond }] } (per-second figures over the measurement window).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../../tests/support/store-processes.js';

const { values } = parseArgs({
  options: {
    regions: { type: 'string', default: '1000,10000' },
    modes: { type: 'string', default: 'on,off' },
    'window-ms': { type: 'string', default: '10000' },
    'settle-timeout-ms': { type: 'string', default: '600000' },
    'wave-regions': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    /** Writes a V8 CPU profile of each store process there (to see where idle time goes). */
    'profile-dir': { type: 'string' },
  },
});

const STORE_IDS = [1, 2, 3] as const;
const storeProcess = fileURLToPath(new URL('./store-process.ts', import.meta.url));
const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const regionCounts = (values.regions ?? '').split(',').map((t) => positiveInt('regions', t));
const modes = (values.modes ?? '').split(',').map((m) => {
  if (m !== 'on' && m !== 'off') throw new Error(`--modes takes on and/or off, got '${m}'`);
  return m;
});
const windowMs = positiveInt('window-ms', values['window-ms'] ?? '');
const settleTimeoutMs = positiveInt('settle-timeout-ms', values['settle-timeout-ms'] ?? '');
const waveRegions = positiveInt('wave-regions', values['wave-regions'] ?? '');

interface StoreStatus {
  regions: number;
  leaders: number;
  withLeader: number;
  awake: number;
  /** Region wake-ups since start (hibernation). */
  woken: number;
  rounds: number;
  framesSentCount: number;
  messagesSentCount: number;
  heartbeatsSentCount: number;
  /** Raft ticks the store loop handed to its regions (tick-clock.ts). */
  ticksDelivered: number;
}

class BenchStore {
  private readonly waiters: Array<(line: string) => void> = [];
  /** Lines that arrived before anyone asked (READY while an earlier store was awaited). */
  private readonly unread: string[] = [];
  readonly stderr: string[] = [];

  constructor(
    readonly storeId: number,
    readonly child: ChildProcess,
  ) {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const waiter = this.waiters.shift();
      if (waiter === undefined) this.unread.push(line);
      else waiter(line);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr.push(chunk);
      if (this.stderr.length > 200) this.stderr.shift();
    });
  }

  nextLine(timeoutMs: number): Promise<string> {
    const early = this.unread.shift();
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`store ${this.storeId}: no answer in ${timeoutMs} ms\n${this.stderr.join('')}`)),
        timeoutMs,
      );
      this.waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  }

  /** Sends a command and awaits its one-line answer. */
  async command(text: string, expected: string, timeoutMs: number): Promise<void> {
    const answer = this.nextLine(timeoutMs);
    this.child.stdin?.write(`${text}\n`);
    const line = await answer;
    if (line !== expected) throw new Error(`store ${this.storeId}: '${text}' answered '${line}'`);
  }

  async status(): Promise<StoreStatus> {
    const answer = this.nextLine(30_000);
    this.child.stdin?.write('status\n');
    const line = await answer;
    if (!line.startsWith('STATUS ')) throw new Error(`store ${this.storeId}: unexpected line '${line}'`);
    return JSON.parse(line.slice('STATUS '.length)) as StoreStatus;
  }

  cpuTicks(): number {
    // Fields after the command name (which is in parentheses): utime is the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  }

  rssMiB(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kib / 1024;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.write('stop\n');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
}

interface CaseResult {
  regionsPerStore: number;
  hibernation: 'on' | 'off';
  settledMs: number;
  settled: boolean;
  perStore: Array<{
    storeId: number;
    cpuPercentOfCore: number;
    rssMiB: number;
    leaders: number;
    awake: number;
    wakeUpsPerSecond: number;
    framesPerSecond: number;
    messagesPerSecond: number;
    heartbeatsPerSecond: number;
    /** Raft ticks the store loop handed out (at most one a round; 100/s at wall speed, 0 when all sleep). */
    ticksPerSecond: number;
  }>;
}

async function startStores(regions: number, mode: 'on' | 'off', baseDir: string): Promise<BenchStore[]> {
  const addresses = new Map<number, string>();
  for (const id of STORE_IDS) addresses.set(id, `127.0.0.1:${await freePort()}`);
  const cluster = [...addresses].map(([id, address]) => `${id}=${address}`).join(',');
  const stores = STORE_IDS.map((id) => {
    const child = spawn(
      process.execPath,
      [
        ...(values['profile-dir'] === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${values['profile-dir']}`]),
        '--import',
        'tsx',
        storeProcess,
        '--store-id',
        String(id),
        '--cluster',
        cluster,
        '--regions',
        String(regions),
        '--data-dir',
        join(baseDir, `store-${id}`),
        '--hibernate',
        mode,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return new BenchStore(id, child);
  });
  for (const store of stores) {
    const line = await store.nextLine(120_000);
    if (!line.startsWith('READY')) throw new Error(`store ${store.storeId}: expected READY, got '${line}'`);
  }
  return stores;
}

/** Polls until regions 1..upTo have a leader everywhere (and, hibernating, every region sleeps). */
async function settle(
  stores: readonly BenchStore[],
  upTo: number,
  mode: 'on' | 'off',
  deadlineMs: number,
): Promise<boolean> {
  for (;;) {
    const statuses = await Promise.all(stores.map((s) => s.status()));
    const leaders = statuses.reduce((n, s) => n + s.leaders, 0);
    const allKnowLeader = statuses.every((s) => s.withLeader === upTo);
    const asleep = mode === 'off' || statuses.every((s) => s.awake === 0);
    const awake = statuses.map((s) => s.awake).join('/');
    const woken = statuses.map((s) => s.woken).join('/');
    process.stderr.write(`  leaders ${leaders}/${upTo}, awake ${awake}, wake-ups ${woken}\n`);
    if (values.verbose) for (const s of statuses) process.stderr.write(`    ${JSON.stringify(s)}\n`);
    if (leaders === upTo && allKnowLeader && asleep) return true;
    if (Date.now() >= deadlineMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Brings the regions in waves (write everywhere, add everywhere, campaign), each settled before the next. */
async function bootstrap(
  stores: readonly BenchStore[],
  regions: number,
  mode: 'on' | 'off',
): Promise<boolean> {
  const deadlineMs = Date.now() + settleTimeoutMs;
  for (let from = 1; from <= regions; from += waveRegions) {
    const to = Math.min(regions, from + waveRegions - 1);
    await Promise.all(stores.map((s) => s.command(`write ${from} ${to}`, 'WRITTEN', 120_000)));
    await Promise.all(stores.map((s) => s.command(`add ${from} ${to}`, 'ADDED', 120_000)));
    await Promise.all(stores.map((s) => s.command(`campaign ${from} ${to}`, 'CAMPAIGNED', 30_000)));
    if (!(await settle(stores, to, mode, deadlineMs))) return false;
  }
  return true;
}

async function runCase(regions: number, mode: 'on' | 'off'): Promise<CaseResult> {
  const baseDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-regions-'));
  const stores = await startStores(regions, mode, baseDir);
  try {
    const startedMs = Date.now();
    const settled = await bootstrap(stores, regions, mode);
    const settledMs = Date.now() - startedMs;
    // A few seconds more: the last elections' stragglers and GC of the start-up garbage.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const before = await Promise.all(stores.map((s) => s.status()));
    const ticksBefore = stores.map((s) => s.cpuTicks());
    const windowStartMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const ticksAfter = stores.map((s) => s.cpuTicks());
    const elapsedSeconds = (performance.now() - windowStartMs) / 1000;
    const after = await Promise.all(stores.map((s) => s.status()));
    const perSecond = (a: number, b: number): number => Math.round((a - b) / elapsedSeconds);
    return {
      regionsPerStore: regions,
      hibernation: mode,
      settledMs,
      settled,
      perStore: stores.map((s, i) => {
        const a = after[i] as StoreStatus;
        const b = before[i] as StoreStatus;
        const cpuSeconds = ((ticksAfter[i] as number) - (ticksBefore[i] as number)) / clockTicksPerSecond;
        return {
          storeId: s.storeId,
          cpuPercentOfCore: Math.round((cpuSeconds / elapsedSeconds) * 1000) / 10,
          rssMiB: Math.round(s.rssMiB()),
          leaders: a.leaders,
          awake: a.awake,
          wakeUpsPerSecond: perSecond(a.woken, b.woken),
          framesPerSecond: perSecond(a.framesSentCount, b.framesSentCount),
          messagesPerSecond: perSecond(a.messagesSentCount, b.messagesSentCount),
          heartbeatsPerSecond: perSecond(a.heartbeatsSentCount, b.heartbeatsSentCount),
          ticksPerSecond: perSecond(a.ticksDelivered, b.ticksDelivered),
        };
      }),
    };
  } finally {
    for (const store of stores) await store.stop();
    rmSync(baseDir, { recursive: true, force: true });
  }
}

const results: CaseResult[] = [];
for (const regions of regionCounts) {
  for (const mode of modes) {
    process.stderr.write(`case: ${regions} regions per store, hibernation ${mode}\n`);
    results.push(await runCase(regions, mode));
  }
}

if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log(
    '| regions per store | hibernation | settled in | store | CPU % of a core | RSS MiB | leaders | awake regions | wake-ups/s | frames/s | messages/s | heartbeats/s | Raft ticks/s |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const s of r.perStore) {
      const settled = r.settled ? `${(r.settledMs / 1000).toFixed(0)} s` : 'not settled';
      console.log(
        `| ${r.regionsPerStore.toLocaleString('en-US')} | ${r.hibernation} | ${settled} | ${s.storeId} | ` +
          `${s.cpuPercentOfCore.toFixed(1)} | ${s.rssMiB} | ${s.leaders} | ${s.awake} | ${s.wakeUpsPerSecond} | ${s.framesPerSecond} | ` +
          `${s.messagesPerSecond} | ${s.heartbeatsPerSecond} | ${s.ticksPerSecond} |`,
      );
    }
  }
}
