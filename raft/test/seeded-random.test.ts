// Unit tests of the seeded PRNG: determinism is what lets a failing run replay from its seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, RaftInvariantError } from '../src/index.js';

test('the same seed yields the same sequence; different seeds diverge', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 20 }, () => a.nextInt(1000));
  const seqB = Array.from({ length: 20 }, () => b.nextInt(1000));
  const seqC = Array.from({ length: 20 }, () => c.nextInt(1000));
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

test('nextInt stays in [0, bound) and covers the range; next() is in [0, 1)', () => {
  const r = new SeededRandom(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.nextInt(10);
    assert.ok(v >= 0 && v < 10 && Number.isInteger(v));
    seen.add(v);
    const f = r.next();
    assert.ok(f >= 0 && f < 1);
  }
  assert.equal(seen.size, 10);
});

test('nextInt rejects a non-positive bound and the constructor a non-integer seed', () => {
  const r = new SeededRandom(1);
  assert.throws(() => r.nextInt(0), RaftInvariantError);
  assert.throws(() => r.nextInt(1.5), RaftInvariantError);
  assert.throws(() => new SeededRandom(0.5), RaftInvariantError);
  assert.equal(r.nextInt(1), 0);
  // Large seeds (beyond 32 bits) are accepted and deterministic.
  assert.equal(
    new SeededRandom(2 ** 40 + 3).nextInt(1 << 30),
    new SeededRandom(2 ** 40 + 3).nextInt(1 << 30),
  );
});
