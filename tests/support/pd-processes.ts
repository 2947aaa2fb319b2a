// Real Placement Driver member processes (pd/src/cli/pd-main.ts) on loopback, each with its
// own data directory, for integration tests and benchmarks: kill -9 one, restart it on the
// same data, and talk to the members over real gRPC. Also a minimal PD caller that finds
// the leader through GetMembers (the full PD client is server/src/pd-client/).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { pdpb } from '@flotilla/proto';
import { formatClusterSpec } from '../../server/src/cli/cluster-spec.js';
import { freePort } from './store-processes.js';
import { kill9AndWait, waitForReady } from './child-ready.js';

const pdMain = fileURLToPath(new URL('../../pd/src/cli/pd-main.ts', import.meta.url));

/** Generous: a member starts in well under a second, but CI machines are busy. */
const START_TIMEOUT_MS = 30_000;
/** Deadline of one PD call made by the helpers. */
export const PD_CALL_DEADLINE_MS = 3000;

export class PdProcesses {
  readonly addresses = new Map<number, string>();
  private readonly children = new Map<number, ChildProcess>();
  private readonly logs = new Map<number, string[]>();
  private readonly clients = new Map<number, pdpb.PDClient>();
  readonly baseDir = mkdtempSync(join(tmpdir(), 'flotilla-pd-it-'));

  private constructor(
    memberIds: readonly number[],
    ports: readonly number[],
    /** More flags for every member (e.g. scheduling: --max-store-down-time-ms 3000). */
    private readonly extraArgs: readonly string[],
  ) {
    memberIds.forEach((id, i) => this.addresses.set(id, `127.0.0.1:${ports[i]}`));
  }

  static async create(
    memberIds: readonly number[] = [1, 2, 3],
    extraArgs: readonly string[] = [],
  ): Promise<PdProcesses> {
    const ports: number[] = [];
    for (const _ of memberIds) ports.push(await freePort());
    return new PdProcesses(memberIds, ports, extraArgs);
  }

  /** Every member's address, for clients and stores. */
  endpoints(): string[] {
    return [...this.addresses.values()];
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.addresses.keys()].map((id) => this.start(id)));
  }

  /** Starts (or restarts, on the same data directory) member `id` and waits for its READY line. */
  start(id: number): Promise<void> {
    const args = [
      '--import',
      'tsx',
      pdMain,
      '--member-id',
      String(id),
      '--data-dir',
      join(this.baseDir, `pd-${id}`),
      '--initial-cluster',
      formatClusterSpec(this.addresses),
      ...this.extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(id, child);
    const log: string[] = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
    return waitForReady(child, `pd ${id}`, /READY/, log, START_TIMEOUT_MS).then(() => undefined);
  }

  /** SIGKILL: no shutdown code runs. */
  async kill9(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined) return;
    await kill9AndWait(child);
    this.children.delete(id);
  }

  runningMemberIds(): number[] {
    return [...this.children.keys()];
  }

  async stopAll(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    await Promise.all([...this.children.keys()].map((id) => this.kill9(id)));
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  log(id: number): string {
    return (this.logs.get(id) ?? []).join('');
  }

  /** A PD client for member `id` (cached, closed by stopAll). */
  client(id: number): pdpb.PDClient {
    let client = this.clients.get(id);
    if (client === undefined) {
      const address = this.addresses.get(id);
      if (address === undefined) throw new Error(`no PD member ${id}`);
      client = new pdpb.PDClient(address, grpc.credentials.createInsecure());
      this.clients.set(id, client);
    }
    return client;
  }

  /** The leader member as the running members report it through GetMembers, if they agree on one that serves. */
  async leaderId(): Promise<number | undefined> {
    for (const id of this.runningMemberIds()) {
      const res = await pdCall(this.client(id), 'getMembers', { header: undefined }).catch(() => undefined);
      const leader = res?.leader === undefined ? undefined : Number(res.leader.memberId);
      if (leader !== undefined && this.children.has(leader)) {
        // The named leader must also serve (its state loaded): ask it something leader-only.
        const probe = await pdCall(this.client(leader), 'isBootstrapped', { header: undefined }).catch(
          () => undefined,
        );
        if (probe !== undefined && probe.header?.error === undefined) return leader;
      }
    }
    return undefined;
  }
}

type UnaryMethods = {
  [K in keyof pdpb.PDClient]: pdpb.PDClient[K] extends (
    req: infer Req,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, res: infer Res) => void,
  ) => grpc.ClientUnaryCall
    ? [Req, Res]
    : never;
};

/** One unary PD call with a deadline, as a promise. */
export function pdCall<K extends keyof UnaryMethods>(
  client: pdpb.PDClient,
  method: K,
  request: UnaryMethods[K][0],
  deadlineMs = PD_CALL_DEADLINE_MS,
): Promise<UnaryMethods[K][1]> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      req: unknown,
      metadata: grpc.Metadata,
      options: Partial<grpc.CallOptions>,
      callback: (err: grpc.ServiceError | null, res: UnaryMethods[K][1]) => void,
    ) => grpc.ClientUnaryCall;
    fn.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + deadlineMs) },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}
