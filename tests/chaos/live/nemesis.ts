// The fault menu: each nemesis has a name, a start and a heal, and works on the live
// cluster only through ChaosCluster (docker kill/pause/start, iptables in a container's
// network namespace, the fault proxies, the stall hook). Targets that depend on the
// cluster's state (the region leader's store, the PD leader) are looked up at start.
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosCluster, ChaosNode } from './cluster.js';
import { NO_FAULTS } from './proxy/fault-proxy.js';
import type { PdClient } from '../../../server/src/pd-client/pd-client.js';

export interface NemesisContext {
  readonly cluster: ChaosCluster;
  readonly pd: PdClient;
  /** A key of the workload: its region's leader is "the leader". */
  readonly probeKey: string;
  readonly log: (line: string) => void;
}

export interface Nemesis {
  readonly name: string;
  start(context: NemesisContext): Promise<string>;
  heal(context: NemesisContext): Promise<void>;
}

/**
 * How long to wait for PD to name the region's leader: right after a restart it may have
 * none yet (a 300 s run stopped on that once, after a store took 19 s to restart).
 */
const LEADER_WAIT_MS = 30_000;
const LEADER_POLL_MS = 200;

async function leaderStoreId(context: NemesisContext): Promise<number> {
  const deadlineMs = performance.now() + LEADER_WAIT_MS;
  for (;;) {
    const region = await context.pd.getRegion(Buffer.from(context.probeKey));
    const storeId = Number(region.region?.leader?.storeId ?? 0);
    if (storeId !== 0) return storeId;
    if (performance.now() > deadlineMs)
      throw new Error(`PD named no leader for the workload region within ${LEADER_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
  }
}

export async function leaderStore(context: NemesisContext): Promise<ChaosNode> {
  const storeId = await leaderStoreId(context);
  const store = await context.pd.getStore(storeId);
  const node = context.cluster.storeByAddress(store.store?.address ?? '');
  if (node === undefined) throw new Error(`leader store ${storeId} is not one of the run's nodes`);
  return node;
}

async function followerStore(context: NemesisContext): Promise<ChaosNode> {
  const leader = await leaderStore(context);
  const follower = context.cluster.stores().find((node) => node !== leader);
  if (follower === undefined) throw new Error('no follower store');
  return follower;
}

async function pdLeader(context: NemesisContext): Promise<ChaosNode> {
  const members = await context.pd.getMembers();
  const id = Number(members.leader?.memberId ?? 0);
  const node = context.cluster.pds().find((pd) => pd.slot === id);
  if (node === undefined) throw new Error(`PD names leader ${id}, not one of the run's members`);
  return node;
}

/** A nemesis whose targets are chosen at start and remembered for the heal. */
function targeted(
  name: string,
  choose: (context: NemesisContext) => Promise<ChaosNode[]>,
  act: (context: NemesisContext, targets: ChaosNode[]) => Promise<void>,
  undo: (context: NemesisContext, targets: ChaosNode[]) => Promise<void>,
): Nemesis {
  let targets: ChaosNode[] = [];
  return {
    name,
    async start(context) {
      targets = await choose(context);
      await act(context, targets);
      return targets.map((node) => node.name).join(',');
    },
    async heal(context) {
      await undo(context, targets);
      targets = [];
    },
  };
}

const kill = (context: NemesisContext, nodes: ChaosNode[]): Promise<void> =>
  Promise.all(nodes.map((node) => context.cluster.kill(node))).then(() => undefined);
/** Restarts the nodes at once: one after the other took 15 s for two stores on a busy machine. */
const restart = (context: NemesisContext, nodes: ChaosNode[]): Promise<void> =>
  Promise.all(nodes.map((node) => context.cluster.restart(node))).then(() => undefined);

/** Drops traffic between `node` and each of `peers` inside node's namespace. */
async function cut(
  context: NemesisContext,
  node: ChaosNode,
  peers: ChaosNode[],
  direction: 'both' | 'out',
): Promise<void> {
  for (const peer of peers) {
    const ip = await context.cluster.ip(peer);
    await context.cluster.iptables(node, ['-A', 'OUTPUT', '-d', ip, '-j', 'DROP']);
    if (direction === 'both') await context.cluster.iptables(node, ['-A', 'INPUT', '-s', ip, '-j', 'DROP']);
  }
}

async function uncut(context: NemesisContext, nodes: ChaosNode[]): Promise<void> {
  for (const node of nodes) await context.cluster.iptables(node, ['-F']);
}

const FILLER_NAME = 'chaos-filler.bin';
/** Lines of a store's output kept in the report when it died on a full disk. */
const DEATH_LOG_LINES = 25;

export const NEMESES: Readonly<Record<string, () => Nemesis>> = {
  'kill-store': () => targeted('kill-store', async (c) => [await followerStore(c)], kill, restart),
  'kill-leader': () => targeted('kill-leader', async (c) => [await leaderStore(c)], kill, restart),
  'kill-pd-leader': () => targeted('kill-pd-leader', async (c) => [await pdLeader(c)], kill, restart),
  'kill-two-stores': () =>
    targeted(
      'kill-two-stores',
      async (c) => {
        const leader = await leaderStore(c);
        const other = c.cluster.stores().find((node) => node !== leader);
        if (other === undefined) throw new Error('no second store');
        return [leader, other];
      },
      kill,
      restart,
    ),
  'pause-leader': () =>
    targeted(
      'pause-leader',
      async (c) => [await leaderStore(c)],
      (c, [node]) => c.cluster.pause(node as ChaosNode),
      (c, [node]) => c.cluster.unpause(node as ChaosNode),
    ),
  'pause-follower': () =>
    targeted(
      'pause-follower',
      async (c) => [await followerStore(c)],
      (c, [node]) => c.cluster.pause(node as ChaosNode),
      (c, [node]) => c.cluster.unpause(node as ChaosNode),
    ),
  /** One follower store cut off from every other node, both ways (clients still reach it). */
  'partition-follower': () =>
    targeted(
      'partition-follower',
      async (c) => [await followerStore(c)],
      (c, [node]) =>
        cut(
          c,
          node as ChaosNode,
          c.cluster.nodes.filter((peer) => peer !== node),
          'both',
        ),
      uncut,
    ),
  /** The leader cannot reach a follower; the follower still reaches the leader. */
  'partition-asymmetric': () =>
    targeted(
      'partition-asymmetric',
      async (c) => [await leaderStore(c), await followerStore(c)],
      (c, [leader, follower]) => cut(c, leader as ChaosNode, [follower as ChaosNode], 'out'),
      (c, [leader]) => uncut(c, [leader as ChaosNode]),
    ),
  /** The leader's store loses both other stores; clients and PD still reach it. */
  'partition-leader': () =>
    targeted(
      'partition-leader',
      async (c) => [await leaderStore(c)],
      (c, [node]) =>
        cut(
          c,
          node as ChaosNode,
          c.cluster.stores().filter((peer) => peer !== node),
          'both',
        ),
      uncut,
    ),
  /** A follower store cut off from every PD member. */
  'partition-pd': () =>
    targeted(
      'partition-pd',
      async (c) => [await followerStore(c)],
      (c, [node]) => cut(c, node as ChaosNode, c.cluster.pds(), 'both'),
      uncut,
    ),
  /** 75 ± 50 ms on every link out of the leader's store and on the clients' links to it. */
  delay: () =>
    targeted(
      'delay',
      async (c) => [await leaderStore(c)],
      async (c, [node]) => {
        const faults = { ...NO_FAULTS, latencyMs: 75, jitterMs: 50 };
        await c.cluster.setNodeFaults(node as ChaosNode, faults);
        (node as ChaosNode).hostProxy.setFaults(faults);
      },
      async (c, [node]) => {
        await c.cluster.setNodeFaults(node as ChaosNode, NO_FAULTS);
        (node as ChaosNode).hostProxy.setFaults(NO_FAULTS);
      },
    ),
  /** A fifth of new connections to every store reset, and the links slowed to 256 KiB/s. */
  'flaky-links': () =>
    targeted(
      'flaky-links',
      async (c) => c.cluster.stores(),
      async (c, nodes) => {
        for (const node of nodes)
          await c.cluster.setNodeFaults(node, {
            ...NO_FAULTS,
            connectionDropFraction: 0.2,
            bandwidthBytesPerSecond: 256 * 1024,
          });
      },
      async (c, nodes) => {
        for (const node of nodes) await c.cluster.setNodeFaults(node, NO_FAULTS);
      },
    ),
  /**
   * Store 3's data dir is a small tmpfs: a filler file takes what is left. A full store
   * refuses writes with DiskFull and stays up; should it die anyway, the heal (which frees
   * the space) restarts it and says so in the log.
   */
  'disk-full': () =>
    targeted(
      'disk-full',
      async (c) => [c.cluster.node('store3')],
      async (_c, [node]) => {
        const path = join((node as ChaosNode).dataDir, FILLER_NAME);
        const chunk = Buffer.alloc(1024 * 1024, 0x5a);
        try {
          for (let i = 0; i < 1024; i++) writeFileSync(path, chunk, { flag: 'a' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        }
      },
      async (c, [node]) => {
        rmSync(join((node as ChaosNode).dataDir, FILLER_NAME), { force: true });
        if (!(await c.cluster.isRunning(node as ChaosNode))) {
          const tail = await c.cluster.logs(node as ChaosNode, DEATH_LOG_LINES);
          c.log(`${(node as ChaosNode).name} died on the full disk; its last lines:\n${tail}\nrestarting it`);
          await c.cluster.restart(node as ChaosNode);
        }
      },
    ),
  /** The leader's event loop blocked for 2 s (ticks stall while its lease would run). */
  'clock-stall': () =>
    targeted(
      'clock-stall',
      async (c) => [await leaderStore(c)],
      async (c, [node]) => {
        // Not awaited: the stall answers only when it ends; heal waits for it.
        stalls.set(node as ChaosNode, c.cluster.stall(node as ChaosNode, 2_000));
      },
      async (_c, [node]) => {
        await stalls.get(node as ChaosNode);
        stalls.delete(node as ChaosNode);
      },
    ),
};

const stalls = new Map<ChaosNode, Promise<void>>();

export function nemesisNamed(name: string): Nemesis {
  const make = NEMESES[name];
  if (make === undefined)
    throw new RangeError(`unknown fault '${name}' (known: ${Object.keys(NEMESES).join(', ')})`);
  return make();
}
