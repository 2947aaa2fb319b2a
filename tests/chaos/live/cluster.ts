// A Flotilla cluster in containers for the live chaos suite: 3 PD members and 3 stores,
// each in its own container on a user-defined docker network, started through
// testcontainers and waited on by their READY line. Every node is reached at one address,
// 127.0.0.1:<virtual port>, from the host and from every container: inside a container a
// fault proxy listens on each peer's virtual port and dials that peer's container; on the
// host a fault proxy per node dials the container's mapped port. So every client-to-node
// and node-to-node link crosses a proxy the nemeses can slow down, and the addresses PD
// hands out work everywhere. Everything is labelled `flotilla-chaos=<run id>` and removed
// by that label on stop, after a failed start and on SIGINT/SIGTERM; a run whose process
// died without any of these (SIGKILL) is removed by the next cluster's start (its owner
// label names a process that no longer runs).
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenericContainer, Wait } from 'testcontainers';
import { FaultProxy, NO_FAULTS } from './proxy/fault-proxy.js';
import type { LinkFaults } from './proxy/fault-proxy.js';
import { seededRandom } from './proxy/seeded-random.js';
import type { NodeConfig, ProxyRoute } from './node/node-config.js';
import { docker, removeLabelled, run } from './docker/docker-cli.js';
import { ensureImage } from './docker/image.js';
import { OWNER_LABEL, removeOrphanRuns, thisProcessOwner } from './docker/orphans.js';

export const CHAOS_LABEL = 'flotilla-chaos';
/** Port of a container's inbound proxy and of its control server. */
const INBOUND_PORT = 7000;
const CONTROL_PORT = 7001;
const APP_DIR = '/app';
const READY_TIMEOUT_MS = 120_000;
const PAUSE_ATTEMPTS_MAX = 5;
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX_CACHE_DIR = join(tmpdir(), 'flotilla-chaos-tsx-cache');

/** Where a run keeps its data dirs (a dead run's tmpfs is found there). */
export function workDirOf(runId: string): string {
  return join(tmpdir(), `flotilla-chaos-${runId}`);
}

export type NodeKind = 'pd' | 'store';

export interface ChaosNode {
  readonly name: string;
  readonly kind: NodeKind;
  /** PD member id, or the store slot (1-3; PD assigns the store id). */
  readonly slot: number;
  /** The node's address everywhere: 127.0.0.1:virtualPort. */
  readonly virtualPort: number;
  readonly dataDir: string;
  containerId: string;
  /** The host-side proxy clients reach this node through. */
  readonly hostProxy: FaultProxy;
  controlPort: number;
  readyCount: number;
}

export interface ClusterOptions {
  readonly runId: string;
  readonly seed: number;
  /** Host directory for data dirs (`workDirOf(runId)`); removed on stop. */
  readonly workDir: string;
  /** A tmpfs size for store slot 3's data dir (the full-disk fault); none when absent. */
  readonly smallDiskSizeMiB?: number;
  readonly log: (line: string) => void;
}

