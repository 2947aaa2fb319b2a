// The Engine contract, run against both implementations: the simulator's MemoryEngine
// must behave exactly like the LevelDB engine the store runs on.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../src/storage/engine.js';
import { WriteBatch, SCAN_LIMIT_MAX } from '../../src/storage/engine.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { LevelDbEngine } from '../../src/storage/leveldb-engine.js';

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string): Uint8Array => te.encode(s);
const s = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : td.decode(u));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const implementations: Array<{ name: string; open: () => Promise<Engine> }> = [
  { name: 'MemoryEngine', open: () => Promise.resolve(new MemoryEngine()) },
  {
    name: 'LevelDbEngine',
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'flotilla-engine-'));
      dirs.push(dir);
      return LevelDbEngine.open(dir);
    },
  },
  {
    // The other option set the leveldb benchmark compares: the contract must not depend on it.
    name: 'LevelDbEngine (16 KiB blocks, no compression, 4 MiB memtable, 8 MiB cache)',
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'flotilla-engine-'));
      dirs.push(dir);
      return LevelDbEngine.open(dir, {
        blockSizeBytes: 16 * 1024,
        compression: false,
        writeBufferSizeBytes: 4 * 1024 * 1024,
        cacheSizeBytes: 8 * 1024 * 1024,
      });
    },
  },
];

async function seeded(open: () => Promise<Engine>, keys: string[]): Promise<Engine> {
  const engine = await open();
  const batch = new WriteBatch();
  for (const k of keys) batch.put(b(k), b(`v-${k}`));
  await engine.write(batch, { sync: true });
  return engine;
}

for (const { name, open } of implementations) {
  describe(`${name} contract`, () => {
    it('reads back what a batch wrote and forgets what it deleted', async () => {
      const engine = await seeded(open, ['a', 'b']);
      await engine.write(new WriteBatch().delete(b('a')).put(b('c'), b('3')), { sync: false });
      assert.equal(engine.getSync(b('a')), undefined);
      assert.equal(s(engine.getSync(b('b'))), 'v-b');
      assert.equal(s(engine.getSync(b('c'))), '3');
      await engine.close();
    });

    it('applies the operations of one batch in order (last write of a key wins)', async () => {
      const engine = await open();
      await engine.write(
        new WriteBatch().put(b('k'), b('1')).put(b('k'), b('2')).delete(b('k')).put(b('k'), b('3')),
        {
          sync: true,
        },
      );
      assert.equal(s(engine.getSync(b('k'))), '3');
      await engine.close();
    });

    it('scans a half-open range in key order, forward and reverse, with a limit', async () => {
      const engine = await seeded(open, ['a', 'b', 'c', 'd', 'e']);
      const range = { start: b('b'), end: b('e') };
      assert.deepEqual(
        (await engine.scan(range, { limit: 10 })).map((kv) => s(kv.key)),
        ['b', 'c', 'd'],
      );
      assert.deepEqual(
        (await engine.scan(range, { limit: 2, reverse: true })).map((kv) => s(kv.key)),
        ['d', 'c'],
      );
      assert.deepEqual(
        (await engine.scan({ start: b('c'), end: null }, { limit: 10 })).map((kv) => s(kv.value)),
        ['v-c', 'v-d', 'v-e'],
      );
      await engine.close();
    });

    it('returns empty values for a keys-only scan', async () => {
      const engine = await seeded(open, ['x', 'y']);
      const pairs = await engine.scan({ start: b('a'), end: null }, { limit: 10, keysOnly: true });
      assert.deepEqual(
        pairs.map((kv) => [s(kv.key), kv.value.length]),
        [
          ['x', 0],
          ['y', 0],
        ],
      );
      await engine.close();
    });

    it('orders keys as bytes, not as strings (0xff sorts after 0x7f)', async () => {
      const engine = await open();
      await engine.write(
        new WriteBatch()
          .put(new Uint8Array([0xff]), b('hi'))
          .put(new Uint8Array([0x7f]), b('lo'))
          .put(new Uint8Array([0x7f, 0]), b('mid')),
        { sync: false },
      );
      const pairs = await engine.scan({ start: new Uint8Array([0]), end: null }, { limit: 10 });
      assert.deepEqual(
        pairs.map((kv) => s(kv.value)),
        ['lo', 'mid', 'hi'],
      );
      await engine.close();
    });

    it('rejects scan limits outside [1, SCAN_LIMIT_MAX] and empty keys', async () => {
      const engine = await open();
      await assert.rejects(async () => engine.scan({ start: b('a'), end: null }, { limit: 0 }), /scan limit/);
      await assert.rejects(
        async () => engine.scan({ start: b('a'), end: null }, { limit: SCAN_LIMIT_MAX + 1 }),
        /scan limit/,
      );
      assert.throws(() => new WriteBatch().put(new Uint8Array(0), b('v')), /empty key/);
      await engine.close();
    });

    it('keeps a snapshot consistent while writes go on', async () => {
      const engine = await seeded(open, ['a', 'b']);
      const snapshot = engine.snapshot();
      await engine.write(new WriteBatch().put(b('a'), b('changed')).delete(b('b')).put(b('c'), b('new')), {
        sync: false,
      });
      assert.equal(s(snapshot.getSync(b('a'))), 'v-a');
      assert.equal(s(snapshot.getSync(b('b'))), 'v-b');
      assert.equal(snapshot.getSync(b('c')), undefined);
      assert.deepEqual(
        (await snapshot.scan({ start: b('a'), end: null }, { limit: 10 })).map((kv) => s(kv.key)),
        ['a', 'b'],
      );
      assert.equal(s(engine.getSync(b('a'))), 'changed');
      await snapshot.release();
      assert.throws(() => snapshot.getSync(b('a')), /after release/);
      await engine.close();
    });
  });
}

describe('LevelDbEngine persistence', () => {
  it('finds after reopening what it wrote before closing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-engine-'));
    dirs.push(dir);
    const first = await LevelDbEngine.open(dir);
    await first.write(new WriteBatch().put(b('durable'), b('yes')), { sync: true });
    await first.close();
    const second = await LevelDbEngine.open(dir);
    assert.equal(s(second.getSync(b('durable'))), 'yes');
    await second.close();
  });
});

describe('MemoryEngine crash model', () => {
  it('loses on crash exactly the writes no synced write followed', async () => {
    const engine = new MemoryEngine();
    await engine.write(new WriteBatch().put(b('a'), b('1')), { sync: false });
    await engine.write(new WriteBatch().put(b('b'), b('1')), { sync: true });
    await engine.write(new WriteBatch().put(b('a'), b('2')).put(b('c'), b('1')).delete(b('b')), {
      sync: false,
    });
    engine.crash();
    assert.equal(s(engine.getSync(b('a'))), '1', 'a was covered by the later synced write');
    assert.equal(s(engine.getSync(b('b'))), '1', 'the unsynced delete of b is undone');
    assert.equal(engine.getSync(b('c')), undefined, 'the unsynced put of c is lost');
  });
});
