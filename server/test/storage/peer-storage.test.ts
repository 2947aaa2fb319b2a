// A region's Raft log in the engine: the Storage contract the core relies on (terms,
// bounded entry reads, compaction errors), conflict truncation, the bounded entry cache,
// snapshot install, and recovery of the same state after reopening the database.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfState, Entry } from '@flotilla/raft';
import { RawNode, SeededRandom, StorageError } from '@flotilla/raft';
import { WriteBatch } from '../../src/storage/engine.js';
import type { Engine } from '../../src/storage/engine.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { LevelDbEngine } from '../../src/storage/leveldb-engine.js';
import { PeerStorage } from '../../src/storage/peer-storage.js';
import { EntryCache } from '../../src/storage/entry-cache.js';
import { LogCorruptionError } from '../../src/storage/log-verification.js';
import { raftLogKey } from '../../src/storage/keys.js';

const confState: ConfState = {
  voters: [1],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};
const te = new TextEncoder();

function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: 'normal', data: te.encode(data) };
}

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-peer-storage-'));
  dirs.push(dir);
  return dir;
}

async function load(
  engine: Engine,
  entryCacheBytesMax = 1 << 20,
  requested: number[] = [],
): Promise<PeerStorage> {
  return PeerStorage.load({
    regionId: 7,
    engine,
    confState,
    entryCacheBytesMax,
    requestSnapshot: (id) => requested.push(id),
  });
}

async function write(engine: Engine, fill: (batch: WriteBatch) => void): Promise<void> {
  const batch = new WriteBatch();
  fill(batch);
  await engine.write(batch, { sync: true });
}

describe('PeerStorage', () => {
  it('starts empty: first index 1, last index 0, term(0) = 0', async () => {
    const storage = await load(new MemoryEngine());
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.deepEqual(storage.initialState().confState, confState);
  });

  it('serves appended entries within the byte cap, but always at least one', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, 10, 1)));
    assert.equal(storage.lastIndex(), 10);
    assert.equal(storage.term(10), 1);
    assert.equal(storage.entries(3, 11, Number.MAX_SAFE_INTEGER).length, 8);
    assert.equal(storage.entries(3, 11, 0).length, 1);
    assert.throws(
      () => storage.entries(3, 12, 100),
      (e: unknown) => e instanceof StorageError && e.kind === 'unavailable',
    );
    assert.throws(
      () => storage.term(11),
      (e: unknown) => e instanceof StorageError && e.kind === 'unavailable',
    );
  });

  it('replaces a conflicting suffix and deletes the entries beyond the new end', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, 10, 1)));
    await write(engine, (b) => storage.append(b, [entry(6, 2, 'new6'), entry(7, 2, 'new7')]));
    assert.equal(storage.lastIndex(), 7);
    assert.deepEqual(
      storage.entries(5, 8, Number.MAX_SAFE_INTEGER).map((e) => e.term),
      [1, 2, 2],
    );
    const reloaded = await load(engine, 0);
    assert.equal(reloaded.lastIndex(), 7, 'entries 8..10 were deleted from the engine');
    assert.equal(new TextDecoder().decode(reloaded.entries(7, 8, 100)[0]?.data), 'new7');
  });

  it('refuses appends that would leave a gap or overwrite compacted entries', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, 3, 1)));
    assert.throws(() => storage.append(new WriteBatch(), [entry(5, 1)]), /gap/);
    await write(engine, (b) => {
      storage.setApplied(b, 3);
      storage.compact(b, 2);
    });
    assert.throws(() => storage.append(new WriteBatch(), [entry(2, 1)]), /compacted/);
  });

  it('reads entries evicted from the bounded cache back from the engine', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine, 64);
    await write(engine, (b) => storage.append(b, entries(1, 50, 3)));
    const all = storage.entries(1, 51, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(
      all.map((e) => e.index),
      entries(1, 50, 3).map((e) => e.index),
    );
    assert.equal(storage.term(1), 3);
  });

  it('compacts only applied entries and then reports them as compacted', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, 10, 2)));
    assert.throws(() => storage.compact(new WriteBatch(), 5), /beyond applied/);
    await write(engine, (b) => {
      storage.setApplied(b, 8);
      storage.compact(b, 5);
    });
    assert.equal(storage.firstIndex(), 6);
    assert.equal(storage.term(5), 2, 'the term of the truncation point stays known');
    assert.throws(
      () => storage.term(4),
      (e: unknown) => e instanceof StorageError && e.kind === 'compacted',
    );
    assert.throws(
      () => storage.entries(5, 7, 100),
      (e: unknown) => e instanceof StorageError && e.kind === 'compacted',
    );
    const reloaded = await load(engine);
    assert.equal(reloaded.firstIndex(), 6);
    assert.equal(reloaded.appliedIndex, 8);
  });

  it('asks the store for a snapshot, then serves the one it was given', async () => {
    const requested: number[] = [];
    const storage = await load(new MemoryEngine(), 1024, requested);
    assert.throws(
      () => storage.snapshot(),
      (e: unknown) => e instanceof StorageError && e.kind === 'snapshotTemporarilyUnavailable',
    );
    assert.deepEqual(requested, [7]);
    const snap = { metadata: { index: 0, term: 0, confState }, data: te.encode('descriptor') };
    storage.setGeneratedSnapshot(snap);
    assert.equal(storage.snapshot(), snap);
  });

  it('resets the log to an installed snapshot point', async () => {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, 5, 1)));
    const voters: ConfState = { ...confState, voters: [1, 2, 3] };
    await write(engine, (b) => storage.installSnapshot(b, { index: 100, term: 4, confState: voters }));
    assert.equal(storage.firstIndex(), 101);
    assert.equal(storage.lastIndex(), 100);
    assert.equal(storage.term(100), 4);
    assert.deepEqual(storage.initialState().confState, voters);
    await write(engine, (b) => storage.append(b, [entry(101, 4)]));
    const reloaded = await load(engine);
    assert.equal(reloaded.lastIndex(), 101);
    assert.equal(reloaded.appliedIndex, 100);
    assert.equal(
      engine instanceof MemoryEngine && engine.size,
      2,
      'entries 1..5 are gone: only entry 101 and the apply state remain',
    );
  });

  it('recovers a Raft node from LevelDB: same hard state, log and commit after reopening', async () => {
    const dir = tempDir();
    let engine: Engine = await LevelDbEngine.open(dir);
    let storage = await load(engine);
    const node = new RawNode({
      id: 1,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      storage,
      random: new SeededRandom(1),
    });
    node.campaign();
    for (let round = 0; round < 20; round++) {
      if (round === 3) for (let i = 0; i < 5; i++) node.propose(te.encode(`cmd-${i}`));
      if (!node.hasReady()) continue;
      const ready = node.ready();
      const batch = new WriteBatch();
      storage.append(batch, ready.entries);
      if (ready.hardState) storage.setHardState(batch, ready.hardState);
      const lastApplied = ready.committedEntries.at(-1);
      if (lastApplied) storage.setApplied(batch, lastApplied.index);
      await engine.write(batch, { sync: ready.mustSync });
      node.advance();
    }
    const before = node.status();
    assert.equal(before.role, 'leader');
    assert.equal(before.commit, 6, 'the leader no-op and 5 proposals committed');
    await engine.close();

    engine = await LevelDbEngine.open(dir);
    storage = await load(engine);
    assert.equal(storage.lastIndex(), 6);
    assert.equal(storage.initialState().hardState.commit, 6);
    assert.equal(storage.initialState().hardState.term, before.term);
    assert.equal(storage.appliedIndex, 6);
    const restarted = new RawNode({
      id: 1,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      storage,
      random: new SeededRandom(2),
      appliedIndex: storage.appliedIndex,
    });
    assert.equal(restarted.status().commit, 6);
    assert.deepEqual(
      storage.entries(2, 7, 1 << 20).map((e) => new TextDecoder().decode(e.data)),
      ['cmd-0', 'cmd-1', 'cmd-2', 'cmd-3', 'cmd-4'],
    );
    await engine.close();
  });
});

