// The simulated network between Raft nodes. A sent message waits a random number of ticks
// (so messages reorder), may be lost or duplicated, and is dropped when its link's queue is
// full (a real transport's bounded send buffer) or when a partition cuts its link either at
// send or at delivery time. Partitions are directed links, so a symmetric partition cuts both
// directions and a one-way partition only one. Nothing here is random except through the
// injected SimRandom, so a seed replays the network exactly.
import type { Message, NodeId } from '../../../raft/src/index.js';
import type { SimRandom } from './prng.js';

/** How the network treats messages right now; the fault schedule changes it over time. */
export interface NetworkConditions {
  readonly delayTicksMin: number;
  readonly delayTicksMax: number;
  readonly lossPermille: number;
  readonly duplicatePermille: number;
  /** Share of messages held back far longer (a stale message arriving long after its peers). */
  readonly longDelayPermille: number;
  readonly longDelayTicksMax: number;
}

export const calmConditions: NetworkConditions = {
  delayTicksMin: 1,
  delayTicksMax: 2,
  lossPermille: 0,
  duplicatePermille: 0,
  longDelayPermille: 0,
  longDelayTicksMax: 2,
};

/** Why a message did not arrive. */
export type DropReason = 'loss' | 'partition' | 'queueFull' | 'receiverDown';

interface InFlight {
  readonly deliverAtTick: number;
  /** Send order; breaks ties between messages due on the same tick. */
  readonly sequence: number;
  readonly message: Message;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/** Bits per node id in a link key; node ids stay below 2^16. */
const linkKeyShift = 0x1_0000;
const nodeIdMax = linkKeyShift - 1;

export class SimNetwork {
  private conditions: NetworkConditions = calmConditions;
  /** A min-heap on (deliverAtTick, sequence). */
  private readonly heap: InFlight[] = [];
  private readonly queuedPerLink = new Map<number, number>();
  private readonly cutLinks = new Set<number>();
  private sequenceNext = 0;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(
    private readonly random: SimRandom,
    /** Bound on messages in flight on one directed link. */
    private readonly linkQueueMessagesMax: number,
  ) {
    if (!Number.isSafeInteger(linkQueueMessagesMax) || linkQueueMessagesMax < 1) {
      throw new Error(
        `SimNetwork: linkQueueMessagesMax must be a positive integer, got ${linkQueueMessagesMax}`,
      );
    }
  }

  setConditions(conditions: NetworkConditions): void {
    if (
      conditions.delayTicksMin < 1 ||
      conditions.delayTicksMax < conditions.delayTicksMin ||
      conditions.longDelayTicksMax < conditions.delayTicksMax
    ) {
      throw new Error(
        `SimNetwork: delay range [${conditions.delayTicksMin}, ${conditions.delayTicksMax}] must be non-empty and >= 1 tick`,
      );
    }
    this.conditions = conditions;
  }

  getConditions(): NetworkConditions {
    return this.conditions;
  }

  /** Cuts the directed link from -> to (messages sent on it, or in flight on it, are dropped). */
  cut(from: NodeId, to: NodeId): void {
    this.cutLinks.add(linkKey(from, to));
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.size > 0 && this.cutLinks.has(linkKey(from, to));
  }

  /** Heals every partition. */
  healAll(): void {
    this.cutLinks.clear();
  }

  /**
   * Brings every message in flight due within `delayTicksMax` of now (the heal: a recovered
   * network delivers what it held back promptly, so no stale message from the fault phase
   * arrives long after the heal and disturbs the liveness bound).
   */
  expedite(nowTick: number, delayTicksMax: number): void {
    const items = this.heap.splice(0, this.heap.length);
    for (const item of items) {
      const deliverAtTick = Math.min(item.deliverAtTick, nowTick + delayTicksMax);
      this.push({ deliverAtTick, sequence: item.sequence, message: item.message });
    }
    if (this.heap.length !== items.length) throw new Error('SimNetwork.expedite lost messages');
  }

