// Reconnect backoff: exponential from backoffMsMin, capped at backoffMsMax, jittered within
// the upper half of each step, and back to the start after reset().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Backoff } from '../../src/transport/backoff.js';

const lowest = { nextInt: () => 0 };
const highest = { nextInt: (bound: number) => bound - 1 };

describe('Backoff', () => {
  it('doubles from backoffMsMin up to backoffMsMax (highest jitter)', () => {
    const backoff = new Backoff({ backoffMsMin: 50, backoffMsMax: 2_000, jitter: highest });
    const delays = Array.from({ length: 8 }, () => backoff.nextDelayMs());
    assert.deepEqual(delays, [50, 100, 200, 400, 800, 1_600, 2_000, 2_000]);
  });

  it('never goes below half of the step (lowest jitter)', () => {
    const backoff = new Backoff({ backoffMsMin: 50, backoffMsMax: 2_000, jitter: lowest });
    const delays = Array.from({ length: 7 }, () => backoff.nextDelayMs());
    assert.deepEqual(delays, [25, 50, 100, 200, 400, 800, 1_000]);
  });

  it('stays within [1, backoffMsMax] for any jitter after many failures', () => {
    let state = 7;
    const pseudoRandom = {
      nextInt: (bound: number) => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) % bound,
    };
    const backoff = new Backoff({ backoffMsMin: 1, backoffMsMax: 300, jitter: pseudoRandom });
    for (let i = 0; i < 1_000; i++) {
      const delayMs = backoff.nextDelayMs();
      assert.ok(delayMs >= 1 && delayMs <= 300, `delay ${delayMs}`);
    }
  });

  it('starts over after reset()', () => {
    const backoff = new Backoff({ backoffMsMin: 50, backoffMsMax: 2_000, jitter: highest });
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.reset();
    assert.equal(backoff.nextDelayMs(), 50);
  });

  it('rejects nonsense bounds', () => {
    assert.throws(() => new Backoff({ backoffMsMin: 0, backoffMsMax: 10, jitter: lowest }), RangeError);
    assert.throws(() => new Backoff({ backoffMsMin: 100, backoffMsMax: 10, jitter: lowest }), RangeError);
  });
});
