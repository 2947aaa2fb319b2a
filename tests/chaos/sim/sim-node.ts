// One simulated Raft node: a RawNode, its simulated disk, and the key-value state machine,
// driven through the Ready contract (persist, then send, then apply, then advance). A crash
// may be armed to strike at one of those boundaries; it discards the RawNode and everything
// not synced, and a restart rebuilds the node from what the disk kept. Every persisted and
// applied entry, role change and commit index is shown to the SafetyChecker as it happens.
import { RawNode, decodeConfChange } from '../../../raft/src/index.js';
import type {
  MemoryStorage,
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  Role,
} from '../../../raft/src/index.js';
import type { SafetyChecker } from './checkers.js';
import { KvStateMachine } from './kv-state-machine.js';
import type { PutCommand } from './kv-state-machine.js';
import type { SimRandom } from './prng.js';
import { SimDisk } from './sim-disk.js';
import type { EventTrace } from './trace.js';

/** Where in the Ready pipeline an armed crash strikes. */
export type CrashPoint = 'beforePersist' | 'afterPersist' | 'afterSend' | 'afterApply';
export const crashPoints: readonly CrashPoint[] = [
  'beforePersist',
  'afterPersist',
  'afterSend',
  'afterApply',
];

export interface SimNodeOptions {
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly leaseClockDriftMarginTicks: number;
  /** Applied entries between two state machine snapshots (each followed by log compaction). */
  readonly snapshotIntervalEntries: number;
  /** Entries kept in the log behind a snapshot, so slightly lagging followers need no snapshot. */
  readonly compactionKeepEntries: number;
  /** Bound on read states waiting for the state machine to catch up. */
  readonly pendingReadsMax: number;
  /** Bound on delivered messages waiting in the inbox of a slow node. */
  readonly inboxMessagesMax: number;
  /** Bound on Ready rounds handled in one call of handleReadies. */
  readonly readyRoundsMax: number;
  /** A bug planted on purpose, for the simulator's own tests (see Sabotage). */
  readonly sabotage: Sabotage;
}

/**
 * Bugs the simulator can plant in its nodes to prove that its checkers catch them:
 * - 'ignoreMustSync': send before the disk is synced (the classic durability bug); crashes
 *   then lose votes and acknowledged entries.
 * - 'serveReadsEarly': answer a read as soon as its read index is known, without waiting for
 *   the state machine to apply up to it (a stale, non-linearizable read).
 * - 'dropReadStates': lose every read state, so no read is ever answered (a liveness bug).
 */
export type Sabotage = 'none' | 'ignoreMustSync' | 'serveReadsEarly' | 'dropReadStates';
export const sabotageKinds: readonly Sabotage[] = [
  'none',
  'ignoreMustSync',
  'serveReadsEarly',
  'dropReadStates',
];

/** What a node needs from the simulation around it. */
export interface SimNodeEnvironment {
  readonly checker: SafetyChecker;
  readonly trace: EventTrace;
  now(): number;
  send(messages: readonly Message[]): void;
  onPutApplied(node: SimNode, command: PutCommand): void;
  onConfChangeApplied(node: SimNode, index: number, confState: ConfState): void;
  /** A read state of this node became servable: its state machine has applied the read index. */
  onReadServable(node: SimNode, requestCtx: Uint8Array): void;
}

export interface SimNodeStats {
  entriesApplied: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  timesLeader: number;
  crashes: number;
}

const traceCode = { crash: 30, restart: 31, leader: 32, snapshotInstalled: 33, confChange: 34 } as const;

