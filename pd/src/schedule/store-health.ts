// How PD judges a store from its registration and its heartbeats:
//   up           heartbeating; may receive replicas and leaders.
//   disconnected silent for storeDisconnectedTimeMs: gets nothing new (it may just be
//                restarting), but its replicas stay.
//   down         silent for maxStoreDownTimeMs: its replicas are replaced elsewhere.
//   offline      being decommissioned: its replicas move away, it gets nothing new.
//   tombstone    gone for good.
// After a PD leader change no heartbeat has reached the new leader yet: silence is counted
// from when this member began to lead, so a failover never makes every store look down.
import { metapb } from '@flotilla/proto';
import type { StoreInfo } from '../cluster/store-directory.js';
import type { ScheduleConfig } from './schedule-config.js';

export type StoreHealth = 'up' | 'disconnected' | 'down' | 'offline' | 'tombstone';

export function storeHealth(
  info: StoreInfo,
  nowUnixMs: number,
  leaderSinceUnixMs: number,
  config: Pick<ScheduleConfig, 'maxStoreDownTimeMs' | 'storeDisconnectedTimeMs'>,
): StoreHealth {
  if (info.store.state === metapb.StoreState.TOMBSTONE) return 'tombstone';
  const lastHeardMs = Math.max(info.heartbeatAtUnixMs, leaderSinceUnixMs);
  const silentMs = nowUnixMs - lastHeardMs;
  if (silentMs >= config.maxStoreDownTimeMs) return 'down';
  if (info.store.state === metapb.StoreState.OFFLINE) return 'offline';
  if (silentMs >= config.storeDisconnectedTimeMs) return 'disconnected';
  return 'up';
}

/** Whether the store's replicas must be moved elsewhere. */
export function mustEvacuate(health: StoreHealth | undefined): boolean {
  return health === undefined || health === 'down' || health === 'offline' || health === 'tombstone';
}
