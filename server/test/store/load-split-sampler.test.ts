import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '@flotilla/raft';
import type { LoadSample } from '../../src/store/load-split-sampler.js';
import { LoadSplitSampler, chooseLoadSplitKey } from '../../src/store/load-split-sampler.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const point = (k: string): LoadSample => ({ startKey: enc(k), endKey: undefined });
const range = (a: string, b: string): LoadSample => ({ startKey: enc(a), endKey: enc(b) });
const whole = { startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
const key = (i: number): string => `k${String(i).padStart(4, '0')}`;

test('the reservoir never holds more than its capacity and counts every request', () => {
  const sampler = new LoadSplitSampler(new SeededRandom(1), 16);
  for (let i = 0; i < 1000; i++) sampler.record(point(key(i)));
  assert.equal(sampler.sampled().length, 16);
  assert.equal(sampler.recorded, 1000);
  sampler.reset();
  assert.equal(sampler.sampled().length, 0);
  assert.equal(sampler.recorded, 0);
});

test('the reservoir is a uniform sample: late requests are as likely to be kept as early ones', () => {
  const sampler = new LoadSplitSampler(new SeededRandom(7), 200);
  for (let i = 0; i < 10_000; i++) sampler.record(point(key(i % 10_000)));
  const kept = sampler.sampled().map((s) => Number(dec(s.startKey).slice(1)));
  const late = kept.filter((i) => i >= 5000).length;
  // Binomial(200, 0.5): 100 ± 35 is far beyond 4 standard deviations.
  assert.ok(late > 65 && late < 135, `${late} of 200 samples from the second half`);
});

test('the sampler copies keys: a reused request buffer does not change the sample', () => {
  const sampler = new LoadSplitSampler(new SeededRandom(1), 4);
  const buffer = enc('aaaa');
  sampler.record({ startKey: buffer, endKey: undefined });
  buffer.fill(0x7a);
  assert.equal(dec(sampler.sampled()[0]?.startKey ?? new Uint8Array()), 'aaaa');
});

test('load spread over many keys splits near the middle of the load, not of the key range', () => {
  // 200 requests on k0000-k0099 and 200 on k0900-k0999: the middle of the load is between them.
  const samples = [
    ...Array.from({ length: 200 }, (_, i) => point(key(i % 100))),
    ...Array.from({ length: 200 }, (_, i) => point(key(900 + (i % 100)))),
  ];
  const d = chooseLoadSplitKey(samples, whole);
  assert.equal(d.kind, 'split');
  if (d.kind !== 'split') return;
  assert.equal(d.leftCount + d.rightCount, 400);
  assert.ok(Math.abs(d.leftCount - d.rightCount) <= 8, `${d.leftCount} left, ${d.rightCount} right`);
  const at = dec(d.splitKey);
  assert.ok(at > key(90) && at <= key(910), `split at ${at}`);
});

test('all load on one key is not split', () => {
  const d = chooseLoadSplitKey(
    Array.from({ length: 300 }, () => point('hot')),
    whole,
  );
  assert.deepEqual(d, { kind: 'none', cause: 'oneKey', reason: 'all sampled load is on one key' });
});

test('one dominating key with a little load elsewhere is not split (no balanced key)', () => {
  const samples = [
    ...Array.from({ length: 270 }, () => point('m-hot')),
    ...Array.from({ length: 15 }, (_, i) => point(`a${i}`)),
    ...Array.from({ length: 15 }, (_, i) => point(`z${i}`)),
  ];
  assert.equal(chooseLoadSplitKey(samples, whole).kind, 'none');
});

test('too few samples: no decision', () => {
  const d = chooseLoadSplitKey([point('a'), point('b')], whole);
  assert.equal(d.kind, 'none');
});

test('a key most ranged requests straddle is not chosen; the split avoids cutting scans', () => {
  // Scans over [a, c) and [d, f): the only balanced keys that cut no scan lie between c and d.
  const samples = [
    ...Array.from({ length: 150 }, () => range('a', 'c')),
    ...Array.from({ length: 150 }, () => range('d', 'f')),
  ];
  const d = chooseLoadSplitKey(samples, whole);
  assert.equal(d.kind, 'split');
  if (d.kind !== 'split') return;
  assert.equal(d.crossingCount, 0);
  assert.ok(dec(d.splitKey) >= 'c' && dec(d.splitKey) <= 'd', `split at ${dec(d.splitKey)}`);
});

test('when every balanced key is straddled by most requests, nothing is split', () => {
  // Every request scans [a, z): any key inside cuts all of them.
  const samples = [
    ...Array.from({ length: 100 }, () => range('a', 'z')),
    ...Array.from({ length: 50 }, () => point('b')),
    ...Array.from({ length: 50 }, () => point('y')),
  ];
  assert.equal(chooseLoadSplitKey(samples, whole).kind, 'none');
});

test('the split key is strictly inside the region: never at its start key, never at or past its end', () => {
  const region = { startKey: enc('k0100'), endKey: enc('k0200') };
  // Half the load sits on the region's start key itself; the rest on k0150.
  const samples = [
    ...Array.from({ length: 100 }, () => point('k0100')),
    ...Array.from({ length: 100 }, () => point('k0150')),
  ];
  const d = chooseLoadSplitKey(samples, region);
  assert.equal(d.kind, 'split');
  if (d.kind !== 'split') return;
  assert.equal(dec(d.splitKey), 'k0150');
  assert.equal(d.leftCount, 100);
  assert.equal(d.rightCount, 100);
  // Load only at the start key and on a scan ending at the region end: no inside key divides it.
  const edge = [
    ...Array.from({ length: 100 }, () => point('k0100')),
    ...Array.from({ length: 100 }, () => range('k0100', 'k0200')),
  ];
  assert.equal(chooseLoadSplitKey(edge, region).kind, 'none');
});
