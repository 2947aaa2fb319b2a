// One Placement Driver member: the Raft runtime of a store node holding a single "meta"
// region (id 1, whole key space) whose peers are the PD members (peer id = member id, from
// the static initial cluster), plus the PD gRPC service on the same port. PD's state is
// ordinary key-value data in that region, so it is replicated, snapshotted and compacted
// like any region, and the PD leader is simply the meta region's leader.
import { RaftRuntime, checkNodeIdent } from '../../server/src/node/raft-runtime.js';
import type { StoreConfig } from '../../server/src/store/store-config.js';
import type { RegionMeta } from '../../server/src/store/region-meta.js';
import { pdpb } from '@flotilla/proto';
import { PdCluster } from './cluster/pd-cluster.js';
import { Leadership } from './leadership.js';
import { clusterIdKey, decodeU64Value } from './meta/meta-keys.js';
import { META_REGION_ID, RaftMetaKv } from './meta/raft-meta-kv.js';
import { describeLeader, pdServiceImplementation } from './service/pd-grpc.js';
import { Scheduler } from './schedule/scheduler.js';
import type { ScheduleConfig } from './schedule/schedule-config.js';

/** Written as the cluster id of a PD member's data directory ident (PD data is never a store's). */
const PD_IDENT_CLUSTER_ID = 0;
/** How often the member checks whether it gained or lost the meta region's leadership, in ticks. */
const LEADERSHIP_POLL_TICKS = 2;

export interface PdMemberOptions {
  readonly memberId: number;
  /** host:port to listen on (PD clients and the other members); port 0 picks a free one. */
  readonly listenAddress: string;
  readonly dataDir: string;
  /** Every member's id and address, this one included; the same on every member. */
  readonly initialCluster: ReadonlyMap<number, string>;
  readonly storeConfig?: Partial<StoreConfig>;
  /** Ids reserved per meta-store write by the id allocator. */
  readonly idBlockSize?: number;
  /** Scheduling settings (replica count, down-store timeout, limits); defaults otherwise. */
  readonly schedule?: Partial<ScheduleConfig>;
  readonly log?: (line: string) => void;
  /** Called when the embedded store hits an unrecoverable error; the default exits the process. */
  readonly onFatal?: (error: Error) => void;
}

export class PdMemberError extends Error {
  readonly code = 'PD_MEMBER';
}

export class PdMember {
  private stopped = false;

  private constructor(
    readonly memberId: number,
    private readonly runtime: RaftRuntime,
    readonly cluster: PdCluster,
    private readonly leadership: Leadership,
    /** Runs on every member, acts only while this member leads. */
    readonly scheduler: Scheduler,
  ) {}

  /** The address the member serves on (the port resolved if 0 was asked for). */
  get address(): string {
    return this.runtime.address;
  }

  /** True while this member serves as PD leader (state loaded for the current term). */
  get isLeader(): boolean {
    return this.leadership.serving;
  }

  /** The member this one believes leads (0 if none known). */
  leaderMemberId(): number {
    return this.leadership.raftStatus().leaderId;
  }

  static async start(options: PdMemberOptions): Promise<PdMember> {
    const log = options.log ?? ((line: string) => console.error(line));
    const { memberId, initialCluster } = options;
    if (!initialCluster.has(memberId)) {
      throw new PdMemberError(
        `member ${memberId} is not in the initial cluster (${[...initialCluster.keys()].join(', ')})`,
      );
    }
    const members = new Map(initialCluster);
    let parts: { cluster: PdCluster; leadership: Leadership } | undefined;
    // Created once the runtime serves; GetOperators answers empty until then.
    const started: { scheduler?: Scheduler } = {};
    const runtime = await RaftRuntime.start({
      nodeId: memberId,
      listenAddress: options.listenAddress,
      dataDir: options.dataDir,
      storeConfig: options.storeConfig,
      bootstrapRegion: metaRegion([...members.keys()]),
      prepareEngine: (engine) => checkNodeIdent(engine, PD_IDENT_CLUSTER_ID, memberId),
      resolveAddress: (id) => {
        const address = members.get(id);
        return address
          ? Promise.resolve(address)
          : Promise.reject(new PdMemberError(`no address known for PD member ${id}`));
      },
      addServices: (server, { store, config }) => {
        const kv = new RaftMetaKv(store, memberId);
        const cluster = new PdCluster({
          kv,
          nowUnixMs: () => Date.now(),
          idBlockSize: options.idBlockSize,
          log,
        });
        const leadership = new Leadership({
          store,
          cluster,
          memberId,
          pollIntervalMs: config.tickIntervalMs * LEADERSHIP_POLL_TICKS,
          describeLeader: (leaderId) => describeLeader(memberId, members, leaderId),
          log,
        });
        parts = { cluster, leadership };
        server.addService(
          pdpb.PDService,
          pdServiceImplementation({
            cluster,
            leadership,
            memberId,
            members,
            localClusterId: () => {
              const value = kv.readLocal(clusterIdKey);
              return value === undefined ? 0 : decodeU64Value(value, 'cluster id');
            },
            operators: () => started.scheduler?.operators,
            maxReplicas: () => started.scheduler?.config.maxReplicas ?? 0,
            nowUnixMs: () => Date.now(),
            onInternalError: (e) =>
              log(`pd internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
          }),
        );
      },
      log,
      onFatal:
        options.onFatal ??
        ((error: Error) => {
          log(`pd member ${memberId}: fatal: ${error.stack ?? error.message}`);
          process.exit(70);
        }),
    });
    if (parts === undefined) throw new PdMemberError('the runtime did not ask for the PD service');
    log(
      `pd member ${memberId} serving on ${runtime.address} (data ${options.dataDir}, members ${[...members.keys()].join(', ')})`,
    );
    const scheduler = new Scheduler({
      cluster: parts.cluster,
      config: options.schedule,
      nowUnixMs: () => Date.now(),
      log: (line) => log(`pd member ${memberId}: ${line}`),
    });
    scheduler.start();
    started.scheduler = scheduler;
    return new PdMember(memberId, runtime, parts.cluster, parts.leadership, scheduler);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    this.leadership.stop();
    this.cluster.unload(`PD member ${this.memberId} is stopping`);
    await this.runtime.stop();
  }
}

/** The meta region: whole key space, one voter per PD member (peer id = member id). */
export function metaRegion(memberIds: readonly number[]): RegionMeta {
  return {
    id: META_REGION_ID,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 1, version: 1 },
    peers: [...memberIds].sort((a, b) => a - b).map((id) => ({ id, storeId: id, role: 'voter' as const })),
  };
}