  get inFlightCount(): number {
    return this.heap.length;
  }

  /**
   * Queues `message` for delivery. Returns the reason it was dropped at once, or null when
   * at least one copy is on its way.
   */
  send(nowTick: number, message: Message): DropReason | null {
    this.stats.sent++;
    if (this.isCut(message.from, message.to)) return this.drop('partition');
    if (this.conditions.lossPermille > 0 && this.random.chancePermille(this.conditions.lossPermille)) {
      return this.drop('loss');
    }
    const copies =
      this.conditions.duplicatePermille > 0 && this.random.chancePermille(this.conditions.duplicatePermille)
        ? 2
        : 1;
    let queued = false;
    for (let copy = 0; copy < copies; copy++) {
      const key = linkKey(message.from, message.to);
      const queuedCount = this.queuedPerLink.get(key) ?? 0;
      if (queuedCount >= this.linkQueueMessagesMax) continue;
      this.queuedPerLink.set(key, queuedCount + 1);
      const delayTicks = this.drawDelayTicks();
      this.push({ deliverAtTick: nowTick + delayTicks, sequence: this.sequenceNext++, message });
      if (copy > 0) this.stats.duplicated++;
      queued = true;
    }
    return queued ? null : this.drop('queueFull');
  }

  /**
   * Removes and returns the messages due at or before `nowTick`, in delivery order, at most
   * `messagesMax` of them (the rest stay queued for the next call). Messages whose link was
   * cut while they were in flight are passed to `onDrop` instead.
   */
  takeDue(
    nowTick: number,
    messagesMax: number,
    onDrop: (message: Message, reason: DropReason) => void,
  ): Message[] {
    const due: Message[] = [];
    while (due.length < messagesMax) {
      const head = this.heap[0];
      if (head === undefined || head.deliverAtTick > nowTick) break;
      this.pop();
      const key = linkKey(head.message.from, head.message.to);
      const queuedCount = this.queuedPerLink.get(key) ?? 0;
      if (queuedCount < 1) throw new Error(`SimNetwork: link ${key} queue count underflow`);
      this.queuedPerLink.set(key, queuedCount - 1);
      if (this.isCut(head.message.from, head.message.to)) {
        this.stats.dropped++;
        onDrop(head.message, 'partition');
        continue;
      }
      this.stats.delivered++;
      due.push(head.message);
    }
    return due;
  }

  private drawDelayTicks(): number {
    const conditions = this.conditions;
    if (conditions.longDelayPermille > 0 && this.random.chancePermille(conditions.longDelayPermille)) {
      return this.random.intBetween(conditions.delayTicksMax, conditions.longDelayTicksMax);
    }
    return this.random.intBetween(conditions.delayTicksMin, conditions.delayTicksMax);
  }

  private drop(reason: DropReason): DropReason {
    this.stats.dropped++;
    return reason;
  }

  private push(item: InFlight): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (p === undefined || !before(item, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const leftItem = heap[left];
      const rightItem = heap[right];
      if (leftItem === undefined) break;
      let child = left;
      let childItem = leftItem;
      if (rightItem !== undefined && before(rightItem, leftItem)) {
        child = right;
        childItem = rightItem;
      }
      if (!before(childItem, last)) break;
      heap[i] = childItem;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: InFlight, b: InFlight): boolean {
  return (
    a.deliverAtTick < b.deliverAtTick || (a.deliverAtTick === b.deliverAtTick && a.sequence < b.sequence)
  );
}

function linkKey(from: NodeId, to: NodeId): number {
  if (from < 0 || from > nodeIdMax || to < 0 || to > nodeIdMax) {
    throw new Error(`SimNetwork: node ids must be in [0, ${nodeIdMax}], got ${from} -> ${to}`);
  }
  return from * linkKeyShift + to;
}
