// Graceful hand-over before a store stops: every region this store leads transfers its
// leadership to the most up-to-date other voter (thesis §3.10), and the drain waits, with a
// bound, until another peer leads. Clients then get NotLeader with the new leader as hint
// and move on at once, instead of waiting out an election timeout after the store is gone.
import type { PeerProgressStatus, RaftStatus } from '@flotilla/raft';
import type { RegionError } from '../store/region-error.js';
import { describeRegionError } from '../store/region-error.js';
import type { PeerMeta } from '../store/region-meta.js';

/** The part of a region peer the drain reads (RegionPeer satisfies it). */
export interface DrainablePeer {
  readonly regionId: number;
  readonly peerId: number;
  readonly region: { readonly peers: readonly PeerMeta[] };
  readonly node: { status(): Pick<RaftStatus, 'role' | 'leaderId' | 'lastIndex' | 'progress'> };
}

/** The part of a store the drain drives (Store satisfies it). */
export interface DrainableStore {
  allRegions(): readonly DrainablePeer[];
  transferLeader(regionId: number, toPeerId: number): RegionError | undefined;
}

export interface DrainOptions {
  /** Give up on a region after this long (suggested: twice the election timeout). */
  readonly timeoutMs: number;
  /** How often to look whether leadership moved (suggested: the tick interval). */
  readonly pollIntervalMs: number;
  /**
   * When to ask again if leadership has not moved; the core aborts a transfer that has not
   * finished within an election timeout, so this is about one election timeout.
   */
  readonly retryIntervalMs: number;
  readonly nowMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (line: string) => void;
}

export interface DrainReport {
  /** Regions another peer leads now. */
  readonly movedRegionIds: readonly number[];
  /** Regions still led here at the deadline, or with no voter to hand over to. */
  readonly stuckRegionIds: readonly number[];
}

/** Hands over every region led here; resolves when all moved or their time ran out. Never rejects. */
export async function drainLeadership(store: DrainableStore, options: DrainOptions): Promise<DrainReport> {
  if (!(options.timeoutMs >= 0 && options.pollIntervalMs > 0 && options.retryIntervalMs > 0)) {
    throw new RangeError(`drainLeadership: bad options ${JSON.stringify(options)}`);
  }
  const led = store.allRegions().filter((peer) => peer.node.status().role === 'leader');
  const outcomes = await Promise.all(led.map((peer) => drainRegion(store, peer, options)));
  const movedRegionIds = led.filter((_, i) => outcomes[i]).map((peer) => peer.regionId);
  const stuckRegionIds = led.filter((_, i) => !outcomes[i]).map((peer) => peer.regionId);
  return { movedRegionIds, stuckRegionIds };
}

async function drainRegion(
  store: DrainableStore,
  peer: DrainablePeer,
  options: DrainOptions,
): Promise<boolean> {
  const now = options.nowMs ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = options.log ?? (() => undefined);
  const deadline = now() + options.timeoutMs;
  let nextAttemptAt = now();
  // Bounded by the deadline; the count bounds it even if the injected clock stands still.
  const pollsMax = Math.ceil(options.timeoutMs / options.pollIntervalMs) + 1;
  for (let poll = 0; poll < pollsMax && now() <= deadline; poll++) {
    const status = peer.node.status();
    if (leadershipMoved(peer, status)) return true;
    if (status.role === 'leader' && now() >= nextAttemptAt) {
      const target = chooseTransferTarget(peer, status);
      if (target === undefined) {
        log(`region ${peer.regionId}: no other up-to-date voter to hand leadership to`);
        return false;
      }
      const refused = store.transferLeader(peer.regionId, target);
      if (refused !== undefined)
        log(`region ${peer.regionId}: transfer refused: ${describeRegionError(refused)}`);
      nextAttemptAt = now() + options.retryIntervalMs;
    }
    await sleep(options.pollIntervalMs);
  }
  const status = peer.node.status();
  if (leadershipMoved(peer, status)) return true;
  log(`region ${peer.regionId}: leadership did not move within ${options.timeoutMs} ms`);
  return status.role !== 'leader';
}

/** Another peer leads (we know which): our step-down alone is not enough, a leaderless region is no hand-over. */
function leadershipMoved(peer: DrainablePeer, status: Pick<RaftStatus, 'role' | 'leaderId'>): boolean {
  return status.role !== 'leader' && status.leaderId !== 0 && status.leaderId !== peer.peerId;
}

/**
 * The voter to hand over to: the most caught-up one the leader heard from recently (a
 * transfer to a lagging peer first waits for it to catch up; to a dead one, it times out).
 */
export function chooseTransferTarget(
  peer: DrainablePeer,
  status: Pick<RaftStatus, 'lastIndex' | 'progress'>,
): number | undefined {
  const voters = new Set(
    peer.region.peers.filter((p) => p.role === 'voter' && p.id !== peer.peerId).map((p) => p.id),
  );
  const rank = (p: PeerProgressStatus): number =>
    (p.recentActive ? 2 : 0) + (p.match === status.lastIndex ? 1 : 0);
  const candidates = status.progress
    .filter((p) => voters.has(p.id) && !p.isLearner)
    .sort((a, b) => rank(b) - rank(a) || b.match - a.match || a.id - b.id);
  return candidates[0]?.id;
}
