// flushMemtable: the memtable goes to a table file and LevelDB starts a new, empty log, so
// that a store killed on a full disk reopens without converting a large log. Real LevelDB.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteBatch } from '../../src/storage/engine.js';
import { LevelDbEngine } from '../../src/storage/leveldb-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-flush-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MIB = 1024 * 1024;
const bytesOf = (suffix: string): number =>
  readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);

it('writes the memtable out and leaves an empty log; the data is all still there', async () => {
  const engine = await LevelDbEngine.open(dir, { writeBufferSizeBytes: 16 * MIB });
  const te = new TextEncoder();
  for (let i = 0; i < 40; i++) {
    const batch = new WriteBatch();
    batch.put(te.encode(`z${String(i).padStart(3, '0')}`), randomBytes(64 * 1024));
    await engine.write(batch, { sync: false });
  }
  assert.ok(bytesOf('.log') > 2 * MIB, 'the writes sit in the log (below the 16 MiB memtable)');
  assert.equal(bytesOf('.ldb'), 0);
  await engine.flushMemtable();
  assert.ok(bytesOf('.log') < 64 * 1024, `log after the flush: ${bytesOf('.log')} bytes`);
  assert.ok(bytesOf('.ldb') > 2 * MIB);
  for (let i = 0; i < 40; i++)
    assert.equal(engine.getSync(te.encode(`z${String(i).padStart(3, '0')}`))?.length, 64 * 1024);
  await engine.close();
});
