// The store loop's write of a round's batch, surviving a full disk. An ENOSPC (the reserve
// was not enough: someone else filled the disk) does not stop the store: the batch is kept,
// the disk is marked alreadyFull (so new data and appends are refused from now on), the
// placeholder file goes, and after a pause the engine is reopened (LevelDB refuses every
// write after a failed compaction, and its log may end in a torn record) and the same batch
// is written again, until it lands or the store stops. Nothing of the round is sent or
// acknowledged before its batch is durable, so a client never hears of a write that is
// not on disk. Any other engine error still stops the store, with a message saying so.
import type { Engine, WriteBatch, WriteOptions } from '../../storage/engine.js';
import { EngineNoSpaceError } from '../../storage/engine.js';
import type { StoreDisk } from './disk-guard.js';

export interface DurableWriteDeps {
  readonly storeId: number;
  readonly engine: Engine & { reopen?(): Promise<void> };
  readonly disk: StoreDisk | undefined;
  readonly sleepMs: (ms: number) => Promise<void>;
  /** Whether the store is stopping: the wait for space ends. */
  readonly stopping: () => boolean;
  readonly log: (line: string) => void;
  /** First pause after an ENOSPC; doubled per failed attempt up to noSpacePauseMsMax. */
  readonly noSpacePauseMs: number;
  readonly noSpacePauseMsMax: number;
}

/** The store stopped while a round waited for disk space: its batch was never written. */
export class StoppedWhileDiskFullError extends Error {
  readonly kind = 'stoppedWhileDiskFull';
}

/** Any engine error but ENOSPC: the store stops (this is the message it stops with). */
export class EngineWriteFailedError extends Error {
  readonly kind = 'engineWriteFailed';
}

export class DurableWriter {
  /** Writes that hit ENOSPC and were retried until they landed. */
  noSpaceWritesCount = 0;
  /** Reopenings of the engine after an ENOSPC. */
  reopensCount = 0;
  /** Whether a batch is waiting for space right now. */
  waitingForSpace = false;

  constructor(private readonly deps: DurableWriteDeps) {}

  /** Writes `batch`, waiting out an ENOSPC (see the header); throws only to stop the store. */
  async write(batch: WriteBatch, options: WriteOptions): Promise<void> {
    try {
      await this.deps.engine.write(batch, options);
      return;
    } catch (err) {
      if (!(err instanceof EngineNoSpaceError) || this.deps.engine.reopen === undefined) throw fatal(err);
      this.noSpaceWritesCount++;
      this.deps.log(`disk full: a write of ${batch.count} ops failed (${err.message}); waiting for space`);
    }
    this.waitingForSpace = true;
    try {
      await this.retryUntilWritten(batch, options);
    } finally {
      this.waitingForSpace = false;
    }
  }

  private async retryUntilWritten(batch: WriteBatch, options: WriteOptions): Promise<void> {
    const { deps } = this;
    let pauseMs = deps.noSpacePauseMs;
    // Bounded by the store stopping, not by a count: the store must resume by itself
    // however long the operator takes to free space. Each attempt waits at least a pause.
    for (let attempt = 1; ; attempt++) {
      await deps.disk?.noteNoSpace();
      await deps.sleepMs(pauseMs);
      pauseMs = Math.min(pauseMs * 2, deps.noSpacePauseMsMax);
      if (deps.stopping())
        throw new StoppedWhileDiskFullError(`store ${deps.storeId} stopped while waiting for disk space`);
      try {
        await (deps.engine.reopen as () => Promise<void>)();
        this.reopensCount++;
        await deps.engine.write(batch, options);
        deps.log(`disk full: the write landed after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}`);
        await deps.disk?.refresh();
        return;
      } catch (err) {
        if (!(err instanceof EngineNoSpaceError)) throw fatal(err);
        if (attempt === 1 || attempt % 10 === 0)
          deps.log(`disk full: retry ${attempt} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

function fatal(err: unknown): EngineWriteFailedError {
  const message = err instanceof Error ? err.message : String(err);
  return new EngineWriteFailedError(`storage engine write failed (not a full disk): ${message}`, {
    cause: err,
  });
}
