// Start-up check of a region's retained Raft log: every record decodes and passes its
// checksum, sits under the key of its own index, follows on from the one before (no gaps)
// and never goes back in term. A store whose log fails this refuses to start with a
// message naming the region and index: serving from a damaged log could apply or
// replicate wrong data, while a refused start loses nothing (the replica can be rebuilt
// from the others).
import type { Engine } from './engine.js';
import { raftLogIndexOf, raftLogRange } from './keys.js';
import { StateDecodeError, decodeEntry } from './raft-state-codec.js';

/** Records read from the engine per scan while verifying. */
const VERIFY_PAGE_RECORDS = 1024;

export class LogCorruptionError extends Error {
  readonly code = 'LOG_CORRUPTED';
  constructor(
    readonly regionId: number,
    readonly index: number,
    detail: string,
  ) {
    super(
      `region ${regionId}: Raft log record ${index} is unusable (${detail}); refusing to start. ` +
        'Rebuild this store from its replicas (move its data directory away and let it rejoin), or inspect the database.',
    );
    this.name = 'LogCorruptionError';
  }
}

export interface RetainedLog {
  readonly regionId: number;
  /** The compaction point; the first retained record must be truncatedIndex + 1. */
  readonly truncatedIndex: number;
  readonly truncatedTerm: number;
  readonly lastIndex: number;
}

/** Throws LogCorruptionError at the first record that fails; returns the number of records checked. */
export async function verifyRetainedLog(engine: Engine, log: RetainedLog): Promise<number> {
  let expectedIndex = log.truncatedIndex + 1;
  let previousTerm = log.truncatedTerm;
  while (expectedIndex <= log.lastIndex) {
    const page = await engine.scan(raftLogRange(log.regionId, expectedIndex, log.lastIndex + 1), {
      limit: VERIFY_PAGE_RECORDS,
    });
    if (page.length === 0)
      throw new LogCorruptionError(
        log.regionId,
        expectedIndex,
        `missing; the log should reach ${log.lastIndex}`,
      );
    for (const { key, value } of page) {
      const keyIndex = raftLogIndexOf(key);
      if (keyIndex !== expectedIndex)
        throw new LogCorruptionError(log.regionId, expectedIndex, `missing; the next record is ${keyIndex}`);
      let entry;
      try {
        entry = decodeEntry(value);
      } catch (err) {
        if (err instanceof StateDecodeError)
          throw new LogCorruptionError(log.regionId, keyIndex, err.message);
        throw err;
      }
      if (entry.index !== keyIndex)
        throw new LogCorruptionError(log.regionId, keyIndex, `it holds entry ${entry.index}`);
      if (entry.term < previousTerm) {
        throw new LogCorruptionError(
          log.regionId,
          keyIndex,
          `its term ${entry.term} is below the previous term ${previousTerm}`,
        );
      }
      previousTerm = entry.term;
      expectedIndex++;
    }
  }
  return log.lastIndex - log.truncatedIndex;
}
