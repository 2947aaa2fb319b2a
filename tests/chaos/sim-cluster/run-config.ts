// The shape of one run, drawn from its seed, and every bound of the simulation in one place.
import type { StoreConfig } from '../../../server/src/store/store-config.js';
import type { ScheduleConfig } from '../../../pd/src/schedule/schedule-config.js';
import { kvpb } from '@flotilla/proto';
import { SimRandom } from '../sim/prng.js';

export interface RunOptions {
  readonly seed: number;
  /** Ticks of the fault phase (the heal and settle phases come on top). */
  readonly faultTicks: number;
  readonly trace: ((line: string) => void) | null;
}

export const DEFAULT_FAULT_TICKS = 1200;

export interface RunConfig {
  readonly storesCount: number;
  readonly clientsCount: number;
  /** Keys the clients use: "k000".."k<keysCount-1>", spread so splits fall between them. */
  readonly keysCount: number;
  /** Chance per tick (permille) that an idle client starts an operation. */
  readonly opStartPermille: number;
  readonly opTimeoutTicks: number;
  readonly readConsistency: kvpb.ReadConsistency;
  readonly store: Partial<StoreConfig>;
  readonly schedule: Partial<ScheduleConfig>;
  /** Ticks between split-checker passes on every store. */
  readonly splitCheckTicks: number;
  /** Ticks between fault events (drawn again after each). */
  readonly faultGapTicksMin: number;
  readonly faultGapTicksMax: number;
  /** Stores down at once at most. */
  readonly crashedMax: number;
  readonly regionHeartbeatTicks: number;
  readonly storeHeartbeatTicks: number;
  /** Ticks between incremental invariant checks. */
  readonly checkEveryTicks: number;
  /** After the heal: ticks for every region to have a leader and PD to cover the key space. */
  readonly settleTicksMax: number;
  /** Linearizability search bound per key. */
  readonly linearizabilityStepsMax: number;
}

export function drawRunConfig(seed: number): RunConfig {
  const random = new SimRandom(seed).fork(0xc0f1);
  const storesCount = random.intBetween(3, 5);
  const electionTimeoutTicks = 10;
  const snapshotIntervalEntries = random.intBetween(30, 150);
  return {
    storesCount,
    clientsCount: random.intBetween(2, 4),
    keysCount: random.intBetween(16, 48),
    opStartPermille: random.intBetween(150, 500),
    opTimeoutTicks: random.intBetween(40, 80),
    readConsistency: random.chancePermille(300)
      ? kvpb.ReadConsistency.LEASE
      : kvpb.ReadConsistency.LINEARIZABLE,
    store: {
      electionTimeoutTicks,
      heartbeatIntervalTicks: 3,
      snapshotIntervalEntries,
      compactionKeepEntries: random.intBetween(2, Math.min(20, snapshotIntervalEntries - 1)),
      regionSplitKeys: random.intBetween(5, 14),
      hibernateRegions: random.chancePermille(500),
    },
    schedule: {
      maxReplicas: 3,
      maxStoreDownTimeMs: random.intBetween(1500, 6000),
      storeDisconnectedTimeMs: 800,
      stepResendIntervalMs: 500,
      operatorTimeoutMs: 8000,
      balanceIntervalMs: 300,
      balanceTolerance: random.intBetween(1, 2),
      // PD merges small neighbours back soon after they split (sizes here are a few KB).
      splitMergeIntervalMs: random.intBetween(1_000, 6_000),
    },
    splitCheckTicks: random.intBetween(20, 60),
    faultGapTicksMin: 15,
    faultGapTicksMax: random.chancePermille(300) ? 40 : 100,
    crashedMax: storesCount >= 5 ? 2 : 1,
    regionHeartbeatTicks: 20,
    storeHeartbeatTicks: 10,
    checkEveryTicks: 10,
    settleTicksMax: 800,
    linearizabilityStepsMax: 2_000_000,
  };
}

export function keyName(index: number): string {
  return `k${String(index).padStart(3, '0')}`;
}