describe('EntryCache', () => {
  it('stays within its byte bound and keeps the newest entries', () => {
    const cache = new EntryCache(10);
    cache.append([entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb'), entry(3, 1, 'cccc')]);
    assert.ok(cache.cachedSizeBytes <= 10);
    assert.equal(cache.get(1), undefined);
    assert.equal(cache.get(3)?.index, 3);
  });

  it('drops a conflicting suffix when entries overwrite it', () => {
    const cache = new EntryCache(1000);
    cache.append(entries(1, 5, 1));
    cache.append([entry(3, 2)]);
    assert.equal(cache.count, 3);
    assert.equal(cache.get(3)?.term, 2);
    assert.equal(cache.get(4), undefined);
  });
});

describe('PeerStorage start-up verification', () => {
  async function logOf(count: number): Promise<MemoryEngine> {
    const engine = new MemoryEngine();
    const storage = await load(engine);
    await write(engine, (b) => storage.append(b, entries(1, count, 2)));
    return engine;
  }

  async function damage(
    engine: MemoryEngine,
    index: number,
    change: (record: Uint8Array) => Uint8Array | null,
  ): Promise<void> {
    const key = raftLogKey(7, index);
    const record = engine.getSync(key);
    assert.ok(record);
    const replaced = change(record.slice());
    const batch = new WriteBatch();
    if (replaced === null) batch.delete(key);
    else batch.put(key, replaced);
    await engine.write(batch, { sync: true });
  }

  it('refuses a log whose last record has a flipped byte, naming region and index', async () => {
    const engine = await logOf(10);
    await damage(engine, 10, (r) => {
      r[r.length - 1] = (r[r.length - 1] as number) ^ 0x01;
      return r;
    });
    await assert.rejects(
      load(engine),
      (e: unknown) =>
        e instanceof LogCorruptionError && e.index === 10 && /region 7: Raft log record 10/.test(e.message),
    );
  });

  it('refuses a truncated record', async () => {
    const engine = await logOf(5);
    await damage(engine, 5, (r) => r.subarray(0, r.length - 2));
    await assert.rejects(
      load(engine),
      (e: unknown) => e instanceof LogCorruptionError && e.index === 5 && /checksum/.test(e.message),
    );
  });

  it('refuses a log with a hole', async () => {
    const engine = await logOf(6);
    await damage(engine, 3, () => null);
    await assert.rejects(
      load(engine),
      (e: unknown) => e instanceof LogCorruptionError && e.index === 3 && /missing/.test(e.message),
    );
  });

  it('accepts an intact log', async () => {
    const engine = await logOf(50);
    assert.equal((await load(engine)).lastIndex(), 50);
  });
});
