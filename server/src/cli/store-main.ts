// The store process: `node --import tsx server/src/cli/store-main.ts --store-id 1
//   --listen 127.0.0.1:20161 --data-dir .data/store-1 --initial-cluster 1=...,2=...,3=...`
// Exits 0 on SIGTERM/SIGINT after a clean shutdown, non-zero on a start or fatal error.
import { parseArgs } from 'node:util';
import { StoreNode } from '../node/store-node.js';
import { parseClusterSpec } from './cluster-spec.js';

function usage(message: string): never {
  console.error(`store: ${message}`);
  console.error(
    'usage: store-main.ts --store-id N --listen host:port --data-dir DIR --initial-cluster 1=host:port,...',
  );
  console.error('       [--tick-interval-ms N] [--election-timeout-ticks N] [--heartbeat-interval-ticks N]');
  process.exit(2);
}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) usage(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const { values } = parseArgs({
  options: {
    'store-id': { type: 'string' },
    listen: { type: 'string' },
    'data-dir': { type: 'string' },
    'initial-cluster': { type: 'string' },
    'tick-interval-ms': { type: 'string' },
    'election-timeout-ticks': { type: 'string' },
    'heartbeat-interval-ticks': { type: 'string' },
  },
  strict: true,
});

const storeId = positive('store-id', values['store-id']) ?? usage('--store-id is required');
const initialCluster = (() => {
  try {
    return parseClusterSpec(values['initial-cluster'] ?? usage('--initial-cluster is required'));
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
})();
const storeConfig = {
  ...(values['tick-interval-ms']
    ? { tickIntervalMs: positive('tick-interval-ms', values['tick-interval-ms']) }
    : {}),
  ...(values['election-timeout-ticks']
    ? { electionTimeoutTicks: positive('election-timeout-ticks', values['election-timeout-ticks']) }
    : {}),
  ...(values['heartbeat-interval-ticks']
    ? { heartbeatIntervalTicks: positive('heartbeat-interval-ticks', values['heartbeat-interval-ticks']) }
    : {}),
};

try {
  const node = await StoreNode.start({
    storeId,
    listenAddress: values.listen ?? initialCluster.get(storeId) ?? usage('--listen is required'),
    dataDir: values['data-dir'] ?? usage('--data-dir is required'),
    initialCluster,
    storeConfig,
  });
  // A line a supervisor (or test) can wait for.
  console.log(`READY store=${storeId} address=${node.address}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.error(`store ${storeId}: ${signal}, shutting down`);
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`store ${storeId}: shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  console.error(`store ${storeId}: cannot start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
