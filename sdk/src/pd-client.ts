// The SDK's connection to PD: finds PD's leader through GetMembers (asking each configured
// endpoint in turn), sends region and store lookups there, and on any failure or NOT_LEADER
// answer finds the leader again and retries — lookups change nothing, so retrying them is
// always safe. Concurrent discoveries share one round of GetMembers.
import * as grpc from '@grpc/grpc-js';
import { pdpb } from './wire.js';
import type { metapb } from './wire.js';
import type { Deadline } from './deadline.js';
import { backoffMs } from './deadline.js';
import { AbortedError, ClientClosedError, InternalError, UnavailableError } from './errors.js';
import type { UnaryMethod } from './grpc-call.js';
import { channelOptions, unaryCall, whenReady } from './grpc-call.js';
import type { ResolvedClientOptions } from './options.js';
import type { StatsRecorder } from './stats.js';

interface Member {
  readonly address: string;
  readonly client: pdpb.PDClient;
}

type WithHeader = { header?: pdpb.ResponseHeader | undefined };

/** Attempts of one PD lookup (discoveries included) before giving up, whatever time is left. */
const PD_ATTEMPTS_MAX = 32;

export class PdClient {
  private leader: Member | undefined;
  private discovery: Promise<Member> | undefined;
  private readonly clients = new Map<string, pdpb.PDClient>();
  private clusterId = 0n;
  private closed = false;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly stats: StatsRecorder,
  ) {}

  /** The region holding `key` with its leader, or undefined if PD knows none. */
  async getRegion(key: Uint8Array, deadline: Deadline): Promise<pdpb.RegionInfo | undefined> {
    const res = await this.call(
      (c) => c.getRegion,
      { header: this.header(), regionKey: Buffer.from(key) },
      deadline,
    );
    return res.region;
  }

  /** The region just before the one holding `key`, or undefined when that one is the first. */
  async getPrevRegion(key: Uint8Array, deadline: Deadline): Promise<pdpb.RegionInfo | undefined> {
    const res = await this.call(
      (c) => c.getPrevRegion,
      { header: this.header(), regionKey: Buffer.from(key) },
      deadline,
    );
    return res.region;
  }

  /** Up to `limit` regions overlapping [startKey, endKey), in key order. */
  async scanRegions(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
    deadline: Deadline,
  ): Promise<pdpb.RegionInfo[]> {
    const res = await this.call(
      (c) => c.scanRegions,
      { header: this.header(), startKey: Buffer.from(startKey), endKey: Buffer.from(endKey), limit },
      deadline,
    );
    return res.regions;
  }

  /** The store with id `storeId`; throws UnavailableError when PD does not know it. */
  async getStore(storeId: bigint, deadline: Deadline): Promise<metapb.Store> {
    const res = await this.call((c) => c.getStore, { header: this.header(), storeId }, deadline);
    if (res.store === undefined) throw new UnavailableError(`PD returned no store ${storeId}`);
    return res.store;
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.leader = undefined;
  }

  private header(): pdpb.RequestHeader {
    return { clusterId: this.clusterId };
  }

  private async call<Req, Res extends WithHeader>(
    pick: (client: pdpb.PDClient) => UnaryMethod<Req, Res>,
    request: Req,
    deadline: Deadline,
  ): Promise<Res> {
    let lastProblem = 'no attempt';
    for (let attempt = 0; attempt < PD_ATTEMPTS_MAX; attempt++) {
      if (attempt > 0)
        await deadline.sleep(
          backoffMs(attempt - 1, this.options.backoffBaseMs, this.options.backoffMaxMs),
          `asking PD (${lastProblem})`,
        );
      deadline.check(`asking PD (${lastProblem})`);
      let member: Member;
      try {
        member = await this.currentLeader(deadline);
      } catch (err) {
        if (!(err instanceof UnavailableError) || this.closed) throw err;
        lastProblem = err.message;
        continue;
      }
      this.stats.pdCalls++;
      let res: Res;
      try {
        const cap = this.pdCallTimeoutMs();
        res = await deadline.race(
          // The header is stamped per attempt: the cluster id is learned by the first discovery.
          unaryCall(
            member.client,
            pick(member.client),
            { ...request, header: this.header() },
            deadline.grpcDeadline(cap),
          ),
        );
      } catch (err) {
        if ((err as Partial<grpc.ServiceError>).code === grpc.status.INVALID_ARGUMENT)
          throw new InternalError(`PD refused a request as invalid: ${(err as Error).message}`);
        if (err instanceof AbortedError) throw err;
        lastProblem = `PD ${member.address}: ${(err as Error).message}`;
        this.forgetLeader(member);
        continue;
      }
      const error = res.header?.error;
      if (error === undefined || error.type === pdpb.ErrorType.REGION_NOT_FOUND) return res;
      lastProblem = `PD ${member.address}: ${pdpb.errorTypeToJSON(error.type)} ${error.message}`;
      switch (error.type) {
        case pdpb.ErrorType.NOT_LEADER:
        case pdpb.ErrorType.CLUSTER_ID_MISMATCH:
          this.forgetLeader(member);
          continue;
        case pdpb.ErrorType.NOT_BOOTSTRAPPED:
          // A cluster being created: it is bootstrapped moments later.
          continue;
        case pdpb.ErrorType.STORE_NOT_FOUND:
          throw new UnavailableError(lastProblem);
        default:
          throw new InternalError(lastProblem);
      }
    }
    throw new UnavailableError(`PD gave no answer after ${PD_ATTEMPTS_MAX} attempts: ${lastProblem}`);
  }

  private pdCallTimeoutMs(): number {
    return this.options.connectTimeoutMs * 3;
  }

  private forgetLeader(member: Member): void {
    if (this.leader === member) this.leader = undefined;
  }

  private currentLeader(deadline: Deadline): Promise<Member> {
    if (this.closed) return Promise.reject(new ClientClosedError('the client is closed'));
    if (this.leader !== undefined) return Promise.resolve(this.leader);
    if (this.discovery === undefined) {
      this.discovery = this.discover(deadline).finally(() => (this.discovery = undefined));
    }
    return deadline.race(this.discovery);
  }

  /** Asks each endpoint (the last leader's first) for the members; adopts the leader named. */
  private async discover(deadline: Deadline): Promise<Member> {
    const problems: string[] = [];
    for (const address of this.options.pdEndpoints) {
      // Other callers share this discovery: end it as "unavailable", never with this
      // caller's timeout, and let each caller check its own deadline.
      if (deadline.expired() || deadline.aborted) break;
      const client = this.client(address);
      try {
        await whenReady(client, deadline.grpcDeadline(this.options.connectTimeoutMs));
        this.stats.pdCalls++;
        const res = await unaryCall(
          client,
          client.getMembers,
          { header: this.header() },
          deadline.grpcDeadline(this.pdCallTimeoutMs()),
        );
        const leaderAddress = res.leader?.clientAddresses[0];
        if (leaderAddress === undefined) {
          problems.push(`${address}: no leader elected`);
          continue;
        }
        if (res.header !== undefined && res.header.clusterId !== 0n) this.clusterId = res.header.clusterId;
        this.leader = { address: leaderAddress, client: this.client(leaderAddress) };
        return this.leader;
      } catch (err) {
        problems.push(`${address}: ${(err as Error).message}`);
      }
    }
    throw new UnavailableError(`no PD leader found (${problems.join('; ')})`);
  }

  private client(address: string): pdpb.PDClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      // Bounded by the endpoints plus the leader addresses PD named.
      if (this.clients.size >= 64) throw new InternalError('more than 64 PD addresses seen');
      client = new pdpb.PDClient(
        address,
        grpc.credentials.createInsecure(),
        channelOptions(this.options.keepaliveTimeMs),
      );
      this.clients.set(address, client);
    }
    return client;
  }
}
