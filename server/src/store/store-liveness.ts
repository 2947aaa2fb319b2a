// Liveness of the peer stores, as this store sees it, counted in store ticks. Any frame from
// a store (a Raft message, a coalesced heartbeat, an empty ping) proves it alive; every
// store pings its peer stores every storePingIntervalTicks, so even a store whose regions
// all hibernate keeps being heard. A store silent for storeSuspectAfterTicks is suspected.
//
// Hibernation needs this because a quiesced region exchanges no heartbeats: without it, the
// followers of a region whose leader's store died would sleep forever. The store wakes the
// quiesced regions led from a store when it becomes suspected (an edge, not a level: a
// suspected store's regions are woken once, then normal Raft timeouts take over).
//
// A suspicion is only a hint, never a decision: a falsely suspected store costs its regions a
// wake-up (a few heartbeats, then they quiesce again), never safety.

/** Peer stores tracked at most (a cluster is far smaller; bounds the map). */
export const TRACKED_STORES_MAX = 4_096;

export class StoreLiveness {
  /** Store tick at which each known peer store was last heard (or first expected). */
  private readonly lastHeardTick = new Map<number, number>();
  private readonly suspected = new Set<number>();
  private nowTick = 0;

  constructor(
    private readonly selfStoreId: number,
    private readonly suspectAfterTicks: number,
  ) {
    if (!Number.isSafeInteger(suspectAfterTicks) || suspectAfterTicks < 1)
      throw new RangeError(`suspectAfterTicks must be a positive integer, got ${suspectAfterTicks}`);
  }

  get tickCount(): number {
    return this.nowTick;
  }

  /** A store we expect to hear from (it hosts a peer of one of our regions); its clock starts now. */
  expect(storeId: number): void {
    if (storeId === this.selfStoreId || this.lastHeardTick.has(storeId)) return;
    if (this.lastHeardTick.size >= TRACKED_STORES_MAX) return;
    this.lastHeardTick.set(storeId, this.nowTick);
  }

  /** A frame from `storeId` arrived. Returns true if it was suspected until now. */
  heard(storeId: number): boolean {
    if (storeId === this.selfStoreId) return false;
    if (!this.lastHeardTick.has(storeId) && this.lastHeardTick.size >= TRACKED_STORES_MAX) return false;
    this.lastHeardTick.set(storeId, this.nowTick);
    return this.suspected.delete(storeId);
  }

  /**
   * Suspects `storeId` at once (the transport could not reach it). Returns true if it was
   * not suspected before, i.e. the caller should wake what depends on it.
   */
  suspect(storeId: number): boolean {
    if (storeId === this.selfStoreId || this.suspected.has(storeId)) return false;
    this.expect(storeId);
    if (!this.lastHeardTick.has(storeId)) return false;
    this.suspected.add(storeId);
    return true;
  }

  /** Advances one tick; returns the stores that became suspected with it. */
  tick(): number[] {
    this.nowTick++;
    const newlySuspected: number[] = [];
    for (const [storeId, heardTick] of this.lastHeardTick) {
      if (this.suspected.has(storeId) || this.nowTick - heardTick < this.suspectAfterTicks) continue;
      this.suspected.add(storeId);
      newlySuspected.push(storeId);
    }
    return newlySuspected;
  }

  isSuspected(storeId: number): boolean {
    return this.suspected.has(storeId);
  }

  /** The peer stores tracked (to ping). */
  stores(): IterableIterator<number> {
    return this.lastHeardTick.keys();
  }
}
