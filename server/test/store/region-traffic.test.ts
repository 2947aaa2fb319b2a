import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegionTraffic } from '../../src/store/region-traffic.js';
import { writeLoad } from '../../src/service/request-load.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a region report takes the traffic since the previous report and the length of that period', () => {
  const clock = { now: 1000 };
  const traffic = new RegionTraffic(() => clock.now);
  assert.equal(traffic.take(5), undefined, 'nothing counted yet');
  traffic.record(5, 'read', 3, 300);
  traffic.record(5, 'write', 2, 50);
  traffic.record(6, 'write', 1, 10);
  clock.now += 4000;
  assert.deepEqual(traffic.take(5), {
    intervalMs: 4000,
    readKeys: 3,
    readBytes: 300,
    writtenKeys: 2,
    writtenBytes: 50,
  });
  // The next period starts at the take, not at the next request: an idle stretch lowers the rate.
  clock.now += 6000;
  traffic.record(5, 'read', 1, 10);
  clock.now += 4000;
  assert.deepEqual(traffic.take(5), {
    intervalMs: 10_000,
    readKeys: 1,
    readBytes: 10,
    writtenKeys: 0,
    writtenBytes: 0,
  });
});

test('the store heartbeat takes the totals over all regions, each period once', () => {
  const clock = { now: 0 };
  const traffic = new RegionTraffic(() => clock.now);
  traffic.record(5, 'read', 3, 30);
  traffic.record(6, 'write', 2, 20);
  traffic.take(5);
  clock.now = 2000;
  assert.deepEqual(traffic.takeStoreTotals(), {
    intervalMs: 2000,
    readKeys: 3,
    readBytes: 30,
    writtenKeys: 2,
    writtenBytes: 20,
  });
  clock.now = 4000;
  assert.equal(traffic.takeStoreTotals().readKeys, 0);
});

test('regions no longer led are forgotten', () => {
  const traffic = new RegionTraffic(() => 0);
  traffic.record(5, 'read', 1, 1);
  traffic.record(6, 'read', 1, 1);
  traffic.retainOnly(new Set([6]));
  assert.equal(traffic.take(5), undefined);
  assert.equal(traffic.take(6)?.readKeys, 1);
  assert.throws(() => traffic.record(6, 'read', -1, 0), RangeError);
});

test('a write batch is one point sample per key; a range delete is a range clamped to the region', () => {
  const batch = writeLoad(
    [
      { kind: 'put', key: enc('a'), value: enc('123') },
      { kind: 'delete', key: enc('b') },
    ],
    new Uint8Array(0),
  );
  assert.equal(batch.kind, 'write');
  assert.equal(batch.keysCount, 2);
  assert.equal(batch.bytes, 1 + 3 + 1);
  assert.deepEqual(
    batch.samples.map((s) => [Buffer.from(s.startKey).toString(), s.endKey]),
    [
      ['a', undefined],
      ['b', undefined],
    ],
  );
  const range = writeLoad([{ kind: 'deleteRange', startKey: enc('c'), endKey: new Uint8Array(0) }], enc('m'));
  assert.equal(Buffer.from(range.samples[0]?.endKey ?? []).toString(), 'm');
});
