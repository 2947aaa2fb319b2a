// Unit tests of config validation: nonsense fails up front with the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFIG_DEFAULTS,
  MemoryStorage,
  RaftConfigError,
  RawNode,
  SeededRandom,
  validateConfig,
} from '../src/index.js';
import type { RaftConfig } from '../src/index.js';

function base(): RaftConfig {
  return {
    id: 1,
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    storage: new MemoryStorage(),
    random: new SeededRandom(1),
  };
}

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RaftConfigError, `expected RaftConfigError, got ${String(err)}`);
    assert.ok(err.message.includes(err.field));
    return err.field;
  }
  throw new Error('expected a RaftConfigError');
}

test('defaults are filled in as documented', () => {
  const c = validateConfig(base());
  assert.equal(c.maxMsgSizeBytes, 1024 * 1024);
  assert.equal(c.maxInflightMsgs, 256);
  assert.equal(c.maxUncommittedEntriesSizeBytes, 32 * 1024 * 1024);
  assert.equal(c.maxCommittedSizePerReadyBytes, 16 * 1024 * 1024);
  assert.equal(c.maxEntrySizeBytes, 8 * 1024 * 1024);
  assert.equal(c.preVote, true);
  assert.equal(c.checkQuorum, true);
  assert.equal(c.asyncApply, false);
  assert.equal(c.maxPendingReadRequests, 4096);
  assert.equal(c.leaseClockDriftMarginTicks, 2); // ceil(10 / 5)
  assert.equal(validateConfig({ ...base(), electionTimeoutTicks: 11 }).leaseClockDriftMarginTicks, 3);
  assert.equal(CONFIG_DEFAULTS.maxPendingReadRequests, 4096);
});

test('each invalid field is named in the error', () => {
  const cases: [Partial<RaftConfig>, string][] = [
    [{ id: 0 }, 'id'],
    [{ id: -3 }, 'id'],
    [{ id: 1.5 }, 'id'],
    [{ electionTimeoutTicks: 0 }, 'electionTimeoutTicks'],
    [{ heartbeatIntervalTicks: 10 }, 'heartbeatIntervalTicks'],
    [{ heartbeatIntervalTicks: 0 }, 'heartbeatIntervalTicks'],
    [{ storage: {} as never }, 'storage'],
    [{ random: null as never }, 'random'],
    [{ appliedIndex: -1 }, 'appliedIndex'],
    [{ maxMsgSizeBytes: 0 }, 'maxMsgSizeBytes'],
    [{ maxInflightMsgs: 0 }, 'maxInflightMsgs'],
    [{ maxUncommittedEntriesSizeBytes: -1 }, 'maxUncommittedEntriesSizeBytes'],
    [{ maxCommittedSizePerReadyBytes: Number.NaN }, 'maxCommittedSizePerReadyBytes'],
    [{ maxEntrySizeBytes: 0 }, 'maxEntrySizeBytes'],
    [{ maxEntrySizeBytes: 100, maxUncommittedEntriesSizeBytes: 50 }, 'maxEntrySizeBytes'],
    [{ preVote: 'yes' as never }, 'preVote'],
    [{ checkQuorum: 1 as never }, 'checkQuorum'],
    [{ leaseClockDriftMarginTicks: 10 }, 'leaseClockDriftMarginTicks'],
    [{ asyncApply: 'x' as never }, 'asyncApply'],
    [{ disableProposalForwarding: 0 as never }, 'disableProposalForwarding'],
    [{ maxPendingReadRequests: 0 }, 'maxPendingReadRequests'],
  ];
  for (const [override, field] of cases) {
    assert.equal(
      fieldOf(() => validateConfig({ ...base(), ...override } as RaftConfig)),
      field,
      JSON.stringify(override),
    );
  }
});

test('RawNode validates its config at construction', () => {
  assert.equal(
    fieldOf(() => new RawNode({ ...base(), heartbeatIntervalTicks: 20 })),
    'heartbeatIntervalTicks',
  );
  // A zero uncommitted limit means unlimited, so any entry size is allowed.
  assert.equal(
    validateConfig({ ...base(), maxUncommittedEntriesSizeBytes: 0, maxEntrySizeBytes: 1 << 30 })
      .maxEntrySizeBytes,
    1 << 30,
  );
});
