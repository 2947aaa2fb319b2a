// One seeded run of the multi-region cluster simulator: PD and 3-5 real stores in one
// process, clients routing through PD's region map, faults, and the checks.
//   1. bootstrap as production does: PD bootstraps with the first store's one-voter region,
//      the other stores register; PD's replica checker grows the region to 3 voters;
//   2. fault phase: client operations, split checks, PD heartbeats and operators, faults;
//      the safety invariants every few ticks (invariants.ts);
//   3. heal: every link back, calm network, crashed stores restarted;
//   4. settle: every region PD knows has a leader whose epoch PD has seen, PD covers the
//      key space, no client operation is pending (liveness, bounded);
//   5. every key is read back (liveness); replicas converge and hold the same data;
//   6. the whole history is checked for linearizability, key by key.
import type { Store } from '../../../server/src/store/store.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import { epochMatches, peerById, peerOnStore } from '../../../server/src/store/region-meta.js';
import { SimRandom } from '../sim/prng.js';
import { ClusterHistory, describeOperation } from './cluster-history.js';
import { FaultInjector } from './fault-injector.js';
import {
  checkPdRanges,
  checkReplicaAgreement,
  checkStoreRanges,
  compareReplicaData,
  describeRange,
} from './invariants.js';
import type { Replica } from './invariants.js';
import type { RunConfig, RunOptions } from './run-config.js';
import { drawRunConfig, keyName } from './run-config.js';
import type { ClientOperation } from './sim-client.js';
import { SimClient } from './sim-client.js';
import { SimLoop, STEPS_PER_TICK } from './sim-loop.js';
import { SimNetwork } from './sim-network.js';
import { SimPd } from './sim-pd.js';
import { SimStoreNode } from './sim-store-node.js';
import { StalePeerCheck } from '../../../server/src/pd-client/stale-peer-check.js';
import { regionToProto } from '../../../server/src/store/region-meta.js';

export type FailureKind = 'fatal' | 'invariant' | 'linearizability' | 'liveness' | 'harness';

export interface RunFailure {
  readonly kind: FailureKind;
  readonly tick: number;
  readonly message: string;
}

export interface RunSummary {
  readonly stores: number;
  readonly clients: number;
  readonly keys: number;
  readonly ticks: number;
  readonly regionsAtEnd: number;
  readonly splits: number;
  readonly snapshotsSent: number;
  readonly snapshotsInstalled: number;
  readonly peersCreated: number;
  readonly peersDestroyed: number;
  readonly crashes: number;
  readonly powerLosses: number;
  readonly faults: string;
  readonly framesSent: number;
  readonly framesLost: number;
  readonly regionReports: number;
  readonly operatorsSent: number;
  readonly operations: string;
  readonly linearizability: string;
  readonly invariantChecks: number;
  readonly traceDigest: string;
}

export interface RunResult {
  readonly seed: number;
  readonly failure: RunFailure | null;
  readonly summary: RunSummary;
}

/** Liveness failures that match an open finding (FINDINGS.md) say so. */
export const KNOWN_ISSUE_STALE_MEMBERSHIP =
  ' [known issue 1: its membership predates its leader, it cannot answer it (FINDINGS.md)]';
export const KNOWN_ISSUE_STALE_PEER =
  ' [known issue 2: a stale peer that missed its removal blocks the creation of this one (FINDINGS.md)]';

/** Ticks between a store's region watch passes (reports of changed leaderships and epochs). */
const WATCH_EVERY_TICKS = 2;
/** The stale-peer check (server/src/pd-client/stale-peer-check.ts): how often, and after how long without a leader. */
const STALE_PEER_CHECK_EVERY_TICKS = 50;
/** Ticks between two pushes of the merges a store's leaders drive (the node does it every 100 ms). */
const MERGE_ADVANCE_EVERY_TICKS = 10;
const LEADER_MISSING_TICKS = 200;
/** Ticks to wait for the final reads and for replicas to converge after the settle. */
const CONVERGE_TICKS_MAX = 400;
/** Characters of a failure message kept (replica data can be long). */
const MESSAGE_CHARS_MAX = 20_000;

