// Wakes the quiesced regions a store suspicion concerns at a bounded rate, not all at once.
//
// When a peer store falls silent (store-liveness.ts) or its stream breaks, every quiesced
// region that depends on it must wake, so that its followers can elect a new leader if the
// store is really gone. With thousands of regions per store, waking them all in one go
// turns a suspicion into thousands of awake regions in the next round: each ticks,
// heartbeats and nudges its leader. If the suspected store was only slow (a loaded machine,
// a long GC pause), that load stalls this store's loop in turn, its peers suspect IT, and
// the stores wake each other's regions in a loop (seen with 10,000 regions per store on a
// shared machine: an ack timeout woke 9,985 regions on one store). So the wake-ups are
// queued per suspected store and handed out at most regionsPerTickMax per store tick; when
// the store is heard again the rest of its queue is dropped (a false suspicion costs a few
// ticks' worth of wake-ups). A real failure still wakes every region, spread over a few
// ticks, and ticks slow down with the loop (tick-clock.ts), so the pace follows the load.

export class WakePacer {
  /** Region ids still to wake, by the store whose suspicion asked for it (FIFO each). */
  private readonly queues = new Map<number, number[]>();
  private pendingCount = 0;

  constructor(private readonly regionsPerTickMax: number) {
    if (!Number.isSafeInteger(regionsPerTickMax) || regionsPerTickMax < 1)
      throw new RangeError(`regionsPerTickMax must be a positive integer, got ${regionsPerTickMax}`);
  }

  /** Queues `regionIds` to wake because `storeId` is suspected (replacing its earlier queue). */
  schedule(storeId: number, regionIds: readonly number[]): void {
    this.cancel(storeId);
    if (regionIds.length === 0) return;
    this.queues.set(storeId, [...regionIds]);
    this.pendingCount += regionIds.length;
  }

  /** `storeId` was heard again: drops its queued wake-ups; returns how many. */
  cancel(storeId: number): number {
    const queue = this.queues.get(storeId);
    if (queue === undefined) return 0;
    this.queues.delete(storeId);
    this.pendingCount -= queue.length;
    if (this.pendingCount < 0) throw new Error(`wake pacer: ${this.pendingCount} wake-ups pending`);
    return queue.length;
  }

  /** The regions to wake now: at most regionsPerTickMax, taken from the stores' queues in turn. */
  take(): number[] {
    const taken: number[] = [];
    while (taken.length < this.regionsPerTickMax && this.pendingCount > 0) {
      for (const [storeId, queue] of this.queues) {
        const regionId = queue.shift();
        if (regionId !== undefined) {
          taken.push(regionId);
          this.pendingCount--;
        }
        if (queue.length === 0) this.queues.delete(storeId);
        if (taken.length === this.regionsPerTickMax) break;
      }
    }
    return taken;
  }

  get pendingWakeUpsCount(): number {
    return this.pendingCount;
  }
}
