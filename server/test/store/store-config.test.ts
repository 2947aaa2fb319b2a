// Store config defaults that are derived from other settings, and their validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveStoreConfig, StoreConfigError } from '../../src/store/store-config.js';

describe('Store config', () => {
  it('gives every region one tick per round by default (tick-clock.ts)', () => {
    assert.equal(resolveStoreConfig({ storeId: 1 }).ticksPerRoundMax, 1);
  });

  it('pings peer stores a few times per suspicion window, whatever the window', () => {
    const defaults = resolveStoreConfig({ storeId: 1 });
    assert.equal(defaults.storeSuspectAfterTicks, 30);
    assert.equal(defaults.storePingIntervalTicks, 10);
    const slower = resolveStoreConfig({ storeId: 1, electionTimeoutTicks: 50 });
    assert.equal(slower.storeSuspectAfterTicks, 150);
    assert.equal(slower.storePingIntervalTicks, 50);
    assert.equal(resolveStoreConfig({ storeId: 1, storePingIntervalTicks: 4 }).storePingIntervalTicks, 4);
  });

  it('refuses a ping interval that would let a live store be suspected', () => {
    assert.throws(
      () => resolveStoreConfig({ storeId: 1, storeSuspectAfterTicks: 30, storePingIntervalTicks: 30 }),
      (err: unknown) => err instanceof StoreConfigError && /storePingIntervalTicks/.test(err.message),
    );
  });
});
