// Time and randomness as the transport sees them, injected so tests (and the simulator)
// can drive backoff and timeouts themselves instead of waiting on the wall clock.

/** An opaque handle of a pending timer. */
export type TimerHandle = object;

export interface Clock {
  nowMs(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** A source of jitter: an integer uniformly drawn from [0, bound), bound >= 1 (raft's RandomSource fits). */
export interface JitterSource {
  nextInt(bound: number): number;
}

/** Real time. Timers are unref'd so a forgotten transport never keeps the process alive. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Math.random-based jitter for production; tests and the simulator pass a seeded source. */
export const systemJitter: JitterSource = {
  nextInt: (bound) => Math.floor(Math.random() * bound),
};
