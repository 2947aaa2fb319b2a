// The engine and the store's round write on a real full disk (a small tmpfs): LevelDB's
// ENOSPC becomes a typed EngineNoSpaceError, the engine refuses writes until reopened, and
// the store's DurableWriter waits for space, reopens and writes the same batch, with
// nothing of it visible before it lands and everything written before it intact.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineNoSpaceError, WriteBatch } from '../../server/src/storage/engine.js';
import { LevelDbEngine } from '../../server/src/storage/leveldb-engine.js';
import { DurableWriter } from '../../server/src/store/disk/durable-write.js';
import { Tmpfs } from '../support/tmpfs.js';

const VALUE_BYTES = 64 * 1024;
const key = (i: number): Uint8Array => Buffer.from(`k${String(i).padStart(6, '0')}`);

/** Writes 64 KiB random values (incompressible) until the disk is full; returns how many landed. */
async function fillWithWrites(engine: LevelDbEngine): Promise<{ written: number; error: unknown }> {
  for (let i = 0; i < 10_000; i++) {
    try {
      await engine.write(new WriteBatch().put(key(i), randomBytes(VALUE_BYTES)), { sync: true });
    } catch (error) {
      return { written: i, error };
    }
  }
  throw new Error('the disk never filled');
}

describe('LevelDB on a full disk', () => {
  let fs: Tmpfs;
  before(() => {
    fs = Tmpfs.mount(mkdtempSync(join(tmpdir(), 'flotilla-enospc-')), 8);
  });
  after(() => fs.unmount());

  it('fails a write with EngineNoSpaceError, keeps refusing until reopened, and keeps every landed write', async () => {
    const engine = await LevelDbEngine.open(join(fs.dir, 'db'), { writeBufferSizeBytes: 1024 * 1024 });
    try {
      const { written, error } = await fillWithWrites(engine);
      assert.ok(error instanceof EngineNoSpaceError, `expected EngineNoSpaceError, got ${String(error)}`);
      assert.ok(written > 10, `only ${written} writes landed on 8 MiB`);
      fs.resize(64);
      // LevelDB keeps the failed compaction's error: even with room, writes fail until reopened.
      const stuck = await engine
        .write(new WriteBatch().put(key(99_999), new Uint8Array(8)), { sync: true })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      if (stuck !== undefined) assert.ok(stuck instanceof EngineNoSpaceError);
      await engine.reopen();
      await engine.write(new WriteBatch().put(key(99_999), new Uint8Array(8)), { sync: true });
      for (let i = 0; i < written; i++) assert.equal(engine.getSync(key(i))?.length, VALUE_BYTES, `key ${i}`);
      assert.equal(engine.getSync(key(99_999))?.length, 8);
    } finally {
      await engine.close();
    }
  });
});

describe('DurableWriter on a full disk', () => {
  let fs: Tmpfs;
  before(() => {
    fs = Tmpfs.mount(mkdtempSync(join(tmpdir(), 'flotilla-durable-')), 8);
  });
  after(() => fs.unmount());

  it('waits for space, then writes the same batch once space is freed; nothing of it is visible before', async () => {
    const engine = await LevelDbEngine.open(join(fs.dir, 'db'), { writeBufferSizeBytes: 1024 * 1024 });
    const logs: string[] = [];
    let noSpaceNotes = 0;
    let freed = false;
    let visibleBeforeLanding: Uint8Array | undefined | 'unchecked' = 'unchecked';
    const writer = new DurableWriter({
      storeId: 1,
      engine,
      disk: {
        usage: 'alreadyFull',
        describe: () => 'test disk',
        noteNoSpace: () => {
          noSpaceNotes++;
          return Promise.resolve();
        },
        refresh: () => Promise.resolve(),
      },
      sleepMs: async (ms) => {
        // Before the first reopen the engine still answers reads: the failed batch is not there.
        if (visibleBeforeLanding === 'unchecked') visibleBeforeLanding = engine.getSync(key(500_000));
        await new Promise((resolve) => setTimeout(resolve, ms));
        // The operator frees space after the third failed attempt.
        if (noSpaceNotes >= 3 && !freed) {
          freed = true;
          fs.resize(64);
        }
      },
      stopping: () => false,
      log: (line) => logs.push(line),
      noSpacePauseMs: 5,
      noSpacePauseMsMax: 20,
    });
    try {
      const { written } = await fillWithWrites(engine);
      const batch = new WriteBatch();
      for (let i = 0; i < 8; i++) batch.put(key(500_000 + i), randomBytes(VALUE_BYTES));
      const landing = writer.write(batch, { sync: true });
      await landing;
      assert.ok(freed, 'the write landed before space was freed');
      assert.equal(visibleBeforeLanding, undefined, 'part of the failed batch was visible');
      assert.equal(writer.noSpaceWritesCount, 1);
      assert.ok(writer.reopensCount >= 1);
      for (let i = 0; i < 8; i++) assert.equal(engine.getSync(key(500_000 + i))?.length, VALUE_BYTES);
      for (let i = 0; i < written; i++) assert.equal(engine.getSync(key(i))?.length, VALUE_BYTES);
      assert.ok(
        logs.some((l) => l.includes('landed after')),
        logs.join('\n'),
      );
    } finally {
      await engine.close();
    }
  });

  it('stops the store with a clear message on an engine error that is not ENOSPC', async () => {
    const engine = await LevelDbEngine.open(join(fs.dir, 'db-closed'));
    await engine.close();
    const writer = new DurableWriter({
      storeId: 1,
      engine,
      disk: undefined,
      sleepMs: () => Promise.resolve(),
      stopping: () => false,
      log: () => undefined,
      noSpacePauseMs: 1,
      noSpacePauseMsMax: 1,
    });
    await assert.rejects(writer.write(new WriteBatch().put(key(1), new Uint8Array(1)), { sync: true }), {
      kind: 'engineWriteFailed',
      message: /storage engine write failed \(not a full disk\)/,
    });
  });
});
