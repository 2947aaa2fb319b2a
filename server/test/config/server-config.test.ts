// Server configuration: precedence of the layers (defaults < file < FLOTILLA_* < flags),
// milliseconds to ticks, and validation messages that name the source and key at fault.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerConfig } from '../../src/config/config-sources.js';
import type { ServerConfigInputs } from '../../src/config/config-sources.js';
import {
  SERVER_CONFIG_DEFAULTS,
  ServerConfigError,
  storeNodeSettings,
} from '../../src/config/server-config.js';
import { resolveStoreConfig } from '../../src/store/store-config.js';

const CLUSTER = '1=127.0.0.1:20161,2=127.0.0.1:20162,3=127.0.0.1:20163';
const REQUIRED = ['--store-id', '1', '--data-dir', '/tmp/x', '--initial-cluster', CLUSTER];

function load(inputs: Partial<ServerConfigInputs> & { files?: Record<string, string> }) {
  const files = inputs.files ?? {};
  return loadServerConfig({
    argv: inputs.argv ?? REQUIRED,
    env: inputs.env ?? {},
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file '${path}'`);
      return text;
    },
  });
}

function rejects(inputs: Parameters<typeof load>[0], message: string | RegExp): void {
  assert.throws(
    () => load(inputs),
    (err: unknown) => {
      assert.ok(err instanceof ServerConfigError, `expected ServerConfigError, got ${String(err)}`);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('server config: layers', () => {
  it('uses the embedded defaults when nothing else is given, and listens on its initial-cluster address', () => {
    const config = load({});
    assert.equal(config.storeId, 1);
    assert.equal(config.listen, '127.0.0.1:20161');
    assert.equal(config.tickIntervalMs, SERVER_CONFIG_DEFAULTS.tickIntervalMs);
    assert.equal(config.electionTimeoutMs, SERVER_CONFIG_DEFAULTS.electionTimeoutMs);
    assert.equal(config.electionTimeoutTicks, 10);
    assert.equal(config.heartbeatIntervalTicks, 3);
    assert.equal(config.drainTimeoutMs, 2 * config.electionTimeoutMs);
    assert.equal(config.initialCluster.size, 3);
  });

  it('lets a file override defaults, the environment override the file, and flags override both', () => {
    const files = {
      'f.json': JSON.stringify({
        tickIntervalMs: 20,
        electionTimeoutMs: 400,
        heartbeatIntervalMs: 60,
        scanLimitMax: 7,
      }),
    };
    const fileOnly = load({ argv: [...REQUIRED, '--config', 'f.json'], files });
    assert.deepEqual(
      [fileOnly.tickIntervalMs, fileOnly.electionTimeoutMs, fileOnly.scanLimitMax],
      [20, 400, 7],
    );
    const env = { FLOTILLA_ELECTION_TIMEOUT_MS: '300', FLOTILLA_SCAN_LIMIT_MAX: '8' };
    const withEnv = load({ argv: [...REQUIRED, '--config', 'f.json'], env, files });
    assert.deepEqual([withEnv.electionTimeoutMs, withEnv.scanLimitMax], [300, 8]);
    const withFlag = load({ argv: [...REQUIRED, '--config', 'f.json', '--scan-limit-max', '9'], env, files });
    assert.deepEqual(
      [withFlag.electionTimeoutMs, withFlag.scanLimitMax, withFlag.electionTimeoutTicks],
      [300, 9, 15],
    );
  });

  it('takes every required setting from the environment and the file path from FLOTILLA_CONFIG', () => {
    const config = load({
      argv: [],
      env: {
        FLOTILLA_STORE_ID: '2',
        FLOTILLA_DATA_DIR: '/data/2',
        FLOTILLA_INITIAL_CLUSTER: CLUSTER,
        FLOTILLA_LISTEN: '0.0.0.0:30000',
        FLOTILLA_CONFIG: 'c.json',
      },
      files: { 'c.json': JSON.stringify({ snapshotIntervalEntries: 500, compactionKeepEntries: 50 }) },
    });
    assert.equal(config.storeId, 2);
    assert.equal(config.dataDir, '/data/2');
    assert.equal(config.listen, '0.0.0.0:30000');
    assert.equal(config.snapshotIntervalEntries, 500);
  });

  it('accepts the initial cluster in a file as an object of id to address', () => {
    const config = load({
      argv: ['--config', 'c.json'],
      files: {
        'c.json': JSON.stringify({ storeId: 3, dataDir: 'd', initialCluster: { 1: 'a:1', 3: 'b:2' } }),
      },
    });
    assert.equal(config.listen, 'b:2');
  });

  it('gives the store node a configuration its own validation accepts', () => {
    const { storeConfig, kvLimits } = storeNodeSettings(load({}));
    const resolved = resolveStoreConfig({ ...storeConfig, storeId: 1 });
    assert.equal(resolved.electionTimeoutTicks, 10);
    assert.equal(resolved.tickIntervalMs, 10);
    assert.ok(resolved.raftEntrySizeBytesMax > (kvLimits.valueSizeBytesMax ?? 0));
  });
});

describe('server config: validation names the source and key', () => {
  it('rejects a non-integer environment value', () => {
    rejects(
      { env: { FLOTILLA_ELECTION_TIMEOUT_MS: 'abc' } },
      'FLOTILLA_ELECTION_TIMEOUT_MS=abc: expected a positive integer',
    );
  });

  it('rejects a non-integer flag and a fractional file value', () => {
    rejects(
      { argv: [...REQUIRED, '--tick-interval-ms', '1.5'] },
      '--tick-interval-ms=1.5: expected a positive integer',
    );
    rejects(
      { argv: [...REQUIRED, '--config', 'f.json'], files: { 'f.json': '{"tickIntervalMs": 2.5}' } },
      'f.json: tickIntervalMs=2.5: expected a positive integer',
    );
  });

  it('rejects an unknown key in the config file', () => {
    rejects(
      { argv: [...REQUIRED, '--config', 'f.json'], files: { 'f.json': '{"electionTimeoutTick": 10}' } },
      /^f\.json: unknown key 'electionTimeoutTick'/,
    );
  });

  it('rejects an unknown flag, an unreadable or malformed file, and TOML', () => {
    rejects({ argv: [...REQUIRED, '--election-timeout-ticks', '10'] }, /election-timeout-ticks/);
    rejects({ argv: [...REQUIRED, '--config', 'missing.json'] }, /^missing\.json: cannot read config file/);
    rejects(
      { argv: [...REQUIRED, '--config', 'f.json'], files: { 'f.json': '{' } },
      /^f\.json: not valid JSON/,
    );
    rejects(
      { argv: [...REQUIRED, '--config', 'f.json'], files: { 'f.json': '[]' } },
      /expected a JSON object/,
    );
    rejects({ argv: [...REQUIRED, '--config', 'f.toml'] }, /TOML config files are not supported/);
  });

  it('rejects timeouts that are not whole ticks', () => {
    rejects(
      { env: { FLOTILLA_ELECTION_TIMEOUT_MS: '105' } },
      'FLOTILLA_ELECTION_TIMEOUT_MS=105: electionTimeoutMs must be a multiple of tickIntervalMs (default tickIntervalMs=10)',
    );
    rejects(
      { argv: [...REQUIRED, '--heartbeat-interval-ms', '25'] },
      /^--heartbeat-interval-ms=25: heartbeatIntervalMs must be a multiple/,
    );
  });

  it('rejects a heartbeat that is not below the election timeout', () => {
    rejects(
      { env: { FLOTILLA_HEARTBEAT_INTERVAL_MS: '100' } },
      'FLOTILLA_HEARTBEAT_INTERVAL_MS=100: heartbeatIntervalMs must be below electionTimeoutMs (default electionTimeoutMs=100)',
    );
  });

  it('rejects an election timeout of fewer than 5 ticks (too few distinct randomized timeouts)', () => {
    rejects(
      {
        env: {
          FLOTILLA_TICK_INTERVAL_MS: '50',
          FLOTILLA_ELECTION_TIMEOUT_MS: '200',
          FLOTILLA_HEARTBEAT_INTERVAL_MS: '50',
        },
      },
      /^FLOTILLA_ELECTION_TIMEOUT_MS=200: electionTimeoutMs must be at least 5 ticks/,
    );
  });

  it('rejects values out of range, naming the range', () => {
    rejects(
      { env: { FLOTILLA_TICK_INTERVAL_MS: '5000' } },
      'FLOTILLA_TICK_INTERVAL_MS=5000: expected an integer in [1, 1000]',
    );
    rejects(
      { argv: [], env: { FLOTILLA_STORE_ID: '0' } },
      'FLOTILLA_STORE_ID=0: expected a positive integer',
    );
  });

  it('rejects missing required settings, saying where they can be given', () => {
    rejects(
      { argv: ['--store-id', '1', '--initial-cluster', CLUSTER] },
      /^dataDir is required \(--data-dir, FLOTILLA_DATA_DIR or config file\)/,
    );
  });

  it('rejects a store that is not in the initial cluster, and a malformed cluster or address', () => {
    const env = { FLOTILLA_DATA_DIR: 'd', FLOTILLA_INITIAL_CLUSTER: CLUSTER };
    rejects(
      { argv: [], env: { ...env, FLOTILLA_STORE_ID: '4' } },
      `FLOTILLA_STORE_ID=4: store 4 is not in initialCluster (FLOTILLA_INITIAL_CLUSTER=${CLUSTER})`,
    );
    rejects(
      { argv: [], env: { ...env, FLOTILLA_STORE_ID: '1', FLOTILLA_INITIAL_CLUSTER: '1=nohost' } },
      "FLOTILLA_INITIAL_CLUSTER=1=nohost: address 'nohost' must be host:port",
    );
    rejects({ env: { FLOTILLA_LISTEN: 'localhost' } }, 'FLOTILLA_LISTEN=localhost: expected host:port');
  });

  it('rejects keeping at least as many entries at compaction as the compaction interval', () => {
    rejects(
      { env: { FLOTILLA_SNAPSHOT_INTERVAL_ENTRIES: '100', FLOTILLA_COMPACTION_KEEP_ENTRIES: '100' } },
      /^FLOTILLA_COMPACTION_KEEP_ENTRIES=100: compactionKeepEntries must be below snapshotIntervalEntries \(FLOTILLA_SNAPSHOT_INTERVAL_ENTRIES=100\)/,
    );
  });

  it('treats an empty environment variable as unset', () => {
    assert.equal(load({ env: { FLOTILLA_ELECTION_TIMEOUT_MS: '' } }).electionTimeoutMs, 100);
  });
});
