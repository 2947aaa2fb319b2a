// `npm start` (server/src/cli/local-cluster.ts) as a user runs it: the very command in
// package.json's "start" script, real member processes, its own data directory and ports.
// Pins down issue 23's fixes: Ctrl-C (SIGINT) stops every member whenever it comes (no
// orphan), a port in use stops the command with exit 1 and one line naming it, a member that
// dies before READY takes the others with it, and store lines carry the id PD gave the store.
// "No member left" is checked two ways: every pid the launcher printed is gone, and no process
// at all has this run's data directory on its command line.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const flotillaBin = join(root, 'server/bin/flotilla.mjs');

/** Generous bounds: a busy 2-core machine starts 6 tsx processes here. */
const STARTED_WITHIN_MS = 120_000;
const STOPPED_WITHIN_MS = 60_000;

/** `npm start`'s command from package.json, with this node as `node`. */
function startCommand(): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(/\s+/);
  assert.equal(node, 'node', `npm start runs node: ${pkg.scripts.start}`);
  return [process.execPath, ...args];
}

/**
 * Six consecutive free ports (3 PD members, then 3 stores) below the kernel's ephemeral range,
 * where no test's listen(0) and no outgoing connection lands; away from npm start's defaults.
 */
async function freePortBlock(count: number): Promise<number> {
  const triesMax = 50;
  for (let attempt = 0; attempt < triesMax; attempt++) {
    const base = 21_000 + Math.floor(Math.random() * 8_000);
    const held: Server[] = [];
    let free = true;
    for (let port = base; port < base + count && free; port++) {
      const server = await listenOn(port).catch(() => undefined);
      if (server === undefined) free = false;
      else held.push(server);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports after ${triesMax} tries`);
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

/** Processes whose command line names `needle` (this run's data directory), except this one. */
function processesNaming(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const state = /\) (\S) /.exec(readFileSync(`/proc/${name}/stat`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') found.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** Whether `pid` still runs as the process started at `startTicks` (a zombie has exited). */
function stillRunning(pid: number, startTicks: string | undefined): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && (startTicks === undefined || fields[19] === startTicks);
}

function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface Waiter {
  readonly pattern: RegExp;
  readonly resolve: (match: RegExpExecArray) => void;
}

/** One `npm start` run: its lines (stdout and stderr), the member pids it printed, its exit. */
class LocalCluster {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'flotilla-npm-start-'));
  readonly lines: string[] = [];
  /** pid → its start time in /proc (so a reused pid is not taken for a member). */
  readonly memberPids = new Map<number, string | undefined>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private waiters: Waiter[] = [];
  private exitedAlready = false;

  constructor(
    readonly pdBasePort: number,
    readonly storeBasePort: number,
  ) {
    const [node, ...args] = startCommand();
    this.child = spawn(
      node as string,
      [
        ...args,
        '--pd-base-port',
        String(pdBasePort),
        '--base-port',
        String(storeBasePort),
        '--data-dir',
        this.dataDir,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.onLine(line);
      });
    }
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.exitedAlready = true;
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? assert.fail('the launcher has no pid');
  }

  private onLine(line: string): void {
    this.lines.push(line);
    const started = /^\[[^\]]+\] started, pid (\d+)$/.exec(line);
    if (started) {
      const pid = Number(started[1]);
      this.memberPids.set(pid, startTicksOf(pid));
    }
    this.waiters = this.waiters.filter((w) => {
      const match = w.pattern.exec(line);
      if (match) w.resolve(match);
      return match === null;
    });
  }

  /** The first line (seen already or to come) matching `pattern`; fails on exit or timeout. */
  async line(pattern: RegExp, timeoutMs = STARTED_WITHIN_MS): Promise<RegExpExecArray> {
    for (const line of this.lines) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<RegExpExecArray>((resolve) => this.waiters.push({ pattern, resolve })),
        this.exited.then(() =>
          assert.fail(`npm start exited before a line matched ${pattern}:\n${this.log()}`),
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no line matched ${pattern} within ${timeoutMs} ms:\n${this.log()}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    assert.ok(this.child.kill(signal), `sending ${signal} to npm start`);
  }

  /** Resolves with the exit; fails if the launcher is still running after `timeoutMs`. */
  async exit(timeoutMs = STOPPED_WITHIN_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`npm start still running ${timeoutMs} ms later:\n${this.log()}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Members and launcher alike, as far as this run knows them. */
  assertNoMemberLeft(): void {
    const alive = [...this.memberPids].filter(([pid, ticks]) => stillRunning(pid, ticks)).map(([pid]) => pid);
    assert.deepEqual(alive, [], `member pids still running:\n${this.log()}`);
    assert.deepEqual(processesNaming(this.dataDir), [], `processes still using ${this.dataDir}`);
  }

  log(): string {
    return this.lines.join('\n');
  }

  /** After a test: nothing of this run survives it, whatever happened. */
  async destroy(): Promise<void> {
    if (!this.exitedAlready) this.child.kill('SIGKILL');
    for (const pid of processesNaming(this.dataDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (!this.exitedAlready) await this.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function startLocalCluster(): Promise<LocalCluster> {
  const base = await freePortBlock(6);
  return new LocalCluster(base, base + 3);
}

function flotilla(pd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [flotillaBin, ...args, '--pd', pd], {
    cwd: root,
    encoding: 'utf8',
    timeout: STARTED_WITHIN_MS,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm start (local-cluster.ts): real processes', { timeout: 600_000 }, () => {
  const runs: LocalCluster[] = [];
  after(async () => {
    for (const run of runs) await run.destroy();
  });

  describe('a cluster that started', () => {
    let run: LocalCluster;

    it('prints READY for 3 PD members and 3 stores, then its banner', async () => {
      run = await startLocalCluster();
      runs.push(run);
      await run.line(/^Flotilla local cluster: 3 PD member\(s\), 3 store\(s\)/);
      const ready = run.lines.filter((l) => /\] READY /.test(l));
      assert.equal(ready.filter((l) => / READY pd=/.test(l)).length, 3, run.log());
      assert.equal(ready.filter((l) => / READY store=/.test(l)).length, 3, run.log());
      // The printed pids are the launcher's members, all of them: 6, each running.
      assert.equal(run.memberPids.size, 6, run.log());
      assert.deepEqual(
        processesNaming(run.dataDir)
          .filter((pid) => pid !== run.pid)
          .sort((a, b) => a - b),
        [...run.memberPids.keys()].sort((a, b) => a - b),
        'the processes using the data directory are the printed members',
      );
    });

    it('labels each store slot by the store id its READY line names', () => {
      const ids = new Map<number, number>();
      for (let slot = 1; slot <= 3; slot++) {
        const relabel = run.lines
          .map((l) => /^\[store (\d+)\] is store slot (\d+)$/.exec(l))
          .find((m) => m !== null && Number(m[2]) === slot);
        assert.ok(relabel, `slot ${slot} is relabelled:\n${run.log()}`);
        const id = Number(relabel[1]);
        const address = `127.0.0.1:${run.storeBasePort + slot - 1}`;
        assert.ok(
          run.lines.includes(`[store ${id}] READY store=${id} address=${address}`),
          `store ${id}'s READY line names it and slot ${slot}'s address:\n${run.log()}`,
        );
        ids.set(slot, id);
      }
      assert.equal(new Set(ids.values()).size, 3, 'three different store ids');
      const slotOfId = new Map([...ids].map(([slot, id]) => [id, slot]));
      let checked = 0;
      for (const line of run.lines) {
        // A store's own lines begin "store N" (its id); the label must say the same.
        const bySlot = /^\[store slot (\d+)\] store (\d+)\b/.exec(line);
        if (bySlot) {
          assert.equal(Number(bySlot[2]), ids.get(Number(bySlot[1])), `label of: ${line}`);
          checked++;
        }
        const byId = /^\[store (\d+)\] store (\d+)\b/.exec(line);
        if (byId) {
          assert.equal(byId[2], byId[1], `label of: ${line}`);
          assert.ok(slotOfId.has(Number(byId[1])), `a known store: ${line}`);
          checked++;
        }
      }
      assert.ok(checked >= 6, `store lines checked: ${checked}`);
    });

    it('serves a put, then a get of it, through the flotilla CLI', () => {
      const pd = [0, 1, 2].map((i) => `127.0.0.1:${run.pdBasePort + i}`).join(',');
      const put = flotilla(pd, 'put', 'npm-start-key', 'npm start value');
      assert.deepEqual([put.status, put.stdout], [0, 'OK\n'], put.stderr);
      const get = flotilla(pd, 'get', 'npm-start-key');
      assert.deepEqual([get.status, get.stdout], [0, 'npm start value\n'], get.stderr);
    });

    it('stops on SIGINT with exit 0, every member gone', async () => {
      run.signal('SIGINT');
      const exit = await run.exit();
      assert.deepEqual(exit, { code: 0, signal: null }, run.log());
      run.assertNoMemberLeft();
    });
  });

  it('exits 1 with one line naming a port that is taken, starting nothing', async () => {
    const base = await freePortBlock(6);
    const taken = base + 4; // store slot 2
    const holder = await listenOn(taken);
    try {
      const run = new LocalCluster(base, base + 3);
      runs.push(run);
      const exit = await run.exit(STARTED_WITHIN_MS);
      assert.deepEqual(exit, { code: 1, signal: null }, run.log());
      const naming = run.lines.filter((l) => l.includes(String(taken)));
      assert.equal(naming.length, 1, run.log());
      assert.match(
        naming[0] as string,
        new RegExp(`^port ${taken} \\(store slot 2, 127\\.0\\.0\\.1:${taken}\\) is already in use`),
      );
      assert.equal(run.memberPids.size, 0, `no member started:\n${run.log()}`);
      run.assertNoMemberLeft();
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it('exits 1 when a store dies before READY, stopping the members already started', async () => {
    const run = await startLocalCluster();
    runs.push(run);
    // Store slot 2's data directory is a file: the store cannot open LevelDB there.
    mkdirSync(run.dataDir, { recursive: true });
    writeFileSync(join(run.dataDir, 'store-2'), 'not a directory');
    const exit = await run.exit(STARTED_WITHIN_MS);
    assert.deepEqual(exit, { code: 1, signal: null }, run.log());
    assert.ok(
      run.lines.some((l) =>
        /^\[store slot 2\] exited before it was READY \(exit code \d\): stopping the cluster$/.test(l),
      ),
      run.log(),
    );
    assert.ok(run.memberPids.size >= 4, `PD and store slot 1 had started:\n${run.log()}`);
    run.assertNoMemberLeft();
  });

  it('stops every member on SIGINT right after the first one has printed a line', async () => {
    const run = await startLocalCluster();
    runs.push(run);
    // The first line a member itself wrote (the launcher's "started, pid" lines are its own).
    await run.line(/^\[pd \d\] (?!started, pid)/);
    run.signal('SIGINT');
    const exit = await run.exit();
    assert.deepEqual(exit, { code: 0, signal: null }, run.log());
    assert.ok(run.memberPids.size >= 3, run.log());
    run.assertNoMemberLeft();
  });

  it('stops every member on SIGINT while the first store is starting (before its READY)', async () => {
    const run = await startLocalCluster();
    runs.push(run);
    await run.line(/^\[store slot 1\] started, pid \d+$/);
    run.signal('SIGINT');
    const exit = await run.exit();
    assert.deepEqual(exit, { code: 0, signal: null }, run.log());
    assert.ok(run.memberPids.size >= 4, run.log());
    run.assertNoMemberLeft();
  });
});
