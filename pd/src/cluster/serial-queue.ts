// Runs metadata changes one at a time (each reads the state, writes the meta store, then
// updates memory; interleaving two would let the later write rest on a stale read), with
// a bounded number waiting.
export class SerialQueueFullError extends Error {
  readonly code = 'SERIAL_QUEUE_FULL';
}

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waitingCount = 0;

  constructor(private readonly waitingMax: number) {
    if (!Number.isSafeInteger(waitingMax) || waitingMax < 1)
      throw new RangeError(`waitingMax must be positive, got ${waitingMax}`);
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.waitingCount >= this.waitingMax) {
      return Promise.reject(new SerialQueueFullError(`${this.waitingMax} metadata changes already waiting`));
    }
    this.waitingCount++;
    const result = this.tail.then(
      () => task(),
      () => task(),
    );
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.waitingCount--;
    });
  }
}
