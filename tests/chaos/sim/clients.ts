// Simulated clients. Each runs one operation at a time against the node it believes leads:
// a put goes through propose, a read through readIndex ('safe' or 'lease'), and now and then
// a stale read straight from a replica's state machine. A notLeader answer sends the client
// to the hinted leader (or a random node); a timeout, or a crash of the node holding the
// request, leaves a put's outcome unknown, which the history records with an open response.
import type { NodeId, ProposeResult } from '../../../raft/src/index.js';
import type { History } from './history.js';
import { encodePut } from './kv-state-machine.js';
import type { PutCommand } from './kv-state-machine.js';
import type { SimRandom } from './prng.js';
import type { SimNode } from './sim-node.js';
import type { EventTrace } from './trace.js';

export interface ClientOptions {
  readonly keys: readonly string[];
  /** Ticks a submitted request may wait for its answer before the client gives up. */
  readonly requestTimeoutTicks: number;
  /** Submission attempts (leader hunting) before an operation is abandoned. */
  readonly attemptsMax: number;
  /** Idle ticks between two operations of one client, drawn from [0, thinkTicksMax]. */
  readonly thinkTicksMax: number;
  readonly readPermille: number;
  /** Of the reads: the share served by lease, and the share read stale from a replica. */
  readonly leaseReadPermille: number;
  readonly staleReadPermille: number;
  /** Share of reads sent to a random member instead of the presumed leader. */
  readonly anyReplicaReadPermille: number;
}

/** The view of the cluster a client has: the nodes by id (down ones report !up). */
export interface ClientWorld {
  readonly nodeIds: readonly NodeId[];
  nodeById(id: NodeId): SimNode | undefined;
  now(): number;
}

type OperationKind = 'put' | 'readSafe' | 'readLease' | 'readStale';

interface Operation {
  readonly opId: number;
  readonly kind: OperationKind;
  readonly key: string;
  /** The value a put writes (unique in the run). */
  readonly value: string;
  readonly callSeq: number;
  readonly invokeTick: number;
  attempts: number;
  /** Set once a node accepted the request. */
  target: { node: SimNode; incarnation: number; submitTick: number } | null;
}

/** What the liveness check needs: when operations completed, or failed to. */
export interface ClientOutcome {
  readonly invokeTick: number;
  readonly completed: boolean;
  /** The request was lost because its node left the group (not held against liveness). */
  readonly nodeRemoved: boolean;
}

