// The fault schedule: what goes wrong, and when, during the fault phase of a run. The
// schedule is a timeline drawn from the seed up front (kinds, ticks, durations); the concrete
// victims (which node crashes, which voter is swapped out) are drawn when the fault fires,
// from the same seeded stream, because they depend on the cluster's state at that moment.
import type { NetworkConditions } from './network.js';
import type { SimRandom } from './prng.js';
import type { CrashPoint } from './sim-node.js';
import { crashPoints } from './sim-node.js';

export type FaultKind =
  | 'partition'
  | 'oneWayPartition'
  | 'isolate'
  | 'cutLink'
  | 'network'
  | 'slowNode'
  | 'crash'
  | 'membership'
  | 'transferLeader';

export interface ScheduledFault {
  readonly tick: number;
  readonly kind: FaultKind;
  /** How long the fault lasts (partitions, network conditions, slowness, downtime). */
  readonly durationTicks: number;
  /** For 'network': the conditions while it lasts. */
  readonly conditions: NetworkConditions | null;
  /** For 'crash': where in the Ready pipeline the node dies ('idle' = at once). */
  readonly crashPoint: CrashPoint | 'idle';
  /** For 'slowNode': the node handles its messages once every `slowFactor` ticks. */
  readonly slowFactor: number;
}

export interface FaultScheduleOptions {
  /** The first tick a fault may fire (the cluster elects its first leader before). */
  readonly startTick: number;
  /** Faults fire before this tick; everything heals at it. */
  readonly endTick: number;
  readonly gapTicksMin: number;
  readonly gapTicksMax: number;
  readonly electionTimeoutTicks: number;
  /** Bound on faults in one schedule. */
  readonly faultsMax: number;
}

/** Relative weights of the fault kinds. */
const kindWeights: readonly (readonly [FaultKind, number])[] = [
  ['partition', 3],
  ['oneWayPartition', 2],
  ['isolate', 2],
  ['cutLink', 2],
  ['network', 3],
  ['slowNode', 2],
  ['crash', 4],
  ['membership', 4],
  ['transferLeader', 2],
];

export function generateFaultSchedule(random: SimRandom, options: FaultScheduleOptions): ScheduledFault[] {
  if (
    options.endTick <= options.startTick ||
    options.gapTicksMin < 1 ||
    options.gapTicksMax < options.gapTicksMin
  ) {
    throw new Error(`generateFaultSchedule: bad options ${JSON.stringify(options)}`);
  }
  const schedule: ScheduledFault[] = [];
  const totalWeight = kindWeights.reduce((sum, [, weight]) => sum + weight, 0);
  const electionTicks = options.electionTimeoutTicks;
  let tick = options.startTick + random.intBetween(0, options.gapTicksMax);
  while (tick < options.endTick && schedule.length < options.faultsMax) {
    let draw = random.nextInt(totalWeight);
    let kind: FaultKind = 'partition';
    for (const [candidate, weight] of kindWeights) {
      if (draw < weight) {
        kind = candidate;
        break;
      }
      draw -= weight;
    }
    schedule.push({
      tick,
      kind,
      durationTicks: random.intBetween(electionTicks, 12 * electionTicks),
      conditions: kind === 'network' ? drawConditions(random) : null,
      crashPoint: random.chancePermille(200) ? 'idle' : random.pick(crashPoints),
      slowFactor: random.intBetween(2, 5),
    });
    tick += random.intBetween(options.gapTicksMin, options.gapTicksMax);
  }
  return schedule;
}

function drawConditions(random: SimRandom): NetworkConditions {
  const delayTicksMin = random.intBetween(1, 3);
  return {
    delayTicksMin,
    delayTicksMax: delayTicksMin + random.intBetween(0, 7),
    lossPermille: random.chancePermille(700) ? random.intBetween(0, 250) : 0,
    duplicatePermille: random.chancePermille(500) ? random.intBetween(0, 150) : 0,
    longDelayPermille: random.chancePermille(400) ? random.intBetween(1, 30) : 0,
    longDelayTicksMax: random.intBetween(20, 300),
  };
}

/** Splits `ids` into two non-empty sides (when there are at least two ids). */
export function splitInTwo<T>(random: SimRandom, ids: readonly T[]): [T[], T[]] {
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const a = shuffled[i] as T;
    shuffled[i] = shuffled[j] as T;
    shuffled[j] = a;
  }
  const cut = shuffled.length < 2 ? shuffled.length : random.intBetween(1, shuffled.length - 1);
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}