export class SimNode {
  readonly id: NodeId;
  private readonly options: SimNodeOptions;
  private readonly env: SimNodeEnvironment;
  private readonly random: SimRandom;
  private readonly disk: SimDisk;
  private raw: RawNode | null = null;
  private kvValue: KvStateMachine;
  private incarnationValue = 0;
  private role: Role = 'follower';
  /** The term in which `role` was last observed. */
  private roleTerm = 0;
  private pendingReads: { index: number; requestCtx: Uint8Array }[] = [];
  private inbox: Message[] = [];
  private armedCrash: CrashPoint | null = null;
  private lastSnapshotIndex = 0;
  /** A destroyed node (removed from the group and garbage-collected) never runs again. */
  private destroyedValue = false;
  readonly stats: SimNodeStats = {
    entriesApplied: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    timesLeader: 0,
    crashes: 0,
  };

  constructor(
    id: NodeId,
    storage: MemoryStorage,
    options: SimNodeOptions,
    env: SimNodeEnvironment,
    random: SimRandom,
  ) {
    this.id = id;
    this.options = options;
    this.env = env;
    this.random = random;
    this.kvValue = new KvStateMachine(storage.initialState().confState);
    const snapshot = storage.snapshot();
    if (snapshot.metadata.index > 0) {
      this.kvValue.restore(snapshot.data, snapshot.metadata.index, snapshot.metadata.confState);
    }
    this.disk = new SimDisk(storage, this.kvValue);
    this.start(this.kvValue.appliedIndex);
  }

  get up(): boolean {
    return this.raw !== null;
  }

  get destroyed(): boolean {
    return this.destroyedValue;
  }

  /** Counts restarts: client requests and monotonic checks are tied to one incarnation. */
  get incarnation(): number {
    return this.incarnationValue;
  }

  get kv(): KvStateMachine {
    return this.kvValue;
  }

  get storage(): MemoryStorage {
    return this.disk.live;
  }

  get diskSyncs(): number {
    return this.disk.syncCount;
  }

  /** The running RawNode; throws when the node is down (callers check `up` first). */
  get node(): RawNode {
    if (this.raw === null) throw new Error(`node ${this.id} is down`);
    return this.raw;
  }

  get currentRole(): Role {
    return this.role;
  }

  armCrash(point: CrashPoint): void {
    this.armedCrash = point;
  }

  get crashArmed(): boolean {
    return this.armedCrash !== null;
  }

  tick(): void {
    this.node.tick();
  }

  propose(data: Uint8Array): ProposeResult {
    return this.node.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.node.proposeConfChange(change);
  }

  readIndex(requestCtx: Uint8Array, mode: 'safe' | 'lease'): ProposeResult {
    return this.node.readIndex(requestCtx, mode);
  }

  /** Queues a delivered message; false when the inbox is full and the message is dropped. */
  deliver(message: Message): boolean {
    if (this.inbox.length >= this.options.inboxMessagesMax) return false;
    this.inbox.push(message);
    return true;
  }

  /** Steps every queued message into the RawNode. */
  stepInbox(): void {
    const messages = this.inbox;
    this.inbox = [];
    for (const message of messages) this.node.step(message);
  }

  /** Handles Ready rounds until none is left (bounded); may crash the node if one is armed. */
  handleReadies(): void {
    for (let round = 0; round < this.options.readyRoundsMax; round++) {
      const raw = this.raw;
      if (raw === null || !raw.hasReady()) return;
      this.handleReady(raw, raw.ready());
    }
  }

  /** Makes unsynced writes durable (a background flush). */
  flush(): void {
    if (this.raw !== null && this.disk.dirty && this.options.sabotage !== 'ignoreMustSync') this.sync();
  }

  /** Loses the RawNode and every unsynced write. */
  crash(point: CrashPoint | 'idle'): void {
    if (this.raw === null) throw new Error(`node ${this.id} crashed while down`);
    this.env.trace.record(
      this.env.now(),
      traceCode.crash,
      [this.id, crashPoints.indexOf(point as CrashPoint)],
      () => {
        return `node ${this.id} crashes (${point})`;
      },
    );
    this.raw = null;
    this.armedCrash = null;
    this.pendingReads = [];
    this.inbox = [];
    this.role = 'follower';
    this.stats.crashes++;
  }

