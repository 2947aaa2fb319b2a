// The simulated world's clock and scheduler. Time is a step counter: a Raft tick is
// STEPS_PER_TICK steps, and a message takes at least one step. Nothing in the simulated
// cluster uses real timers: the stores' `defer` and every delayed event (a message in flight,
// a client's backoff, PD's balancing interval) go through this loop, which runs one step at
// a time. A step runs its due events in the order they were scheduled, then drains: deferred
// callbacks run, and between them one macrotask turn lets every pending microtask (the
// stores' async rounds over MemoryEngines, which resolve at once) finish. No other macrotask
// source exists in the simulation, so the interleaving depends only on the seed.

/** Steps per Raft tick: room for a round, its messages, and the rounds they cause. */
export const STEPS_PER_TICK = 4;
/** Simulated wall-clock length of one tick (matches the stores' tickIntervalMs). */
export const TICK_MS = 10;
/** Simulated Unix time of step 0 (any fixed date: stores stamp commands with it). */
const EPOCH_UNIX_MS = 1_800_000_000_000;
/** Drain turns of one step; beyond it a store loop that never goes idle is reported. */
const DRAIN_TURNS_MAX = 10_000;

export class SimLoopError extends Error {
  readonly code = 'SIM_LOOP_STUCK';
  constructor(message: string) {
    super(message);
    this.name = 'SimLoopError';
  }
}

export class SimLoop {
  private stepIndex = 0;
  private deferred: Array<() => void> = [];
  /** Events by the step they are due at. */
  private readonly timed = new Map<number, Array<() => void>>();
  private readonly intervals = new Set<{ everySteps: number; fn: () => void }>();
  /** Callbacks that threw (a bug in the simulated code or in the harness). */
  readonly errors: Error[] = [];

  get step(): number {
    return this.stepIndex;
  }

  get tick(): number {
    return Math.floor(this.stepIndex / STEPS_PER_TICK);
  }

  nowUnixMs(): number {
    return EPOCH_UNIX_MS + Math.floor((this.stepIndex * TICK_MS) / STEPS_PER_TICK);
  }

  /** Runs `fn` in the current step's drain (the stores' setImmediate). */
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Runs `fn` `delaySteps` (at least 1) steps from now. */
  after(delaySteps: number, fn: () => void): void {
    if (!Number.isSafeInteger(delaySteps) || delaySteps < 1)
      throw new Error(`SimLoop.after: delay must be a positive integer, got ${delaySteps}`);
    const due = this.stepIndex + delaySteps;
    let list = this.timed.get(due);
    if (list === undefined) this.timed.set(due, (list = []));
    list.push(fn);
  }

  /** Resolves `delaySteps` steps from now. */
  sleep(delaySteps: number): Promise<void> {
    return new Promise((resolve) => this.after(delaySteps, resolve));
  }

  /** Runs `fn` every `intervalMs` of simulated time until the returned function is called. */
  every(intervalMs: number, fn: () => void): () => void {
    const everySteps = Math.max(1, Math.round((intervalMs * STEPS_PER_TICK) / TICK_MS));
    const entry = { everySteps, fn };
    this.intervals.add(entry);
    return () => this.intervals.delete(entry);
  }

  /** Advances one step: due events, intervals, then the drain. */
  async runStep(): Promise<void> {
    this.stepIndex++;
    const due = this.timed.get(this.stepIndex);
    if (due !== undefined) {
      this.timed.delete(this.stepIndex);
      for (const fn of due) this.guard(fn);
    }
    for (const entry of [...this.intervals]) {
      if (this.stepIndex % entry.everySteps === 0) this.guard(entry.fn);
    }
    await this.drain();
  }

  /** Runs deferred callbacks and lets microtasks finish until nothing is left to do now. */
  async drain(): Promise<void> {
    for (let turn = 0; turn < DRAIN_TURNS_MAX; turn++) {
      await macrotask();
      if (this.deferred.length === 0) return;
      const batch = this.deferred;
      this.deferred = [];
      for (const fn of batch) this.guard(fn);
    }
    throw new SimLoopError(`step ${this.stepIndex}: still busy after ${DRAIN_TURNS_MAX} drain turns`);
  }

  /** Awaits `promise` while running steps; undefined if it has not settled within `stepsMax`. */
  async runUntilSettled<T>(promise: Promise<T>, stepsMax: number): Promise<{ value: T } | undefined> {
    let settled: { value: T } | undefined;
    let failure: unknown;
    let failed = false;
    promise.then(
      (value) => (settled = { value }),
      (error: unknown) => {
        failed = true;
        failure = error;
      },
    );
    await this.drain();
    for (let i = 0; i < stepsMax && settled === undefined && !failed; i++) await this.runStep();
    if (failed) throw failure;
    return settled;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.errors.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
