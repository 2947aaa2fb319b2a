// Linearizable reads without log writes (Ongaro thesis §6.4). The leader records its
// commit index as the read index of each request, then confirms it is still leader with
// one heartbeat round SENT after the request arrived; when a quorum acknowledges that
// round, every request it covers is released. At most one round is in flight. Requests
// join the current round while its heartbeats are still in the outbox (not yet handed out
// in a Ready, so sent after the request arrived); once sealed, newcomers wait for the
// next round. A burst of reads therefore costs one round.
import type { NodeId } from './types.js';
import { assert } from './invariants.js';

export interface ReadRequest {
  readonly index: number;
  /** Who asked: the leader itself, or the follower that forwarded the request. */
  readonly from: NodeId;
  readonly requestCtx: Uint8Array;
}

interface PendingRead extends ReadRequest {
  /** The heartbeat round that confirms this read. */
  readonly round: number;
}

const HEARTBEAT_CONTEXT_BYTES = 16;

/** The heartbeat context: the read round it confirms (0: none) and the tick it was sent at (for the lease). */
export function encodeHeartbeatContext(round: number, sentTick: number): Uint8Array {
  const bytes = new Uint8Array(HEARTBEAT_CONTEXT_BYTES);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, round);
  view.setFloat64(8, sentTick);
  return bytes;
}

export function decodeHeartbeatContext(ctx: Uint8Array): { round: number; sentTick: number } | null {
  if (ctx.byteLength !== HEARTBEAT_CONTEXT_BYTES) return null;
  const view = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  const round = view.getFloat64(0);
  const sentTick = view.getFloat64(8);
  if (!Number.isSafeInteger(round) || !Number.isSafeInteger(sentTick) || round < 0) return null;
  return { round, sentTick };
}

export class ReadOnly {
  private pending: PendingRead[] = [];
  /** Round whose acknowledgements are being collected; 0 when none is in flight. */
  private inFlightRound = 0;
  private lastRound = 0;
  private acks = new Set<NodeId>();
  /** The in-flight round's heartbeats have left in a Ready: later requests need a new round. */
  private sealed = false;

  constructor(private readonly maxPending: number) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  hasRoom(): boolean {
    return this.pending.length < this.maxPending;
  }

  /** The round currently collecting acks (0: none); heartbeats carry it. */
  currentRound(): number {
    return this.inFlightRound;
  }

  /**
   * Queues a request. Returns the number of a round to start now, or 0 when a round is
   * already in flight (the request then waits for the next one).
   */
  add(request: ReadRequest): number {
    assert(this.hasRoom(), () => `pending reads exceed ${this.maxPending}`);
    if (this.inFlightRound !== 0) {
      this.pending.push({ ...request, round: this.sealed ? this.lastRound + 1 : this.inFlightRound });
      return 0;
    }
    this.pending.push({ ...request, round: this.startRound() });
    return this.inFlightRound;
  }

  private startRound(): number {
    this.lastRound++;
    this.inFlightRound = this.lastRound;
    this.acks = new Set();
    this.sealed = false;
    return this.inFlightRound;
  }

  /** The outbox was handed out: the in-flight round's heartbeats are on their way. */
  seal(): void {
    if (this.inFlightRound !== 0) this.sealed = true;
  }

  /**
   * Records that `id` acknowledged `round`. When `isQuorum` holds for the acks, returns the
   * released requests and the round to start next (0 if nothing waits); null otherwise.
   */
  recvAck(
    id: NodeId,
    round: number,
    isQuorum: (acks: ReadonlySet<NodeId>) => boolean,
  ): { released: ReadRequest[]; nextRound: number } | null {
    if (round === 0 || round !== this.inFlightRound) return null;
    this.acks.add(id);
    if (!isQuorum(this.acks)) return null;
    let count = 0;
    while (count < this.pending.length && (this.pending[count] as PendingRead).round <= round) count++;
    const released = this.pending.slice(0, count);
    this.pending = this.pending.slice(count);
    this.inFlightRound = 0;
    const nextRound = this.pending.length > 0 ? this.startRound() : 0;
    assert(
      this.pending.every((r) => r.round === nextRound),
      'waiting reads must belong to the next round',
    );
    return { released, nextRound };
  }

  /** Leadership lost: pending reads are dropped (their clients retry). */
  reset(): void {
    this.pending = [];
    this.inFlightRound = 0;
    this.acks = new Set();
  }
}
