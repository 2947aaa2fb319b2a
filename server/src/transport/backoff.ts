// Reconnect delays: exponential growth from backoffMsMin to backoffMsMax with "equal
// jitter" (half the delay fixed, half random), so stores that lost the same peer at the
// same moment do not all reconnect in lockstep.
import type { JitterSource } from './clock.js';

export interface BackoffOptions {
  readonly backoffMsMin: number;
  readonly backoffMsMax: number;
  readonly jitter: JitterSource;
}

export const BACKOFF_MS_MIN_DEFAULT = 50;
/**
 * Kept well under the election timeout's budget: a store that comes back (restart) is
 * reached again within half a second, so the next failover does not wait on a reconnect.
 * The cost, a connect attempt every 0.5 s to a store that stays down, is negligible.
 */
export const BACKOFF_MS_MAX_DEFAULT = 500;

export class Backoff {
  private readonly backoffMsMin: number;
  private readonly backoffMsMax: number;
  private readonly jitter: JitterSource;
  /** Failures since the last reset; only grows the delay up to backoffMsMax. */
  private attemptCount = 0;

  constructor(options: BackoffOptions) {
    if (!Number.isSafeInteger(options.backoffMsMin) || options.backoffMsMin < 1) {
      throw new RangeError(`backoffMsMin must be a positive integer, got ${options.backoffMsMin}`);
    }
    if (!Number.isSafeInteger(options.backoffMsMax) || options.backoffMsMax < options.backoffMsMin) {
      throw new RangeError(`backoffMsMax must be an integer >= backoffMsMin, got ${options.backoffMsMax}`);
    }
    this.backoffMsMin = options.backoffMsMin;
    this.backoffMsMax = options.backoffMsMax;
    this.jitter = options.jitter;
  }

  /** The delay before the next attempt, in [ceilMs / 2, ceilMs] with ceilMs = min(max, min * 2^attempts). */
  nextDelayMs(): number {
    const exponent = Math.min(this.attemptCount, 30);
    const ceilMs = Math.min(this.backoffMsMax, this.backoffMsMin * 2 ** exponent);
    this.attemptCount += 1;
    const halfMs = Math.floor(ceilMs / 2);
    const delayMs = ceilMs - halfMs + this.jitter.nextInt(halfMs + 1);
    if (delayMs < 1 || delayMs > this.backoffMsMax) {
      throw new RangeError(`backoff delay ${delayMs} ms outside [1, ${this.backoffMsMax}]`);
    }
    return delayMs;
  }

  reset(): void {
    this.attemptCount = 0;
  }
}
