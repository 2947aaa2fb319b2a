// The shape of one simulated run, drawn from its seed: cluster size, Raft timing and
// options, snapshot cadence, client mix and fault cadence. Fixed bounds live here too, so
// every limit of the simulator is named in one place.
import type { ClientOptions } from './clients.js';
import type { FaultScheduleOptions } from './faults.js';
import type { MembershipBounds } from './membership.js';
import type { SimRandom } from './prng.js';
import type { Sabotage, SimNodeOptions } from './sim-node.js';

export interface SimConfig {
  readonly initialVoterCount: number;
  readonly membership: MembershipBounds;
  readonly node: SimNodeOptions;
  readonly clientCount: number;
  readonly client: ClientOptions;
  readonly faults: FaultScheduleOptions;
  /** Ticks after the heal within which the cluster must have settled (the liveness bound). */
  readonly settleTicks: number;
  /** A leader must be elected within this many ticks of the heal. */
  readonly electionAfterHealTicksMax: number;
  /** The last leader change must come at least this many ticks before the end of the run. */
  readonly stableLeaderTicksMin: number;
  /** Operations invoked this many ticks after the leader became stable must all complete. */
  readonly livenessGraceTicks: number;
  /** Clients start no operation in the last ticks of the run, so everything can drain. */
  readonly drainTicks: number;
  readonly linkQueueMessagesMax: number;
  /** Bound on messages delivered in one tick (the rest wait a tick). */
  readonly deliveriesPerTickMax: number;
  /** Nodes down at once, at most. */
  readonly nodesDownMax: number;
  /** Chance per node and tick that the disk flushes unsynced writes in the background. */
  readonly backgroundFlushPermille: number;
  /** Chance that a restart rebuilds the state machine from the snapshot and replays the log. */
  readonly restartFromSnapshotPermille: number;
  /** Every this many ticks the operator leaves an explicit joint configuration left standing. */
  readonly explicitJointCheckTicks: number;
}

export interface RunShape {
  /** Ticks of the fault phase; the heal comes after it. */
  readonly faultTicks: number;
  /** A bug planted on purpose (tests of the checkers). */
  readonly sabotage: Sabotage;
}

export function drawSimConfig(random: SimRandom, shape: RunShape): SimConfig {
  const poolSize = 7;
  const electionTimeoutTicks = random.intBetween(8, 14);
  // Lease reads are only safe with check quorum (a leader steps down when it loses its quorum).
  const checkQuorum = random.chancePermille(750);
  const dense = random.chancePermille(333);
  const initialVoterCount = random.pick([3, 3, 3, 4, 5]);
  const settleTicks = 30 * electionTimeoutTicks;
  return {
    initialVoterCount,
    membership: {
      votersMin: 3,
      votersMax: 5,
      poolIds: Array.from({ length: poolSize }, (_, i) => i + 1),
    },
    node: {
      electionTimeoutTicks,
      heartbeatIntervalTicks: random.intBetween(1, 3),
      preVote: random.chancePermille(600),
      checkQuorum,
      leaseClockDriftMarginTicks: 2,
      snapshotIntervalEntries: random.intBetween(20, 50),
      compactionKeepEntries: random.intBetween(1, 8),
      pendingReadsMax: 64,
      inboxMessagesMax: 256,
      readyRoundsMax: 8,
      sabotage: shape.sabotage,
    },
    clientCount: random.intBetween(2, 4),
    client: {
      keys: ['k0', 'k1', 'k2', 'k3', 'k4'],
      requestTimeoutTicks: 4 * electionTimeoutTicks,
      attemptsMax: 3 * electionTimeoutTicks,
      thinkTicksMax: random.intBetween(0, 6),
      readPermille: random.intBetween(300, 600),
      leaseReadPermille: checkQuorum ? 300 : 0,
      staleReadPermille: 100,
      anyReplicaReadPermille: 400,
    },
    faults: {
      startTick: 3 * electionTimeoutTicks,
      endTick: shape.faultTicks,
      // A third of the seeds get a dense schedule (faults overlap constantly).
      gapTicksMin: dense ? Math.ceil(electionTimeoutTicks / 2) : 2 * electionTimeoutTicks,
      gapTicksMax: dense ? 3 * electionTimeoutTicks : 10 * electionTimeoutTicks,
      electionTimeoutTicks,
      faultsMax: 1000,
    },
    settleTicks,
    electionAfterHealTicksMax: 20 * electionTimeoutTicks,
    stableLeaderTicksMin: 10 * electionTimeoutTicks,
    livenessGraceTicks: 2 * electionTimeoutTicks,
    drainTicks: 8 * electionTimeoutTicks,
    linkQueueMessagesMax: 64,
    deliveriesPerTickMax: 4096,
    nodesDownMax: 2,
    backgroundFlushPermille: 100,
    restartFromSnapshotPermille: 300,
    explicitJointCheckTicks: 3 * electionTimeoutTicks,
  };
}
