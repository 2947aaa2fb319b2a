// The snapshot descriptor and record stream: what is encoded decodes to the same values
// whatever the chunk boundaries, and every kind of damage (a flipped bit, a cut, extra
// bytes, a wrong count) is reported as SnapshotCorruptError instead of being installed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { WriteBatch } from '../../src/storage/engine.js';
import type { KeyValue } from '../../src/storage/engine.js';
import type { Snapshot } from '@flotilla/raft';
import { applyStateKey, dataKey, regionStateKey } from '../../src/storage/keys.js';
import { encodeApplyState } from '../../src/storage/raft-state-codec.js';
import { encodeRegionLocalState } from '../../src/store/region-meta.js';
import type { RegionMeta } from '../../src/store/region-meta.js';
import type { SnapshotDescriptor } from '../../src/store/snapshot-codec.js';
import {
  RecordDecoder,
  SnapshotCorruptError,
  decodeDescriptor,
  encodeDescriptor,
  encodeRecords,
} from '../../src/store/snapshot-codec.js';
import { SNAPSHOT_PAGE_KEYS, SnapshotGenerator } from '../../src/store/snapshot-generator.js';
import { readSnapshotData } from '../../src/store/snapshot-installer.js';
import { crc32c } from '../../src/transport/index.js';

const te = new TextEncoder();

const region: RegionMeta = {
  id: 7,
  startKey: te.encode('a'),
  endKey: te.encode('m'),
  epoch: { confVer: 3, version: 2 },
  peers: [
    { id: 71, storeId: 1, role: 'voter' },
    { id: 72, storeId: 2, role: 'voter' },
    { id: 73, storeId: 3, role: 'learner' },
  ],
};

function records(count: number): KeyValue[] {
  return Array.from({ length: count }, (_, i) => ({
    key: te.encode(`b${String(i).padStart(5, '0')}`),
    value: te.encode(`value ${i} `.repeat(i % 5)),
  }));
}

function describeData(data: Uint8Array, keyCount: number): SnapshotDescriptor {
  return {
    regionId: 7,
    index: 1234,
    term: 5,
    dataSizeBytes: data.length,
    keyCount,
    dataCrc32c: crc32c(data),
    region,
  };
}

/** Splits bytes into chunks of `size` (the transport cuts the stream wherever it likes). */
async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

describe('snapshot codec', () => {
  it('round-trips a descriptor', () => {
    const d = describeData(new Uint8Array(10), 3);
    assert.deepEqual(decodeDescriptor(encodeDescriptor(d)), d);
  });

  it('detects any flipped byte in a descriptor', () => {
    const bytes = encodeDescriptor(describeData(new Uint8Array(10), 3));
    for (let i = 0; i < bytes.length; i++) {
      const damaged = bytes.slice();
      damaged[i] = (damaged[i] as number) ^ 0x10;
      assert.throws(() => decodeDescriptor(damaged), SnapshotCorruptError, `byte ${i}`);
    }
    assert.throws(() => decodeDescriptor(bytes.subarray(0, bytes.length - 1)), SnapshotCorruptError);
  });

  it('round-trips records across arbitrary chunk boundaries', async () => {
    const input = records(300);
    const data = encodeRecords(input);
    for (const size of [1, 7, 64, data.length]) {
      const out = await readSnapshotData(describeData(data, input.length), chunked(data, size));
      assert.deepEqual(out, input, `chunks of ${size}`);
    }
  });

  it('reports a flipped bit, a cut, extra bytes and a wrong key count as corruption', async () => {
    const input = records(50);
    const data = encodeRecords(input);
    const d = describeData(data, input.length);
    const flipped = data.slice();
    flipped[data.length >> 1] = (flipped[data.length >> 1] as number) ^ 0x01;
    const cases: Array<[string, SnapshotDescriptor, Uint8Array]> = [
      ['flipped bit', d, flipped],
      ['cut', d, data.subarray(0, data.length - 3)],
      ['extra bytes', d, new Uint8Array([...data, 0, 0, 0, 1, 0x62])],
      ['wrong key count', { ...d, keyCount: 49 }, data],
    ];
    for (const [what, descriptor, bytes] of cases) {
      await assert.rejects(readSnapshotData(descriptor, chunked(bytes, 100)), SnapshotCorruptError, what);
    }
  });

  it('refuses a record length beyond the bound before buffering it', () => {
    const bogus = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    const decoder = new RecordDecoder({ ...describeData(bogus, 1) });
    assert.throws(() => decoder.push(bogus), SnapshotCorruptError);
  });

  it('generates a snapshot of exactly the region range at the applied index', async () => {
    const engine = new MemoryEngine();
    const batch = new WriteBatch()
      .put(applyStateKey(7), encodeApplyState({ appliedIndex: 40, truncatedIndex: 40, truncatedTerm: 4 }))
      .put(regionStateKey(7), encodeRegionLocalState(region, 'normal'))
      .put(dataKey(te.encode('0-before-range')), te.encode('x'))
      .put(dataKey(te.encode('z-after-range')), te.encode('x'));
    const inRange = records(SNAPSHOT_PAGE_KEYS * 2 + 3);
    for (const { key, value } of inRange) batch.put(dataKey(key), value);
    await engine.write(batch, { sync: true });
    let onGenerated: (snap: Snapshot) => void = () => undefined;
    const generatedOnce = new Promise<Snapshot>((resolve) => (onGenerated = resolve));
    const generator = new SnapshotGenerator({
      engine,
      onGenerated: (regionId, snap) => {
        assert.equal(regionId, 7);
        onGenerated(snap);
      },
      onFailed: (regionId, error) => assert.fail(`region ${regionId}: ${error.message}`),
    });
    generator.request(7, 0);
    const snap = await generatedOnce;
    // Writes after the generation are not in it: it is the engine view of that moment.
    await engine.write(new WriteBatch().put(dataKey(te.encode('b-later')), te.encode('y')), { sync: true });
    assert.equal(snap.metadata.index, 40);
    assert.equal(snap.metadata.term, 4);
    assert.deepEqual([...snap.metadata.confState.voters], [71, 72]);
    assert.deepEqual([...snap.metadata.confState.learners], [73]);
    const descriptor = decodeDescriptor(snap.data);
    assert.equal(descriptor.keyCount, inRange.length);
    assert.equal(generator.open(7, 40, 5), undefined, 'another term is not this snapshot');
    const data = generator.open(7, 40, 4);
    assert.ok(data);
    assert.equal(data.sizeBytes, descriptor.dataSizeBytes);
    assert.deepEqual(await readSnapshotData(descriptor, data.source), inRange);
    data.release();
    generator.expire(7, 41);
    assert.equal(generator.open(7, 40, 4), undefined, 'expired once the log is compacted past it');
    await generator.close();
  });
});
