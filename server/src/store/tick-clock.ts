// The store's Raft clock: ticks are logical time that cannot outrun the store loop.
//
// Why. Election timeout, heartbeat interval and check-quorum are counted in ticks, while an
// election or a heartbeat round trip takes a number of loop ROUNDS: a candidate's round sends
// the vote request, a round on the voter answers it, a round on the candidate counts the
// answers and sends its first append, and so on. If ticks followed wall-clock time while
// rounds grow long (thousands of regions electing at once on a busy machine), a region would
// get several ticks per round and its timeouts would shrink to two or three rounds, shorter
// than the round trips that end them: every election times out before it can be won,
// leaders step down on check-quorum because heartbeat responses come back "late", each
// failure adds elections, and the store never recovers. So a region gets at most
// ticksPerRoundMax (default 1) ticks per round: when rounds are slow, Raft time slows with
// them, timeouts stay 10 to 20 rounds (the defaults) and round trips of 2 to 3 rounds fit in
// them, whatever the load. When the loop keeps up (rounds shorter than a tick interval, the
// normal case), a tick is one tick interval of wall time and failover is as fast as
// configured. TiKV works the same way: its Raft base tick is a message the poller handles
// among the others, so ticks never pile up behind a busy poller.
//
// Tick intervals that elapse while a round runs (the ticker fires during the round's awaits)
// beyond ticksPerRoundMax are lost, never delivered later: a burst of late ticks would expire
// every timeout at once. A stalled event loop loses ticks too (a Node timer delayed by a
// blocked loop runs once, however many intervals it missed).
//
// Leases. A clock that runs slower than wall time is safe for elections and check-quorum (a
// slow follower only waits longer before voting), not for lease reads: the Raft core serves a
// lease read while fewer than electionTimeout - margin ticks passed since the heartbeat round
// a quorum acknowledged, trusting that its followers' clocks (which never run faster than wall
// time) have not counted a full election timeout meanwhile. So the clock records the wall
// time of its recent ticks, and the store serves lease reads as ReadIndex reads (a heartbeat
// round a quorum answers) while the last electionTimeout - margin ticks took an election
// timeout of wall time or more (leaseDoubtful).

/** Tick intervals due at most while no round runs (the rest are counted lost at once). */
const DUE_TICKS_MAX = 1_000_000;

/** Ticks whose wall time the clock remembers at most (a bound on the lease window). */
export const TICK_HISTORY_MAX = 4_096;

export class TickClock {
  /** Tick intervals elapsed (ticker calls) that no round has taken yet. */
  private dueCount = 0;
  /** Ticks handed to rounds since the start: the store's logical time. */
  private deliveredCount = 0;
  /** Tick intervals that elapsed while the loop could not take them. */
  private lostCount = 0;
  /** Wall time (ms) of the last `history.length` ticks delivered, a ring indexed by tick number. */
  private readonly history: number[];

  constructor(
    private readonly ticksPerRoundMax: number,
    /** Ticks a lease may span by the core's count: electionTimeoutTicks - leaseClockDriftMarginTicks. */
    private readonly leaseTicks: number,
    /** Wall time an election timeout lasts (electionTimeoutTicks * tickIntervalMs). */
    private readonly electionTimeoutMs: number,
  ) {
    if (!Number.isSafeInteger(ticksPerRoundMax) || ticksPerRoundMax < 1)
      throw new RangeError(`ticksPerRoundMax must be a positive integer, got ${ticksPerRoundMax}`);
    if (!Number.isSafeInteger(leaseTicks) || leaseTicks < 1 || leaseTicks >= TICK_HISTORY_MAX)
      throw new RangeError(`leaseTicks must be an integer in [1, ${TICK_HISTORY_MAX}), got ${leaseTicks}`);
    if (!(electionTimeoutMs > 0))
      throw new RangeError(`electionTimeoutMs must be positive, got ${electionTimeoutMs}`);
    this.history = new Array<number>(leaseTicks + 1).fill(Number.NEGATIVE_INFINITY);
  }

  /** One tick interval elapsed (the ticker): a tick is due for the next round. */
  elapsed(): void {
    if (this.dueCount < DUE_TICKS_MAX) this.dueCount++;
    else this.lostCount++;
  }

  /**
   * Ticks for the round starting at `nowMs` (wall time): what is due, at most
   * ticksPerRoundMax; the rest is lost.
   */
  takeRoundTicks(nowMs: number): number {
    const ticks = Math.min(this.dueCount, this.ticksPerRoundMax);
    this.lostCount += this.dueCount - ticks;
    this.dueCount = 0;
    for (let i = 0; i < ticks; i++) {
      this.deliveredCount++;
      this.history[this.deliveredCount % this.history.length] = nowMs;
    }
    if (ticks < 0 || ticks > this.ticksPerRoundMax) throw new Error(`tick clock: ${ticks} ticks in a round`);
    return ticks;
  }

  /** Ticks are due that no round took yet. */
  get hasDueTicks(): boolean {
    return this.dueCount > 0;
  }

  /**
   * The last leaseTicks ticks took at least an election timeout of wall time (up to `nowMs`):
   * the clock ran slow against its peers' possibly, so a lease counted in its ticks may have
   * outlived a follower's promise not to vote. Also doubtful until the clock has ticked
   * more than leaseTicks times, or if wall time went back.
   */
  leaseDoubtful(nowMs: number): boolean {
    if (this.deliveredCount <= this.leaseTicks) return true;
    const startMs = this.history[(this.deliveredCount - this.leaseTicks) % this.history.length] as number;
    const spanMs = nowMs - startMs;
    return !(spanMs >= 0 && spanMs < this.electionTimeoutMs);
  }

  get ticksDeliveredCount(): number {
    return this.deliveredCount;
  }

  get ticksLostCount(): number {
    return this.lostCount;
  }
}
