// The call deadline and abort handling, and the jittered backoff.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline, backoffMs } from '../src/deadline.js';
import { AbortedError, TimeoutError } from '../src/errors.js';

describe('Deadline', () => {
  it('throws TimeoutError once expired and AbortedError once aborted', async () => {
    const d = Deadline.after(20);
    d.check('early');
    await assert.rejects(d.sleep(10_000, 'waiting'), TimeoutError);
    const controller = new AbortController();
    const a = Deadline.after(10_000, controller.signal);
    controller.abort();
    assert.throws(() => a.check('after abort'), AbortedError);
  });

  it('an abort ends a sleep and a race early', async () => {
    const controller = new AbortController();
    const d = Deadline.after(60_000, controller.signal);
    const started = Date.now();
    const sleeping = d.sleep(30_000, 'sleeping');
    const racing = d.race(new Promise(() => {}));
    controller.abort(new Error('user'));
    await assert.rejects(sleeping, AbortedError);
    await assert.rejects(racing, AbortedError);
    assert.ok(Date.now() - started < 10_000);
  });

  it('gives gRPC the earlier of the deadline and a cap', () => {
    const d = Deadline.after(60_000);
    assert.ok(d.grpcDeadline(100).getTime() <= Date.now() + 100);
    assert.ok(d.grpcDeadline().getTime() > Date.now() + 50_000);
  });
});

describe('backoffMs', () => {
  it('stays within [1, min(max, base * 2^n)]', () => {
    for (let n = 0; n < 30; n++) {
      assert.equal(
        backoffMs(n, 10, 500, () => 0),
        1,
      );
      assert.equal(
        backoffMs(n, 10, 500, () => 1),
        Math.min(500, 10 * 2 ** n),
      );
    }
  });
});