const traceCode = { invoke: 40, complete: 41, giveUp: 42 } as const;
const kindCode: Record<OperationKind, number> = { put: 0, readSafe: 1, readLease: 2, readStale: 3 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeReadContext(clientId: number, opId: number): Uint8Array {
  return encoder.encode(`R\t${clientId}\t${opId}`);
}

export function decodeReadContext(ctx: Uint8Array): { clientId: number; opId: number } | null {
  const [tag, clientId, opId] = decoder.decode(ctx).split('\t');
  if (tag !== 'R' || clientId === undefined || opId === undefined) return null;
  return { clientId: Number(clientId), opId: Number(opId) };
}

export class SimClient {
  private current: Operation | null = null;
  private opIdNext = 1;
  private nextOperationTick = 0;
  private leaderGuess: NodeId;
  /** Outcomes of finished operations, for the liveness check (bounded by the run's length). */
  readonly outcomes: ClientOutcome[] = [];

  constructor(
    readonly id: number,
    private readonly options: ClientOptions,
    private readonly random: SimRandom,
    private readonly history: History,
    private readonly trace: EventTrace,
    private readonly world: ClientWorld,
    initialLeaderGuess: NodeId,
  ) {
    this.leaderGuess = initialLeaderGuess;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  get pendingInvokeTick(): number | null {
    return this.current?.invokeTick ?? null;
  }

  /** One tick of the client: watch the request in flight, or submit, or start a new operation. */
  step(mayStartNew: boolean): void {
    const world = this.world;
    const now = world.now();
    const operation = this.current;
    if (operation === null) {
      if (mayStartNew && now >= this.nextOperationTick) this.startOperation(world);
      return;
    }
    const target = operation.target;
    if (target === null) {
      this.submit(world, operation);
      return;
    }
    if (target.node.destroyed) {
      this.giveUp(operation, 'its node was removed from the group', true);
    } else if (!target.node.up || target.node.incarnation !== target.incarnation) {
      this.giveUp(operation, 'its node crashed');
    } else if (now - target.submitTick > this.options.requestTimeoutTicks) {
      this.giveUp(operation, 'timeout');
    }
  }

  /** A node applied a put; completes the current operation if it is this put, at that node. */
  onPutApplied(node: SimNode, command: PutCommand): void {
    const operation = this.current;
    if (operation === null || operation.kind !== 'put' || command.opId !== operation.opId) return;
    if (operation.target === null || operation.target.node !== node) return;
    if (operation.target.incarnation !== node.incarnation) return;
    this.history.putOk(operation.key, operation.value, operation.callSeq);
    this.finish(operation, true, () => `put ${operation.key}=${operation.value} ok at node ${node.id}`);
  }

  /** A node may now serve a read; completes the current read if the context is its own. */
  onReadServable(node: SimNode, opId: number): void {
    const operation = this.current;
    if (operation === null || operation.opId !== opId) return;
    if (operation.kind !== 'readSafe' && operation.kind !== 'readLease') return;
    if (operation.target === null || operation.target.node !== node) return;
    const value = node.kv.get(operation.key);
    this.history.readOk(
      operation.key,
      value,
      operation.callSeq,
      operation.kind === 'readSafe' ? 'safe' : 'lease',
    );
    this.finish(operation, true, () => `${operation.kind} ${operation.key} -> ${value} at node ${node.id}`);
  }

  private startOperation(world: ClientWorld): void {
    const random = this.random;
    const options = this.options;
    let kind: OperationKind = 'put';
    if (random.chancePermille(options.readPermille)) {
      const draw = random.nextInt(1000);
      kind =
        draw < options.staleReadPermille
          ? 'readStale'
          : draw < options.staleReadPermille + options.leaseReadPermille
            ? 'readLease'
            : 'readSafe';
    }
    const opId = this.opIdNext++;
    const operation: Operation = {
      opId,
      kind,
      key: random.pick(options.keys),
      value: `c${this.id}.${opId}`,
      callSeq: this.history.nextSeq(),
      invokeTick: world.now(),
      attempts: 0,
      target: null,
    };
    this.current = operation;
    this.trace.record(world.now(), traceCode.invoke, [this.id, opId, kindCode[kind]], () => {
      return `client ${this.id} invokes ${kind} ${operation.key}${kind === 'put' ? `=${operation.value}` : ''}`;
    });
    this.submit(world, operation);
  }

  private submit(world: ClientWorld, operation: Operation): void {
    if (operation.attempts >= this.options.attemptsMax) {
      this.history.counts.rejected++;
      this.finish(
        operation,
        false,
        () => `${operation.kind} ${operation.key} abandoned: no leader accepted it`,
      );
      return;
    }
    operation.attempts++;
    // Some reads go to any member: a follower forwards the read index request to the leader
    // and serves the read once it has applied up to the index it gets back.
    const followerRead =
      operation.kind !== 'put' && this.random.chancePermille(this.options.anyReplicaReadPermille);
    const node = followerRead ? this.pickAnyNode(world) : this.pickNode(world);
    if (node === null) return;
    if (operation.kind === 'readStale') {
      const value = node.kv.get(operation.key);
      this.history.readStale(operation.key, value);
      this.finish(operation, true, () => `stale read ${operation.key} -> ${value} at node ${node.id}`);
      return;
    }
    const result = this.send(node, operation);
    if (result.ok) {
      operation.target = { node, incarnation: node.incarnation, submitTick: world.now() };
      return;
    }
    // Follow the leader hint; without one, try another node next tick.
    const hint = result.error.kind === 'notLeader' ? result.error.leaderId : node.node.basicStatus().leaderId;
    this.leaderGuess = hint !== 0 && hint !== node.id ? hint : this.random.pick(world.nodeIds);
  }

  private send(node: SimNode, operation: Operation): ProposeResult {
    if (operation.kind === 'put') {
      const command: PutCommand = {
        clientId: this.id,
        opId: operation.opId,
        key: operation.key,
        value: operation.value,
      };
      return node.propose(encodePut(command));
    }
    return node.readIndex(
      encodeReadContext(this.id, operation.opId),
      operation.kind === 'readLease' ? 'lease' : 'safe',
    );
  }

  private pickAnyNode(world: ClientWorld): SimNode | null {
    const node = world.nodeById(this.random.pick(world.nodeIds));
    return node !== undefined && node.up ? node : null;
  }

  private pickNode(world: ClientWorld): SimNode | null {
    const guessed = world.nodeById(this.leaderGuess);
    if (guessed !== undefined && guessed.up) return guessed;
    const candidate = world.nodeById(this.random.pick(world.nodeIds));
    if (candidate !== undefined && candidate.up) {
      this.leaderGuess = candidate.id;
      return candidate;
    }
    return null;
  }

  private giveUp(operation: Operation, why: string, nodeRemoved = false): void {
    if (operation.kind === 'put') this.history.putUnknown(operation.key, operation.value, operation.callSeq);
    else this.history.counts.readsLost++;
    const describe = (): string => `${operation.kind} ${operation.key} outcome unknown: ${why}`;
    this.finish(operation, false, describe, nodeRemoved);
  }

  private finish(
    operation: Operation,
    completed: boolean,
    describe: () => string,
    nodeRemoved = false,
  ): void {
    const now = this.world.now();
    this.trace.record(
      now,
      completed ? traceCode.complete : traceCode.giveUp,
      [this.id, operation.opId],
      () => {
        return `client ${this.id} ${describe()}`;
      },
    );
    this.outcomes.push({ invokeTick: operation.invokeTick, completed, nodeRemoved });
    this.current = null;
    this.nextOperationTick = now + this.random.intBetween(0, this.options.thinkTicksMax);
  }
}
