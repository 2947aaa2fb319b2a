// The linearizability checker shared by the simulators and the live chaos suite: legal
// histories pass, and the histories a broken store would produce (a stale read, a lost
// acknowledged write, a read of a value nobody wrote) are rejected; failures shrink to the
// few operations that contradict each other.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory, checkRegister, shrinkIllegalRegister } from './linearizability.js';
import type { KvOperation } from './linearizability.js';

function put(key: string, value: string, callSeq: number, returnSeq: number): KvOperation {
  return { kind: 'put', key, value, callSeq, returnSeq };
}

function get(key: string, value: string | null, callSeq: number, returnSeq: number): KvOperation {
  return { kind: 'get', key, value, callSeq, returnSeq };
}

describe('linearizability checker', () => {
  const stepsMax = 100_000;

  it('accepts a sequential history of writes and reads', () => {
    const history = [put('a', '1', 1, 2), get('a', '1', 3, 4), put('a', '2', 5, 6), get('a', '2', 7, 8)];
    assert.equal(checkRegister(history, stepsMax).outcome, 'ok');
  });

  it('accepts a read concurrent with a write returning either the old or the new value', () => {
    assert.equal(checkRegister([put('a', 'x', 1, 4), get('a', null, 2, 3)], stepsMax).outcome, 'ok');
    assert.equal(checkRegister([put('a', 'x', 1, 4), get('a', 'x', 2, 3)], stepsMax).outcome, 'ok');
  });

  it('rejects a read that misses a write completed before it began', () => {
    assert.equal(checkRegister([put('a', 'x', 1, 2), get('a', null, 3, 4)], stepsMax).outcome, 'illegal');
  });

  it('rejects a stale read of an overwritten value', () => {
    const history = [put('a', 'x', 1, 2), put('a', 'y', 3, 4), get('a', 'x', 5, 6)];
    assert.equal(checkRegister(history, stepsMax).outcome, 'illegal');
  });

  it('rejects two sequential reads that see a concurrent write and then un-see it', () => {
    const history = [put('a', 'x', 1, 10), get('a', 'x', 2, 3), get('a', null, 4, 5)];
    assert.equal(checkRegister(history, stepsMax).outcome, 'illegal');
  });

  it('lets a write with an unknown outcome take effect late, or never', () => {
    assert.equal(checkRegister([put('a', 'x', 1, Infinity), get('a', 'x', 50, 51)], stepsMax).outcome, 'ok');
    assert.equal(checkRegister([put('a', 'x', 1, Infinity), get('a', null, 50, 51)], stepsMax).outcome, 'ok');
    const flipFlop = [put('a', 'x', 1, Infinity), get('a', 'x', 4, 5), get('a', null, 6, 7)];
    assert.equal(checkRegister(flipFlop, stepsMax).outcome, 'illegal');
  });

  it('rejects a read of a value nobody wrote', () => {
    assert.equal(checkRegister([put('a', 'x', 1, 2), get('a', 'z', 3, 4)], stepsMax).outcome, 'illegal');
  });

  it('checks keys independently and names the broken one', () => {
    const history = [put('a', 'x', 1, 2), get('a', 'x', 3, 4), put('b', 'y', 1, 2), get('b', null, 5, 6)];
    const result = checkHistory(history, stepsMax);
    assert.equal(result.outcome, 'illegal');
    assert.deepEqual(result.illegalKeys, ['b']);
  });

  it('answers unknown instead of searching past its step bound', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 12; i++) history.push(put('a', `v${i}`, i + 1, 100 + i));
    history.push(get('a', 'missing', 200, 201));
    assert.equal(checkRegister(history, 50).outcome, 'unknown');
    assert.equal(checkRegister(history, 10_000_000).outcome, 'illegal');
  });

  it('handles many concurrent operations quickly thanks to memoization', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 60; i++) history.push(put('a', `v${i}`, 2 * i + 1, 2 * i + 40));
    history.push(get('a', 'v59', 500, 501));
    const result = checkRegister(history, 1_000_000);
    assert.equal(result.outcome, 'ok');
  });
});

describe('linearizability checker: what a live cluster must never show', () => {
  const stepsMax = 100_000;

  it('rejects a lost acknowledged write: the final read after heal sees the value before it', () => {
    const history = [put('k', 'v1', 1, 2), put('k', 'v2', 3, 4), get('k', 'v1', 10, 11)];
    assert.equal(checkRegister(history, stepsMax).outcome, 'illegal');
  });

  it('rejects a lost first write: the key reads absent after the write was acknowledged', () => {
    assert.equal(checkRegister([put('k', 'v1', 1, 2), get('k', null, 5, 6)], stepsMax).outcome, 'illegal');
  });

  it('rejects a read of a value whose write failed (failed writes are left out of the history)', () => {
    // The client was told the put of v2 was not applied, so the recorder drops it.
    const history = [put('k', 'v1', 1, 2), get('k', 'v2', 7, 8)];
    assert.equal(checkRegister(history, stepsMax).outcome, 'illegal');
  });

  it('accepts a write with an unknown outcome seen by a later read, then kept', () => {
    const history = [
      put('k', 'v1', 1, 2),
      put('k', 'v2', 3, Infinity),
      get('k', 'v2', 9, 10),
      get('k', 'v2', 11, 12),
    ];
    assert.equal(checkRegister(history, stepsMax).outcome, 'ok');
  });
});

describe('shrinking an illegal history', () => {
  const stepsMax = 100_000;

  it('keeps only the operations that contradict each other', () => {
    const history: KvOperation[] = [];
    let seq = 1;
    for (let i = 0; i < 40; i++) {
      history.push(put('k', `v${i}`, seq, seq + 1));
      history.push(get('k', `v${i}`, seq + 2, seq + 3));
      seq += 4;
    }
    // A stale read in the middle: v10 was overwritten by v11 before it began.
    history.push(get('k', 'v10', 4 * 11 + 5, 4 * 11 + 6));
    assert.equal(checkRegister(history, stepsMax).outcome, 'illegal');
    const shrunk = shrinkIllegalRegister(history, stepsMax, 1_000);
    assert.equal(checkRegister(shrunk, stepsMax).outcome, 'illegal');
    assert.ok(shrunk.length <= 3, `expected at most 3 operations, got ${JSON.stringify(shrunk)}`);
    assert.ok(shrunk.some((op) => op.kind === 'get' && op.value === 'v10' && op.callSeq === 49));
  });

  it('refuses a legal history', () => {
    assert.throws(() => shrinkIllegalRegister([put('k', 'a', 1, 2), get('k', 'a', 3, 4)], stepsMax, 100), {
      message: /not illegal/,
    });
  });

  it('stays illegal when its check budget runs out', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 30; i++) history.push(put('k', `v${i}`, 2 * i + 1, 2 * i + 2));
    history.push(get('k', 'never-written', 100, 101));
    const shrunk = shrinkIllegalRegister(history, stepsMax, 3);
    assert.equal(checkRegister(shrunk, stepsMax).outcome, 'illegal');
  });
});