  /**
   * Restarts from what the disk kept. With `fromSnapshot` the state machine is rebuilt from the
   * durable snapshot and the log after it is applied again, instead of from the durable applied
   * state (both are valid ways for a store to come back).
   */
  restart(fromSnapshot: boolean): void {
    if (this.raw !== null || this.destroyedValue)
      throw new Error(`node ${this.id} restarted while up or destroyed`);
    const survived = this.disk.crash();
    this.kvValue = survived.kv;
    if (fromSnapshot) {
      const snapshot = survived.storage.snapshot();
      if (snapshot.metadata.index > 0) {
        this.kvValue.restore(snapshot.data, snapshot.metadata.index, snapshot.metadata.confState);
      }
    }
    this.incarnationValue++;
    this.start(this.kvValue.appliedIndex);
    this.env.trace.record(this.env.now(), traceCode.restart, [this.id, this.kvValue.appliedIndex], () => {
      return `node ${this.id} restarts at applied ${this.kvValue.appliedIndex} (incarnation ${this.incarnationValue})`;
    });
  }

  destroy(): void {
    this.raw = null;
    this.destroyedValue = true;
    this.inbox = [];
    this.pendingReads = [];
  }

  private start(appliedIndex: number): void {
    const storage = this.disk.live;
    this.lastSnapshotIndex = storage.snapshot().metadata.index;
    this.raw = new RawNode({
      id: this.id,
      electionTimeoutTicks: this.options.electionTimeoutTicks,
      heartbeatIntervalTicks: this.options.heartbeatIntervalTicks,
      storage,
      random: this.random.fork(this.incarnationValue),
      appliedIndex,
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
      leaseClockDriftMarginTicks: this.options.leaseClockDriftMarginTicks,
      disableProposalForwarding: true,
    });
    const hardState = storage.initialState().hardState;
    this.env.checker.observeDurableHardState(this.id, hardState);
    this.env.checker.observeCommit(this.id, this.incarnationValue, hardState.commit);
    this.env.checker.observeCommit(this.id, this.incarnationValue, this.raw.basicStatus().commit);
  }

  private handleReady(raw: RawNode, ready: Ready): void {
    if (this.crashAt('beforePersist')) return;
    this.persist(ready);
    if (this.crashAt('afterPersist')) return;
    if (ready.messages.length > 0) this.env.send(ready.messages);
    if (this.crashAt('afterSend')) return;
    if (ready.committedEntries.length > 0) {
      const term = raw.basicStatus().term;
      for (const entry of ready.committedEntries) this.apply(raw, term, entry);
    }
    if (this.options.sabotage !== 'dropReadStates') {
      for (const readState of ready.readStates) this.pendingReads.push(readState);
    }
    if (this.pendingReads.length > this.options.pendingReadsMax) {
      this.pendingReads.splice(0, this.pendingReads.length - this.options.pendingReadsMax);
    }
    this.serveReads();
    if (this.crashAt('afterApply')) return;
    raw.advance();
    this.observeStatus(raw, ready);
  }

  private crashAt(point: CrashPoint): boolean {
    if (this.armedCrash !== point) return false;
    this.crash(point);
    return true;
  }

  private persist(ready: Ready): void {
    const checker = this.env.checker;
    if (ready.snapshot !== null) {
      const metadata = ready.snapshot.metadata;
      this.disk.installSnapshot(ready.snapshot);
      this.kvValue.restore(ready.snapshot.data, metadata.index, metadata.confState);
      this.lastSnapshotIndex = metadata.index;
      this.stats.snapshotsInstalled++;
      this.env.trace.record(
        this.env.now(),
        traceCode.snapshotInstalled,
        [this.id, metadata.index, metadata.term],
        () => {
          return `node ${this.id} installs snapshot at index ${metadata.index} term ${metadata.term}`;
        },
      );
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const storage = this.disk.live;
      const prevIndex = first.index - 1;
      if (prevIndex >= storage.firstIndex() - 1 && prevIndex <= storage.lastIndex()) {
        checker.observePersisted(this.id, storage.term(prevIndex), ready.entries);
      }
      this.disk.append(ready.entries);
    }
    if (ready.hardState !== null) this.disk.setHardState(ready.hardState);
    const syncIgnored = this.options.sabotage === 'ignoreMustSync';
    if ((ready.mustSync && !syncIgnored) || this.disk.flushDue) this.sync();
  }

