// `flotilla server`: one store node process. Configuration comes from defaults, a JSON file,
// FLOTILLA_* variables and flags (see server/src/config). Prints `READY store=N address=A`
// once serving. On SIGTERM or SIGINT it shuts down gracefully: every region it leads hands
// leadership to an up-to-date voter (bounded wait), then the node stops (transport, store
// loop, gRPC server, LevelDB) and the process exits 0. A second signal exits at once.
// Exit codes: 0 clean shutdown, 1 start or shutdown failure, 2 bad configuration.
import { StoreNode } from '../node/store-node.js';
import { drainLeadership } from '../node/leadership-drain.js';
import type { FlotillaServerConfig } from '../config/server-config.js';
import { ServerConfigError, storeNodeSettings } from '../config/server-config.js';
import { loadServerConfig, parseServerFlags, serverUsage } from '../config/config-sources.js';

export async function runServer(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  let config: FlotillaServerConfig;
  try {
    if (parseServerFlags(argv).help) {
      console.log(serverUsage());
      return;
    }
    config = loadServerConfig({ argv, env });
  } catch (err) {
    if (!(err instanceof ServerConfigError)) throw err;
    console.error(`flotilla server: ${err.message}`);
    console.error('run `flotilla server --help` for the settings');
    process.exit(2);
  }
  const { storeConfig, kvLimits, disk, engine } = storeNodeSettings(config);
  let node: StoreNode;
  try {
    node = await StoreNode.start({
      cluster:
        config.pdEndpoints.length > 0
          ? {
              kind: 'pd',
              pdEndpoints: config.pdEndpoints,
              storeHeartbeatIntervalMs: config.storeHeartbeatIntervalMs,
              regionHeartbeatIntervalMs: config.regionHeartbeatIntervalMs,
            }
          : {
              kind: 'static',
              storeId: config.storeId,
              initialCluster: config.initialCluster,
              clusterId: config.clusterId,
            },
      listenAddress: config.listen,
      dataDir: config.dataDir,
      storeConfig,
      kvLimits,
      disk,
      engine,
    });
  } catch (err) {
    const label = config.storeId > 0 ? `store ${config.storeId}` : `store at ${config.listen}`;
    console.error(`${label}: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  console.error(
    `store ${node.storeId}: tick ${config.tickIntervalMs} ms, election timeout ${config.electionTimeoutMs} ms ` +
      `(${config.electionTimeoutTicks} ticks), heartbeat ${config.heartbeatIntervalMs} ms ` +
      `(${config.heartbeatIntervalTicks} ticks), drain bound ${config.drainTimeoutMs} ms`,
  );
  // A line a supervisor (or test) can wait for.
  console.log(`READY store=${node.storeId} address=${node.address}`);
  installSignalHandlers(node, config);
}

function installSignalHandlers(node: StoreNode, config: FlotillaServerConfig): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.error(`store ${node.storeId}: ${signal} again, exiting without a clean shutdown`);
      process.exit(1);
    }
    stopping = true;
    console.error(`store ${node.storeId}: ${signal}, handing over leadership and shutting down`);
    gracefulStop(node, config).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`store ${node.storeId}: shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Stop accepting first (clients get NotLeader and move on), then hand leadership over:
 * in-flight proposals finish under the new leader, and clients that reach this store get
 * the new leader as hint. Then stop: close the transport, finish the round, close LevelDB.
 */
export async function gracefulStop(node: StoreNode, config: FlotillaServerConfig): Promise<void> {
  const log = (line: string): void => console.error(`store ${node.storeId}: ${line}`);
  node.beginShutdown();
  const report = await drainLeadership(node.store, {
    timeoutMs: config.drainTimeoutMs,
    pollIntervalMs: config.tickIntervalMs,
    retryIntervalMs: config.electionTimeoutMs,
    log,
  });
  log(
    `leadership handed over for ${report.movedRegionIds.length} region(s)` +
      (report.stuckRegionIds.length > 0 ? `; still led here: ${report.stuckRegionIds.join(', ')}` : ''),
  );
  await node.stop();
  log('stopped');
}