export async function runCluster(options: RunOptions): Promise<RunResult> {
  const run = new ClusterRun(options);
  try {
    await run.execute();
  } catch (error) {
    run.fail('harness', error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
  await run.teardown();
  return { seed: options.seed, failure: run.failure, summary: run.summary() };
}

class ClusterRun {
  readonly config: RunConfig;
  readonly loop = new SimLoop();
  readonly pd: SimPd;
  readonly network: SimNetwork;
  readonly nodes: SimStoreNode[] = [];
  readonly clients: SimClient[] = [];
  readonly history = new ClusterHistory();
  readonly faults: FaultInjector;
  private readonly opRandom: SimRandom;
  failure: RunFailure | null = null;
  private valueCounter = 0;
  private nextFaultTick = 0;
  private invariantChecks = 0;
  private linearizability = 'not checked';
  private traceHash = 0x811c9dc5;
  private clientsStarting = true;

  constructor(private readonly options: RunOptions) {
    this.config = drawRunConfig(options.seed);
    const random = new SimRandom(options.seed);
    const trace = (line: string): void => this.trace(line);
    this.pd = new SimPd({
      loop: this.loop,
      schedule: this.config.schedule,
      regionHeartbeatTicks: this.config.regionHeartbeatTicks,
      // PD draws its cluster id from crypto: the only random number outside the seed's control.
      log: (line) => trace(`pd: ${line.replace(/cluster \d+/, 'cluster <id>')}`),
    });
    this.network = new SimNetwork(this.loop, random.fork(1), (storeId) => this.nodes[storeId - 1]?.store);
    for (let storeId = 1; storeId <= this.config.storesCount; storeId++) {
      this.nodes.push(
        new SimStoreNode({
          storeId,
          seed: options.seed,
          config: this.config.store,
          loop: this.loop,
          network: this.network,
          pd: this.pd,
          log: trace,
          onFatal: (id, error) =>
            this.fail('fatal', `store ${id} loop died: ${error.stack ?? error.message}`),
        }),
      );
    }
    this.faults = new FaultInjector(
      {
        loop: this.loop,
        network: this.network,
        nodes: this.nodes,
        keysCount: this.config.keysCount,
        crashedMax: this.config.crashedMax,
        trace,
        background: (what, task) => this.background(what, task),
      },
      random.fork(2),
    );
    for (let i = 0; i < this.config.clientsCount; i++) {
      this.clients.push(
        new SimClient(i + 1, {
          loop: this.loop,
          pd: this.pd,
          handlersOf: (storeId) => this.nodes[storeId - 1]?.handlers,
          history: this.history,
          random: random.fork(10 + i),
          readConsistency: this.config.readConsistency,
          opTimeoutTicks: this.config.opTimeoutTicks,
          trace,
          onHarnessError: (error) => this.fail('harness', `client ${i + 1}: ${error.stack ?? error.message}`),
        }),
      );
    }
    this.opRandom = random.fork(3);
    this.nextFaultTick = this.drawFaultGap();
  }

  fail(kind: FailureKind, message: string): void {
    // A safety failure found after a liveness failure (the history is still checked) wins.
    if (this.failure !== null && !(this.failure.kind === 'liveness' && kind !== 'liveness')) return;
    if (this.failure !== null)
      message = `${message}\n(after a liveness failure: ${this.failure.message.split('\n')[0]})`;
    const text = message.length > MESSAGE_CHARS_MAX ? `${message.slice(0, MESSAGE_CHARS_MAX)}...` : message;
    this.failure = { kind, tick: this.loop.tick, message: text };
    this.trace(`FAILURE ${kind}: ${text}`);
  }

  async execute(): Promise<void> {
    const storeIds = this.nodes.map((n) => n.storeId);
    const region = await this.pd.bootstrap(storeIds);
    await this.nodes[0]?.bootstrap(region);
    for (const node of this.nodes) await node.start();
    this.trace(
      `bootstrapped region ${region.id} on store ${storeIds[0]}; config ${JSON.stringify(this.config)}`,
    );
    for (let t = 0; t < this.options.faultTicks && this.failure === null; t++) await this.tickOnce(true);
    if (this.failure !== null) return;
    this.faults.heal();
    this.clientsStarting = false;
    await this.settle();
    if (this.failure === null) await this.readEveryKey();
    if (this.failure === null) await this.converge();
    // Even after a liveness failure the history so far must be linearizable.
    const failure = this.failure as RunFailure | null; // set by the awaited phases
    if (failure === null || failure.kind === 'liveness') this.checkLinearizability();
  }

  private readonly stalePeerChecks = new WeakMap<Store, StalePeerCheck>();

  /** The store's stale-peer check, asking the in-process PD as the real one asks PD over gRPC. */
  private stalePeerCheckOf(store: Store): StalePeerCheck {
    let check = this.stalePeerChecks.get(store);
    if (check === undefined) {
      const cluster = this.pd.cluster;
      check = new StalePeerCheck({
        store,
        leaderMissingTicks: LEADER_MISSING_TICKS,
        log: () => undefined,
        pd: {
          scanRegions: (startKey, endKey, limit) =>
            Promise.resolve({
              header: undefined,
              regions: cluster.scanRegions(startKey, endKey, limit).map((info) => ({
                region: regionToProto(info.region),
                leader: undefined,
                downPeers: [],
                pendingPeers: [],
              })),
            }),
          getRegionById: (regionId) => {
            const info = cluster.getRegionById(regionId);
            return Promise.resolve({
              header: undefined,
              region:
                info === undefined
                  ? undefined
                  : {
                      region: regionToProto(info.region),
                      leader: undefined,
                      downPeers: [],
                      pendingPeers: [],
                    },
            });
          },
        },
      });
      this.stalePeerChecks.set(store, check);
    }
    return check;
  }

  private async tickOnce(faultPhase: boolean): Promise<void> {
    const tick = this.loop.tick;
    const up = this.upStores();
    for (const store of up) store.tick();
    for (const store of up) {
      if (tick % this.config.splitCheckTicks === 0) this.background('split check', store.checkSplits());
      // As the node's merge timer: merges a leader change interrupted, or a refused one, end.
      if (tick % MERGE_ADVANCE_EVERY_TICKS === 0) store.advanceMerges();
      if (tick % WATCH_EVERY_TICKS === 0) this.background('region reports', this.pd.watchRegions(store));
      if (tick % this.config.storeHeartbeatTicks === 0) this.pd.storeHeartbeat(store);
      if (tick % STALE_PEER_CHECK_EVERY_TICKS === 0)
        this.background('stale peer check', this.stalePeerCheckOf(store).checkOnce());
    }
    if (faultPhase && tick >= this.nextFaultTick) {
      this.faults.fire();
      this.nextFaultTick = tick + this.drawFaultGap();
    }
    if (this.clientsStarting) {
      for (const client of this.clients) {
        if (!client.busy && this.opRandom.chancePermille(this.config.opStartPermille))
          this.startOperation(client, this.nextOperation(client));
      }
    }
    for (let s = 0; s < STEPS_PER_TICK; s++) await this.loop.runStep();
    this.checkErrors();
    if (tick % this.config.checkEveryTicks === 0 && this.failure === null) await this.checkInvariants(false);
  }

  private startOperation(client: SimClient, op: ClientOperation): void {
    const what = describeClientOperation(op);
    this.background(
      `client ${client.clientId} ${what}`,
      client.run(op).then((outcome) => this.trace(`client ${client.clientId} ${what}: ${outcome}`)),
    );
  }

  private nextOperation(client: SimClient): ClientOperation {
    const random = this.opRandom;
    const key = keyName(random.nextInt(this.config.keysCount));
    const value = `c${client.clientId}.${++this.valueCounter}`;
    const roll = random.nextInt(100);
    if (roll < 35) return { kind: 'put', key, value };
    if (roll < 70) return { kind: 'get', key };
    if (roll < 80) return { kind: 'delete', key };
    return { kind: 'cas', key, expected: client.lastSeen.get(key) ?? null, value };
  }

  private drawFaultGap(): number {
    return this.opRandom.intBetween(this.config.faultGapTicksMin, this.config.faultGapTicksMax);
  }

  private checkErrors(): void {
    const loopError = this.loop.errors[0];
    if (loopError !== undefined)
      this.fail('harness', `a scheduled callback threw: ${loopError.stack ?? loopError.message}`);
    const pdError = this.pd.errors[0];
    if (pdError !== undefined) this.fail('invariant', `PD refused a store's request: ${pdError.message}`);
  }

  private async checkInvariants(pdCover: boolean): Promise<void> {
    this.invariantChecks++;
    for (const store of this.upStores()) {
      const problem = checkStoreRanges(store);
      if (problem !== undefined) return this.fail('invariant', `region ranges: ${problem}`);
    }
    const pdProblem = checkPdRanges(this.pd.allRegions(), pdCover);
    if (pdProblem !== undefined) return this.fail('invariant', pdProblem);
    const agreement = await checkReplicaAgreement(this.upStores());
    if (agreement !== undefined) return this.fail('invariant', `replica agreement: ${agreement}`);
  }

  /** After the heal: waits (bounded) for leaders, PD coverage and idle clients. */
  private async settle(): Promise<void> {
    let why: string | undefined = 'not checked yet';
    for (let t = 0; t < this.config.settleTicksMax && this.failure === null; t++) {
      await this.tickOnce(false);
      if (t % 5 !== 0) continue;
      why = this.unsettled();
      if (why === undefined) break;
    }
    if (this.failure !== null) return;
    if (why !== undefined)
      return this.fail(
        'liveness',
        `not settled ${this.config.settleTicksMax} ticks after the heal: ${why}\n${this.describeRegions()}`,
      );
    this.trace('settled: every region has a leader PD knows, PD covers the key space');
    await this.checkInvariants(true);
  }

  private unsettled(): string | undefined {
    if (this.nodes.some((n) => !n.up)) return 'a store is still down';
    const regions = this.pd.allRegions();
    const cover = checkPdRanges(regions, true);
    if (cover !== undefined) return cover;
    for (const info of regions) {
      const leader = this.raftLeaderOf(info.region.id);
      if (leader === undefined) return `region ${info.region.id} has no leader`;
      if (!epochMatches(leader.peer.region.epoch, info.region.epoch))
        return `PD has region ${info.region.id} at ${JSON.stringify(info.region.epoch)}, its leader at ${JSON.stringify(leader.peer.region.epoch)}`;
      if (info.leader?.storeId !== leader.store.storeId)
        return `PD thinks region ${info.region.id} is led from store ${info.leader?.storeId}, it is led from ${leader.store.storeId}`;
    }
    const busy = this.clients.filter((c) => c.busy).length;
    if (busy > 0) return `${busy} client operation(s) pending`;
    return undefined;
  }

  /** Reads every key once (linearizably, through the normal client path): all must answer. */
  private async readEveryKey(): Promise<void> {
    const client = this.clients[0];
    if (client === undefined) return;
    for (let i = 0; i < this.config.keysCount && this.failure === null; i++) {
      const key = keyName(i);
      const done = client.run({ kind: 'get', key });
      const outcome = await this.tickUntilSettled(done, CONVERGE_TICKS_MAX);
      if (outcome !== 'ok')
        return this.fail(
          'liveness',
          `final read of ${key} after the settle: ${outcome ?? 'no answer'}\n${this.describeRegions()}`,
        );
    }
  }

  private async tickUntilSettled<T>(promise: Promise<T>, ticksMax: number): Promise<T | undefined> {
    let result: { value: T } | undefined;
    promise.then(
      (value) => (result = { value }),
      (error: unknown) => this.fail('harness', String(error)),
    );
    for (let t = 0; t < ticksMax && result === undefined && this.failure === null; t++)
      await this.tickOnce(false);
    return result?.value;
  }

  /** Every replica of every region reaches its leader's applied index and holds the same data. */
  private async converge(): Promise<void> {
    let why: string | undefined;
    for (let t = 0; t < CONVERGE_TICKS_MAX && this.failure === null; t++) {
      await this.tickOnce(false);
      if (t % 5 !== 0) continue;
      why = this.unconverged();
      if (why === undefined) break;
    }
    if (this.failure !== null) return;
    if (why !== undefined)
      return this.fail(
        'liveness',
        `replicas not converged after the settle: ${why}\n${this.describeRegions()}`,
      );
    for (const info of this.pd.allRegions()) {
      const replicas = this.replicasOf(info.region.id);
      const problem = await compareReplicaData(replicas);
      if (problem !== undefined)
        return this.fail('invariant', `final agreement of region ${info.region.id}: ${problem}`);
    }
    await this.checkInvariants(true);
  }

  private unconverged(): string | undefined {
    for (const info of this.pd.allRegions()) {
      const leader = this.raftLeaderOf(info.region.id);
      if (leader === undefined) return `region ${info.region.id} has no leader`;
      const applied = leader.peer.storage.appliedIndex;
      for (const meta of leader.peer.region.peers) {
        const peer = this.nodes[meta.storeId - 1]?.store?.region(info.region.id);
        if (peer === undefined || !peer.initialized)
          return `region ${info.region.id}: no initialized peer on store ${meta.storeId}${this.knownBlocker(info.region, meta.storeId)}`;
        if (peer.storage.appliedIndex !== applied) {
          const known =
            peerById(peer.region, leader.peer.peerId) === undefined ? KNOWN_ISSUE_STALE_MEMBERSHIP : '';
          return `region ${info.region.id}: store ${meta.storeId} applied ${peer.storage.appliedIndex}, leader ${applied}${known}`;
        }
      }
    }
    return undefined;
  }

  /** Tags a missing peer that a stale peer of an overlapping range keeps from being created. */
  private knownBlocker(region: RegionMeta, storeId: number): string {
    const store = this.nodes[storeId - 1]?.store;
    if (store === undefined) return '';
    const members = new Set(
      this.pd.allRegions().flatMap((i) => i.region.peers.map((p) => `${i.region.id}/${p.id}`)),
    );
    const blocker = store
      .regionsOverlapping(region.startKey, region.endKey)
      .find((r) => r.id !== region.id && !members.has(`${r.id}/${peerOnStore(r, storeId)?.id}`));
    return blocker === undefined ? '' : `${KNOWN_ISSUE_STALE_PEER} (here: ${describeRange(blocker)})`;
  }

  /** Every peer of every region PD knows, as its store sees it (for liveness failures). */
  private describeRegions(): string {
    const lines: string[] = [];
    for (const info of this.pd.allRegions()) {
      lines.push(
        `  region ${info.region.id} (PD: epoch ${JSON.stringify(info.region.epoch)}, leader on store ${info.leader?.storeId}, peers ${info.region.peers.map((p) => `${p.id}@${p.storeId}/${p.role}`).join(' ')})`,
      );
      for (const node of this.nodes) {
        const peer = node.store?.region(info.region.id);
        if (peer === undefined) continue;
        const st = peer.node.status();
        const progress = st.progress
          .map((p) => `${p.id}:${p.state} m${p.match} n${p.next}${p.recentActive ? '' : ' inactive'}`)
          .join(', ');
        lines.push(
          `    store ${node.storeId} peer ${peer.peerId}: ${st.role} term ${st.term} lead ${st.leaderId} commit ${st.commit} applied ${peer.storage.appliedIndex} last ${st.lastIndex}${peer.initialized ? '' : ' uninitialized'}${peer.hibernation.asleep ? ' asleep' : ''}${peer.mergeState ? ` merging into ${peer.mergeState.target.id}` : ''}${peer.applyWaitsForMerge ? ' apply waits for a merge source' : ''}${peer.droppedRaftMessages > 0 ? ` dropped ${peer.droppedRaftMessages}` : ''} epoch ${JSON.stringify(peer.region.epoch)} voters ${st.confState.voters.join(',')} learners ${st.confState.learners.join(',')}${progress ? ` progress [${progress}]` : ''}`,
        );
      }
    }
    const known = new Set(
      this.pd.allRegions().flatMap((info) => info.region.peers.map((p) => `${info.region.id}/${p.id}`)),
    );
    for (const node of this.nodes) {
      for (const peer of node.store?.allRegions() ?? []) {
        if (known.has(`${peer.regionId}/${peer.peerId}`)) continue;
        const st = peer.node.basicStatus();
        const range = peer.initialized ? describeRange(peer.region) : `region ${peer.regionId} uninitialized`;
        lines.push(
          `  not a member per PD: store ${node.storeId} peer ${peer.peerId} of ${range}: ${st.role} term ${st.term} lead ${st.leaderId} applied ${peer.storage.appliedIndex}${peer.mergeState ? ` merging into ${peer.mergeState.target.id} (prepared at ${peer.mergeState.prepareIndex})` : ''} epoch ${JSON.stringify(peer.region.epoch)} peers ${peer.region.peers.map((p) => `${p.id}@${p.storeId}/${p.role}`).join(' ')}`,
        );
      }
    }
    return lines.join('\n');
  }

  /** The replicas of a region's current members (per its leader), the leader first. */
  private replicasOf(regionId: number): Replica[] {
    const leader = this.raftLeaderOf(regionId);
    if (leader === undefined) return [];
    const out: Replica[] = [leader];
    for (const meta of leader.peer.region.peers) {
      const store = this.nodes[meta.storeId - 1]?.store;
      const peer = store?.region(regionId);
      if (store === undefined || peer === undefined || peer === leader.peer) continue;
      if (peer.peerId === meta.id && peer.initialized) out.push({ store, peer });
    }
    return out;
  }

  private checkLinearizability(): void {
    const result = this.history.check(this.config.linearizabilityStepsMax);
    this.linearizability = `${result.outcome} (${result.operationsChecked} operations)`;
    if (result.unknownKeys.length > 0)
      this.linearizability += `, search bound hit on ${result.unknownKeys.join(' ')}`;
    if (result.outcome !== 'illegal') return;
    const key = result.illegalKeys[0] ?? '';
    const ops = this.history.operationsOf(key).map(describeOperation);
    this.fail(
      'linearizability',
      `history of ${result.illegalKeys.join(', ')} is not linearizable; ${key}: ${ops.slice(-40).join('; ')}`,
    );
  }

  private raftLeaderOf(regionId: number): Replica | undefined {
    for (const store of this.upStores()) {
      const peer = store.region(regionId);
      if (peer?.initialized && peer.node.basicStatus().role === 'leader') return { store, peer };
    }
    return undefined;
  }

  private upStores(): Store[] {
    return this.nodes.flatMap((n) => (n.store === undefined ? [] : [n.store]));
  }

  private background(what: string, task: Promise<unknown>): void {
    task.catch((error: unknown) =>
      this.fail(
        'harness',
        `${what} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ),
    );
  }

  private trace(line: string): void {
    const text = `[${String(this.loop.tick).padStart(5)}] ${line}`;
    for (let i = 0; i < text.length; i++)
      this.traceHash = Math.imul(this.traceHash ^ text.charCodeAt(i), 0x01000193) >>> 0;
    this.options.trace?.(text);
  }

  async teardown(): Promise<void> {
    this.pd.stop();
    for (const node of this.nodes) {
      const store = node.store;
      if (store === undefined) continue;
      const stopped = store.stop();
      await this.loop.runUntilSettled(stopped, 1000);
    }
  }

  summary(): RunSummary {
    let splits = 0;
    let snapshotsSent = 0;
    let snapshotsInstalled = 0;
    let peersCreated = 0;
    let peersDestroyed = 0;
    for (const store of this.upStores()) {
      const stats = store.stats();
      splits += stats.splitsCount;
      snapshotsSent += stats.snapshotsSentCount;
      snapshotsInstalled += stats.snapshotsInstalledCount;
      peersCreated += stats.peersCreatedCount;
      peersDestroyed += stats.peersDestroyedCount;
    }
    const c = this.history.counts;
    return {
      stores: this.config.storesCount,
      clients: this.config.clientsCount,
      keys: this.config.keysCount,
      ticks: this.loop.tick,
      regionsAtEnd: this.pd.allRegions().length,
      splits,
      snapshotsSent,
      snapshotsInstalled,
      peersCreated,
      peersDestroyed,
      crashes: this.nodes.reduce((sum, n) => sum + n.crashesCount, 0),
      powerLosses: this.nodes.reduce((sum, n) => sum + n.powerLossesCount, 0),
      faults: [...this.faults.byKind].map(([kind, count]) => `${kind} ${count}`).join(', '),
      framesSent: this.network.counters.framesSent,
      framesLost: this.network.counters.framesLost,
      regionReports: this.pd.counters.regionReports,
      operatorsSent: this.pd.counters.operatorsSent,
      operations: `puts ${c.putsOk}, deletes ${c.deletesOk}, cas ${c.casSucceeded} ok / ${c.casFailed} failed, reads ${c.readsOk} (+${c.readsFailed} unanswered), writes ${c.writesUnknown} unknown / ${c.writesRefused} refused`,
      linearizability: this.linearizability,
      invariantChecks: this.invariantChecks,
      traceDigest: this.traceHash.toString(16).padStart(8, '0'),
    };
  }
}

function describeClientOperation(op: ClientOperation): string {
  switch (op.kind) {
    case 'put':
      return `put ${op.key}=${op.value}`;
    case 'delete':
      return `delete ${op.key}`;
    case 'get':
      return `get ${op.key}`;
    case 'cas':
      return `cas ${op.key} ${op.expected ?? '<absent>'} -> ${op.value}`;
  }
}