  private sync(): void {
    this.disk.sync(this.kvValue);
    this.env.checker.observeDurableHardState(this.id, this.disk.durableHardState);
  }

  private apply(raw: RawNode, term: number, entry: Entry): void {
    const checker = this.env.checker;
    checker.observeApplied(this.id, term, entry);
    this.stats.entriesApplied++;
    if (entry.type === 'confChange') {
      const confState = raw.applyConfChange(decodeConfChange(entry.data));
      this.kvValue.applyConfChange(entry.index, confState);
      this.stats.confChangesApplied++;
      // Record the membership with the applied state: a restart reads it from the storage's snapshot.
      this.takeSnapshot(entry.index);
      this.env.onConfChangeApplied(this, entry.index, confState);
      this.env.trace.record(this.env.now(), traceCode.confChange, [this.id, entry.index], () => {
        return `node ${this.id} applies conf change at ${entry.index}: voters ${confState.voters.join(',')} learners ${confState.learners.join(',')} outgoing ${confState.votersOutgoing.join(',')}`;
      });
      return;
    }
    const command = this.kvValue.applyNormal(entry.index, entry.data);
    if (command !== null) this.env.onPutApplied(this, command);
    if (entry.index - this.lastSnapshotIndex >= this.options.snapshotIntervalEntries) {
      this.takeSnapshot(entry.index);
      const compactIndex = entry.index - this.options.compactionKeepEntries;
      if (compactIndex >= this.disk.live.firstIndex()) this.disk.compact(compactIndex);
    }
  }

  private takeSnapshot(index: number): void {
    const data = this.kvValue.encode();
    this.env.checker.observeSnapshotData(this.id, index, data);
    this.disk.createSnapshot(index, this.kvValue.confState, data);
    this.lastSnapshotIndex = index;
    this.stats.snapshotsCreated++;
  }

  private serveReads(): void {
    if (this.pendingReads.length === 0) return;
    const applied = this.kvValue.appliedIndex;
    const waiting: { index: number; requestCtx: Uint8Array }[] = [];
    for (const read of this.pendingReads) {
      const early = this.options.sabotage === 'serveReadsEarly';
      if (read.index <= applied || early) this.env.onReadServable(this, read.requestCtx);
      else waiting.push(read);
    }
    this.pendingReads = waiting;
  }

  private observeStatus(raw: RawNode, ready: Ready): void {
    const checker = this.env.checker;
    const status = raw.basicStatus();
    checker.observeCommit(this.id, this.incarnationValue, status.commit);
    checker.observeAppliedIndex(this.id, this.incarnationValue, status.applied);
    if (status.applied !== this.kvValue.appliedIndex) {
      throw new Error(
        `node ${this.id}: RawNode applied ${status.applied} but the state machine is at ${this.kvValue.appliedIndex}`,
      );
    }
    const role = ready.softState?.role ?? status.role;
    checker.observeRole(this.id, status.term, role);
    if (role === 'leader' && (this.role !== 'leader' || this.roleTerm !== status.term)) {
      this.stats.timesLeader++;
      checker.observeNewLeader(this.id, status.term, this.disk.live);
      this.env.trace.record(this.env.now(), traceCode.leader, [this.id, status.term], () => {
        return `node ${this.id} becomes leader of term ${status.term}`;
      });
    }
    this.role = role;
    this.roleTerm = status.term;
  }
}
