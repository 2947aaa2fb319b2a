// A Flotilla cluster for a benchmark: 3 Placement Driver members and 3 stores, each its own
// process on loopback with a fresh temp data directory (the test harnesses'
// PdProcesses/StoreProcesses), started like `npm start` does (the first store bootstraps, PD
// grows the region to three voters), registered for teardown (end, error or Ctrl-C).
// Also the static 3-store cluster (no PD, one region) that the unary client needs.
import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from '../../tests/support/pd-processes.js';
import { StoreProcesses, eventually } from '../../tests/support/store-processes.js';
import { pidsWithCommandLine } from './process-cpu.js';
import { onTeardown } from './teardown.js';

/** Generous: three voters need PD's replica checker to add two peers, on a busy machine. */
const READY_TIMEOUT_MS = 120_000;
export const SLOTS = [1, 2, 3] as const;
/** Deadline of one Admin Status call (role polls during an election must not hang). */
const STATUS_DEADLINE_MS = 500;

export interface RegionLeader {
  readonly slot: number;
  readonly term: number;
}

export interface RaftRoleSample {
  readonly slot: number;
  readonly role: raftpb.RaftRole;
  readonly term: number;
}

export class FlotillaCluster {
  /** One Admin client per slot, kept open: a poll must not pay for a new connection. */
  private readonly admins = new Map<number, raftpb.AdminClient>();

  private constructor(
    readonly pds: PdProcesses | undefined,
    readonly stores: StoreProcesses,
    private readonly stopProcesses: () => Promise<void>,
  ) {}

  async stop(): Promise<void> {
    for (const admin of this.admins.values()) admin.close();
    this.admins.clear();
    await this.stopProcesses();
  }

  /** 3 PD members + 3 stores; resolves once the first region has 3 voters and a leader. */
  static async startWithPd(storeArgs: string[] = []): Promise<FlotillaCluster> {
    const pds = await PdProcesses.create([1, 2, 3]);
    const stores = await StoreProcesses.createWithPd([...SLOTS], pds.endpoints(), [
      '--region-heartbeat-interval-ms',
      '1000',
      ...storeArgs,
    ]);
    const stop = onTeardown('flotilla cluster', async () => {
      await stores.stopAll();
      await pds.stopAll();
    });
    const cluster = new FlotillaCluster(pds, stores, stop);
    try {
      await pds.startAll();
      await stores.start(1);
      await Promise.all([stores.start(2), stores.start(3)]);
      const pd = new PdClient({ endpoints: pds.endpoints() });
      try {
        await eventually(
          async () => {
            const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10).catch(() => undefined);
            const region = res?.regions[0];
            return res?.regions.length === 1 && region?.region?.peers.length === 3 ? true : undefined;
          },
          READY_TIMEOUT_MS,
          'three voters of the first region',
        );
      } finally {
        pd.close();
      }
      await eventually(() => cluster.leader(), READY_TIMEOUT_MS, 'a region leader');
      return cluster;
    } catch (err) {
      await stop();
      throw err;
    }
  }

  /** 3 stores with a static member list (one region, no PD), for the unary client. */
  static async startStatic(storeArgs: string[] = []): Promise<FlotillaCluster> {
    const stores = await StoreProcesses.create([...SLOTS], storeArgs);
    const stop = onTeardown('flotilla static cluster', () => stores.stopAll());
    const cluster = new FlotillaCluster(undefined, stores, stop);
    try {
      await stores.startAll();
      await eventually(() => cluster.leader(), READY_TIMEOUT_MS, 'a region leader');
      return cluster;
    } catch (err) {
      await stop();
      throw err;
    }
  }

  pdEndpoints(): string[] {
    if (this.pds === undefined) throw new Error('a static cluster has no PD');
    return this.pds.endpoints();
  }

  /** Pids of every server process (PD members and stores) now running. */
  serverPids(): number[] {
    const pids = pidsWithCommandLine(this.stores.baseDir);
    if (this.pds !== undefined) pids.push(...pidsWithCommandLine(this.pds.baseDir));
    return pids;
  }

  /** Pid of the store process in `slot`, if running. */
  storePid(slot: number): number | undefined {
    return pidsWithCommandLine(`${this.stores.baseDir}/store-${slot} `)[0];
  }

  /** Raft role and term of the (single) region on every running store that answers. */
  async roles(): Promise<RaftRoleSample[]> {
    const samples = await Promise.all(
      this.stores.runningStoreIds().map(async (slot) => {
        const status = await this.status(slot).catch(() => undefined);
        const region = status?.regions[0];
        return region === undefined ? undefined : { slot, role: region.role, term: Number(region.term) };
      }),
    );
    return samples.filter((s): s is RaftRoleSample => s !== undefined);
  }

  private status(slot: number): Promise<raftpb.StatusResponse> {
    let admin = this.admins.get(slot);
    if (admin === undefined) {
      admin = new raftpb.AdminClient(
        this.stores.addresses.get(slot) as string,
        grpc.credentials.createInsecure(),
      );
      this.admins.set(slot, admin);
    }
    const client = admin;
    return new Promise((resolve, reject) =>
      client.status(
        { regionIds: [] },
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + STATUS_DEADLINE_MS) },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  }

  /** The store leading the region (highest term wins if a deposed leader still answers). */
  async leader(): Promise<RegionLeader | undefined> {
    const leaders = (await this.roles()).filter((s) => s.role === raftpb.RaftRole.LEADER);
    leaders.sort((a, b) => b.term - a.term);
    const top = leaders[0];
    return top === undefined ? undefined : { slot: top.slot, term: top.term };
  }
}
