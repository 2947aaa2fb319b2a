// Which peers of a region its leader counts as lagging (PD's "pending peers": a snapshot on
// its way, or a log that ends before the leader's truncation point, so only a snapshot can
// catch it up), and the leader's tally of lagging learners, so that the store tells PD the
// moment one catches up (PD promotes a learner only once no report lists it lagging; waiting
// for the next periodic report cost up to a whole report period per replica added). TiKV's
// leader likewise sends a region heartbeat when a pending peer catches up.
import type { RaftStatus } from '@flotilla/raft';
import type { PeerMeta } from './region-meta.js';

/** Ids of the peers (the leader aside) that need a snapshot or are receiving one. */
export function laggingPeerIds(status: RaftStatus, truncatedIndex: number): number[] {
  if (!Number.isSafeInteger(truncatedIndex) || truncatedIndex < 0)
    throw new RangeError(`laggingPeerIds: bad truncated index ${truncatedIndex}`);
  const out: number[] = [];
  for (const pr of status.progress) {
    if (pr.id === status.id) continue;
    if (pr.state === 'snapshot' || pr.match < truncatedIndex) out.push(pr.id);
  }
  return out;
}

/** How many learners of `peers` are lagging (see laggingPeerIds). */
export function laggingLearnersCount(
  status: RaftStatus,
  truncatedIndex: number,
  peers: readonly PeerMeta[],
): number {
  const lagging = new Set(laggingPeerIds(status, truncatedIndex));
  let count = 0;
  for (const p of peers) if (p.role === 'learner' && lagging.has(p.id)) count++;
  return count;
}
