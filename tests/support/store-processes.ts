// Real store processes, shared by the integration tests, the benchmarks and (later) the live
// chaos suites: each store runs as its own node process (server/src/cli/store-main.ts) on
// loopback with its own LevelDB directory, so a caller can kill -9 one, restart it on the same
// data, and talk to the cluster over real gRPC.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';
import { formatClusterSpec } from '../../server/src/cli/cluster-spec.js';
import { kill9AndWait, waitForReady } from './child-ready.js';

const storeMain = fileURLToPath(new URL('../../server/src/cli/store-main.ts', import.meta.url));

/** Generous: a store process starts in well under a second, but CI machines are busy. */
const START_TIMEOUT_MS = 30_000;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class StoreProcesses {
  readonly addresses = new Map<number, string>();
  private readonly children = new Map<number, ChildProcess>();
  private readonly logs = new Map<number, string[]>();
  readonly baseDir = mkdtempSync(join(tmpdir(), 'flotilla-it-'));
  private readonly extraArgs: string[];
  /**
   * In a PD cluster the harness numbers its processes by slot (1..n) and PD assigns the
   * store ids: slot → store id, learned from each READY line.
   */
  readonly storeIdOfSlot = new Map<number, number>();

  private constructor(
    storeIds: readonly number[],
    ports: readonly number[],
    extraArgs: string[],
    /** PD members' addresses: stores join through PD instead of a static member list. */
    private readonly pdEndpoints?: readonly string[],
  ) {
    storeIds.forEach((id, i) => this.addresses.set(id, `127.0.0.1:${ports[i]}`));
    this.extraArgs = extraArgs;
  }

  static async create(storeIds: readonly number[], extraArgs: string[] = []): Promise<StoreProcesses> {
    const ports: number[] = [];
    for (const _ of storeIds) ports.push(await freePort());
    return new StoreProcesses(storeIds, ports, extraArgs);
  }

  /** `slots` store processes that join the PD cluster at `pdEndpoints` (keys of `addresses` are slots). */
  static async createWithPd(
    slots: readonly number[],
    pdEndpoints: readonly string[],
    extraArgs: string[] = [],
  ): Promise<StoreProcesses> {
    const ports: number[] = [];
    for (const _ of slots) ports.push(await freePort());
    return new StoreProcesses(slots, ports, extraArgs, pdEndpoints);
  }

  /** Adds a slot (a new store joining the PD cluster); start it with start(slot). */
  async addSlot(slot: number): Promise<void> {
    if (this.addresses.has(slot)) throw new Error(`slot ${slot} exists`);
    this.addresses.set(slot, `127.0.0.1:${await freePort()}`);
  }

  /** The slot running store `storeId` (PD clusters). */
  slotOfStore(storeId: number): number | undefined {
    for (const [slot, id] of this.storeIdOfSlot) if (id === storeId) return slot;
    return undefined;
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.addresses.keys()].map((id) => this.start(id)));
  }

  /** Starts (or restarts, on the same data directory) store `id` and waits for its READY line. */
  start(id: number): Promise<void> {
    const membership =
      this.pdEndpoints === undefined
        ? ['--store-id', String(id), '--initial-cluster', formatClusterSpec(this.addresses)]
        : ['--pd-endpoints', this.pdEndpoints.join(','), '--listen', this.addresses.get(id) as string];
    const args = [
      ...cpuProfileArgs(),
      '--import',
      'tsx',
      storeMain,
      '--data-dir',
      join(this.baseDir, `store-${id}`),
      ...membership,
      ...this.extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(id, child);
    const log: string[] = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
    return waitForReady(child, `store ${id}`, /READY store=(\d+)/, log, START_TIMEOUT_MS).then((ready) => {
      this.storeIdOfSlot.set(id, Number(ready[1]));
    });
  }

  /** SIGKILL: no shutdown code runs, nothing unsynced is flushed by the process. */
  async kill9(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined) return;
    await kill9AndWait(child);
    this.children.delete(id);
  }

  /**
   * Sends `signal` (default SIGTERM: the graceful shutdown that hands over leadership) and
   * waits for the process to exit; resolves with its exit code, or the signal that killed it.
   */
  async stop(id: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | NodeJS.Signals> {
    const child = this.children.get(id);
    if (child === undefined) throw new Error(`store ${id} is not running`);
    if (child.exitCode !== null) {
      this.children.delete(id);
      return child.exitCode;
    }
    const exited = new Promise<number | NodeJS.Signals>((resolve) =>
      child.once('exit', (code, sig) => resolve(code ?? (sig as NodeJS.Signals))),
    );
    child.kill(signal);
    const outcome = await exited;
    this.children.delete(id);
    return outcome;
  }

  /** Ids of the stores whose processes are running. */
  runningStoreIds(): number[] {
    return [...this.children.keys()];
  }

  async stopAll(): Promise<void> {
    // A profiled store must exit by itself to write its profile: stop it gracefully.
    const profiling = cpuProfileArgs().length > 0;
    await Promise.all([...this.children.keys()].map((id) => (profiling ? this.stop(id) : this.kill9(id))));
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  log(id: number): string {
    return (this.logs.get(id) ?? []).join('');
  }

  /** The store whose peer leads region `regionId`, asked through the Admin service of each live store. */
  async leaderStoreId(regionId = 1): Promise<number | undefined> {
    for (const [id] of this.children) {
      const status = await adminStatus(this.addresses.get(id) as string).catch(() => undefined);
      const region = status?.regions.find((r) => Number(r.region?.id) === regionId);
      if (region && region.role === raftpb.RaftRole.LEADER) return id;
    }
    return undefined;
  }
}

export function adminStatus(address: string): Promise<raftpb.StatusResponse> {
  const client = new raftpb.AdminClient(address, grpc.credentials.createInsecure());
  return new Promise<raftpb.StatusResponse>((resolve, reject) => {
    client.status(
      { regionIds: [] },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + 2000) },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      },
    );
  });
}

/** Splits a region through a store's Admin service (the store must lead it). */
export function adminSplitRegion(
  address: string,
  request: raftpb.SplitRegionRequest,
  deadlineMs = 20_000,
): Promise<raftpb.SplitRegionResponse> {
  const client = new raftpb.AdminClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.splitRegion(
      request,
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + deadlineMs) },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      },
    ),
  );
}

/** Polls `check` (an event we cannot subscribe to across processes) until it holds or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

/**
 * With FLOTILLA_CPU_PROF_DIR set (a benchmark run to profile), each store process writes a
 * V8 CPU profile there when it exits (a graceful stop; not after SIGKILL). Open it in Chrome
 * DevTools or speedscope.
 */
function cpuProfileArgs(): string[] {
  const dir = process.env.FLOTILLA_CPU_PROF_DIR;
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', dir];
}