export class ChaosCluster {
  private stopped = false;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.options.log(`${signal}: removing the run's containers`);
    void this.stop().finally(() => process.exit(130));
  };

  private constructor(
    readonly options: ClusterOptions,
    readonly image: string,
    readonly network: string,
    readonly nodes: readonly ChaosNode[],
    /** This process, as the owner label names it. */
    private readonly owner: string,
  ) {}

  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const orphans = await removeOrphanRuns(CHAOS_LABEL, (runId) => workDirOf(runId));
    for (const orphan of orphans)
      options.log(`removed chaos run ${orphan.runId} left by process ${orphan.owner}, which no longer runs`);
    const image = await ensureImage(options.log);
    mkdirSync(TSX_CACHE_DIR, { recursive: true });
    const network = `flotilla-chaos-${options.runId}`;
    const owner = thisProcessOwner();
    await docker([
      'network',
      'create',
      '--label',
      `${CHAOS_LABEL}=${options.runId}`,
      '--label',
      `${OWNER_LABEL}=${owner}`,
      network,
    ]);
    const nodes: ChaosNode[] = [];
    const cluster = new ChaosCluster(options, image, network, nodes, owner);
    process.once('SIGINT', cluster.onSignal);
    process.once('SIGTERM', cluster.onSignal);
    try {
      const random = seededRandom(options.seed);
      for (const [kind, slot] of [
        ['pd', 1],
        ['pd', 2],
        ['pd', 3],
        ['store', 1],
        ['store', 2],
        ['store', 3],
      ] as const) {
        const name = `${kind}${slot}`;
        const hostProxy = new FaultProxy({
          name,
          listenHost: '127.0.0.1',
          listenPort: 0,
          target: { host: '127.0.0.1', port: 1 },
          random,
        });
        await hostProxy.listen();
        const dataDir = join(options.workDir, name);
        mkdirSync(dataDir, { recursive: true });
        nodes.push({
          name,
          kind,
          slot,
          virtualPort: hostProxy.port,
          dataDir,
          containerId: '',
          hostProxy,
          controlPort: 0,
          readyCount: 0,
        });
      }
      const smallDisk = options.smallDiskSizeMiB;
      if (smallDisk !== undefined) {
        await run('mount', [
          '-t',
          'tmpfs',
          '-o',
          `size=${smallDisk}m`,
          'tmpfs',
          cluster.node('store3').dataDir,
        ]);
      }
      await Promise.all(cluster.pds().map((node) => cluster.startContainer(node)));
      // The first store bootstraps the cluster; the others join it.
      await cluster.startContainer(cluster.node('store1'));
      await Promise.all([
        cluster.startContainer(cluster.node('store2')),
        cluster.startContainer(cluster.node('store3')),
      ]);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  node(name: string): ChaosNode {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new RangeError(`no node named ${name}`);
    return node;
  }

  pds(): ChaosNode[] {
    return this.nodes.filter((node) => node.kind === 'pd');
  }

  stores(): ChaosNode[] {
    return this.nodes.filter((node) => node.kind === 'store');
  }

  pdEndpoints(): string[] {
    return this.pds().map((node) => `127.0.0.1:${node.virtualPort}`);
  }

  /** The store node listening at `address` (what PD and the SDK call a store's address). */
  storeByAddress(address: string): ChaosNode | undefined {
    return this.stores().find((node) => `127.0.0.1:${node.virtualPort}` === address);
  }

  private nodeConfig(node: ChaosNode): NodeConfig {
    const routes: ProxyRoute[] = [
      {
        name: 'in',
        listenHost: '0.0.0.0',
        listenPort: INBOUND_PORT,
        targetHost: '127.0.0.1',
        targetPort: node.virtualPort,
      },
    ];
    for (const peer of this.nodes) {
      if (peer === node) continue;
      routes.push({
        name: peer.name,
        listenHost: '127.0.0.1',
        listenPort: peer.virtualPort,
        targetHost: this.alias(peer),
        targetPort: INBOUND_PORT,
      });
    }
    const address = `127.0.0.1:${node.virtualPort}`;
    const command =
      node.kind === 'pd'
        ? [
            'pd',
            '--member-id',
            String(node.slot),
            '--data-dir',
            '/data',
            '--initial-cluster',
            this.pds()
              .map((pd) => `${pd.slot}=127.0.0.1:${pd.virtualPort}`)
              .join(','),
            '--listen',
            address,
          ]
        : [
            'server',
            '--pd-endpoints',
            this.pdEndpoints().join(','),
            '--listen',
            address,
            '--data-dir',
            '/data',
          ];
    return {
      name: node.name,
      routes,
      controlPort: CONTROL_PORT,
      seed: this.options.seed * 16 + this.nodes.indexOf(node),
      flotillaEntry: `${APP_DIR}/server/src/cli/flotilla.ts`,
      command,
    };
  }

  private alias(node: ChaosNode): string {
    return `${node.name}-${this.options.runId}`;
  }

  private async startContainer(node: ChaosNode): Promise<void> {
    const container = await new GenericContainer(this.image)
      .withName(this.alias(node))
      .withNetworkMode(this.network)
      .withNetworkAliases(this.alias(node))
      .withLabels({
        [CHAOS_LABEL]: this.options.runId,
        [OWNER_LABEL]: this.owner,
        'flotilla-chaos.node': node.name,
      })
      .withBindMounts([
        { source: REPO_ROOT, target: APP_DIR, mode: 'ro' },
        { source: node.dataDir, target: '/data', mode: 'rw' },
        // tsx's compile cache, shared by the containers and kept between runs: a cold start
        // compiles the whole server in each of the six containers at once.
        { source: TSX_CACHE_DIR, target: '/cache', mode: 'rw' },
      ])
      .withTmpFs({ '/tmp': 'rw,size=256m' })
      .withWorkingDir(APP_DIR)
      .withEnvironment({
        CHAOS_NODE_CONFIG: JSON.stringify(this.nodeConfig(node)),
        HOME: '/tmp',
        TMPDIR: '/cache',
      })
      .withExposedPorts(INBOUND_PORT, CONTROL_PORT)
      .withEntrypoint(['/usr/bin/node'])
      .withCommand(['--import', 'tsx', `${APP_DIR}/tests/chaos/live/node/launcher.ts`])
      .withWaitStrategy(Wait.forLogMessage(/^READY /m).withStartupTimeout(READY_TIMEOUT_MS))
      .start();
    node.containerId = container.getId();
    node.readyCount = 1;
    await this.refreshPorts(node);
    this.options.log(`${node.name} ready (container ${node.containerId.slice(0, 12)})`);
  }

  /** Re-reads the mapped ports (they change when a container restarts) and aims the host proxy. */
  private async refreshPorts(node: ChaosNode): Promise<void> {
    const inbound = await this.mappedPort(node, INBOUND_PORT);
    node.controlPort = await this.mappedPort(node, CONTROL_PORT);
    node.hostProxy.setTarget({ host: '127.0.0.1', port: inbound });
  }

  private async mappedPort(node: ChaosNode, port: number): Promise<number> {
    const out = await docker(['port', node.containerId, `${port}/tcp`]);
    const match = /127\.0\.0\.1:(\d+)|0\.0\.0\.0:(\d+)/.exec(out);
    const found = Number(match?.[1] ?? match?.[2]);
    if (!Number.isInteger(found) || found <= 0)
      throw new Error(`no host port for ${node.name}:${port}: ${out}`);
    return found;
  }

  /** The container's init pid on the host (for nsenter into its network namespace). */
  async pid(node: ChaosNode): Promise<number> {
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', node.containerId])).trim());
    if (!(pid > 0)) throw new Error(`${node.name} has no running process`);
    return pid;
  }

  async ip(node: ChaosNode): Promise<string> {
    const out = await docker([
      'inspect',
      '-f',
      `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`,
      node.containerId,
    ]);
    const ip = out.trim();
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip))
      throw new Error(`${node.name} has no address on ${this.network}: ${out}`);
    return ip;
  }

  async isRunning(node: ChaosNode): Promise<boolean> {
    return (await docker(['inspect', '-f', '{{.State.Running}}', node.containerId])).trim() === 'true';
  }

  async kill(node: ChaosNode): Promise<void> {
    await docker(['kill', '--signal', 'KILL', node.containerId]);
  }

  /** Starts a stopped container on its data and waits for a new READY line. */
  async restart(node: ChaosNode): Promise<void> {
    await docker(['start', node.containerId]);
    const deadlineMs = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const logs = await docker(['logs', node.containerId]);
      const ready = logs.split('\n').filter((line) => line.startsWith('READY ')).length;
      if (ready > node.readyCount) {
        node.readyCount = ready;
        break;
      }
      if (!(await this.isRunning(node)))
        throw new Error(`${node.name} exited during restart:\n${logs.slice(-2000)}`);
      if (performance.now() > deadlineMs)
        throw new Error(`${node.name} not ready ${READY_TIMEOUT_MS} ms after restart`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.refreshPorts(node);
  }

  /**
   * `docker pause`; the cgroup v1 freezer sometimes gives up on a busy container ("unable
   * to freeze"), so a bounded number of attempts is made.
   */
  async pause(node: ChaosNode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await docker(['pause', node.containerId]);
        return;
      } catch (err) {
        if (attempt >= PAUSE_ATTEMPTS_MAX || !/unable to freeze/.test(String(err))) throw err;
        this.options.log(`${node.name}: docker pause failed to freeze (attempt ${attempt}), trying again`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async unpause(node: ChaosNode): Promise<void> {
    await docker(['unpause', node.containerId]);
  }

  /** Runs iptables inside the node's network namespace. */
  async iptables(node: ChaosNode, args: readonly string[]): Promise<void> {
    await run('nsenter', ['-t', String(await this.pid(node)), '-n', 'iptables', ...args]);
  }

  /** Faults on the proxies inside `node` toward `links` (peer names; all when absent). */
  async setNodeFaults(node: ChaosNode, faults: LinkFaults, links?: readonly string[]): Promise<void> {
    await this.control(node, '/faults', { faults, links });
  }

  /** Blocks the node's event loop for `durationMs` (returns when the stall is over). */
  async stall(node: ChaosNode, durationMs: number): Promise<void> {
    await this.control(node, '/stall', { durationMs });
  }

  private async control(node: ChaosNode, path: string, body: unknown): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${node.controlPort}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`${node.name} ${path}: ${response.status} ${await response.text()}`);
  }

  /** Clears every fault the suite may have left: proxies, iptables, pauses. */
  async healAll(): Promise<void> {
    for (const node of this.nodes) {
      node.hostProxy.setFaults(NO_FAULTS);
      const state = (await docker(['inspect', '-f', '{{.State.Status}}', node.containerId])).trim();
      if (state === 'paused') await this.unpause(node);
      if (state === 'exited') await this.restart(node);
      await this.iptables(node, ['-F']);
      await this.setNodeFaults(node, NO_FAULTS);
    }
  }

  /** The last lines a node printed (for failure reports). */
  async logs(node: ChaosNode, lines: number): Promise<string> {
    // The node's stderr (where a fatal error goes) comes out on docker's stderr: merge them.
    const command = `docker logs --tail ${Math.trunc(lines)} ${node.containerId} 2>&1`;
    return run('sh', ['-c', command]).catch((err: Error) => err.message);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    try {
      await removeLabelled(CHAOS_LABEL, this.options.runId);
    } finally {
      for (const node of this.nodes) await node.hostProxy.close();
      if (this.options.smallDiskSizeMiB !== undefined) {
        await run('umount', [this.node('store3').dataDir]).catch(() => undefined);
      }
      rmSync(this.options.workDir, { recursive: true, force: true });
    }
  }
}
