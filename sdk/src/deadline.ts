// The time budget of one call. Every call gets one at its start (its timeoutMs, or the
// client's default) and every wait inside it — PD lookups, connection setup, queueing,
// backoff, the request itself — is bounded by what is left, so a call ends on time no
// matter how many retries it makes. An AbortSignal ends the waits early.
import { AbortedError, TimeoutError } from './errors.js';

export class Deadline {
  private constructor(
    /** Absolute end, in Date.now() milliseconds. */
    readonly atUnixMs: number,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}

  static after(timeoutMs: number, signal?: AbortSignal): Deadline {
    if (!(timeoutMs > 0)) throw new Error(`deadline needs a positive timeout, got ${timeoutMs}`);
    return new Deadline(Date.now() + timeoutMs, timeoutMs, signal);
  }

  remainingMs(): number {
    return Math.max(0, this.atUnixMs - Date.now());
  }

  expired(): boolean {
    return this.remainingMs() === 0;
  }

  get aborted(): boolean {
    return this.signal?.aborted === true;
  }

  /** The gRPC deadline for a call that may use at most `capMs` of the remaining time. */
  grpcDeadline(capMs = Number.POSITIVE_INFINITY): Date {
    return new Date(Math.min(this.atUnixMs, Date.now() + capMs));
  }

  /** Throws TimeoutError or AbortedError when the call may not start another step. */
  check(what: string): void {
    if (this.aborted) throw new AbortedError(`aborted while ${what}`, { cause: this.signal?.reason });
    if (this.expired()) throw new TimeoutError(`no result within ${this.timeoutMs} ms (while ${what})`);
  }

  /** Sleeps `ms` or until the deadline (whichever first), then checks; an abort ends it early. */
  async sleep(ms: number, what: string): Promise<void> {
    const waitMs = Math.min(ms, this.remainingMs());
    if (waitMs > 0) await this.race(new Promise<void>((resolve) => setTimeout(resolve, waitMs)));
    this.check(what);
  }

  /**
   * Resolves like `promise`, or rejects with AbortedError as soon as the signal fires. The
   * promise keeps running: the caller decides what an abandoned operation means.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal === undefined) return promise;
    if (signal.aborted) return Promise.reject(new AbortedError('aborted', { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(new AbortedError('aborted', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }
}

/** Full-jitter exponential backoff: a random pause in [0, min(max, base * 2^n)]. */
export function backoffMs(retryIndex: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retryIndex, 20));
  return Math.max(1, Math.round(random() * ceiling));
}
