// The liveness check at the end of a run: after the heal a leader is elected within a bound,
// leadership settles, every client operation invoked once it settled is answered, and every
// member converges on the leader's state. The watch is fed the leader tick by tick from the heal.
import type { ConfState, NodeId } from '../../../raft/src/index.js';
import type { SimClient } from './clients.js';
import { membersOf } from './membership.js';
import type { SimConfig } from './sim-config.js';
import type { SimNode } from './sim-node.js';
import type { SimFailure } from './sim-result.js';

/** The cluster as it stands at the end of the run. */
export interface LivenessInput {
  readonly tick: number;
  readonly leader: SimNode | null;
  /** The latest committed configuration. */
  readonly confState: ConfState;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly clients: readonly SimClient[];
}

export class LivenessWatch {
  private firstLeaderAfterHealTick: number | null = null;
  private stableLeader: { id: NodeId; term: number; sinceTick: number } | null = null;

  constructor(
    private readonly config: SimConfig,
    private readonly healTick: number,
  ) {}

  /**
   * Without pre-vote, nodes rejoining with stale logs can split a few elections after the heal,
   * so the bound is on the election (a leader within electionAfterHealTicksMax) and on service
   * once leadership is stable: every operation invoked after that must complete.
   */
  check(end: LivenessInput): SimFailure | null {
    const fail = (message: string): SimFailure => ({ kind: 'liveness', tick: end.tick, message });
    const leader = end.leader;
    if (leader === null)
      return fail(`no leader at the end, ${end.tick - this.healTick} ticks after the heal`);
    const firstLeaderTick = this.firstLeaderAfterHealTick ?? end.tick;
    if (firstLeaderTick - this.healTick > this.config.electionAfterHealTicksMax) {
      return fail(`the first leader after the heal at tick ${this.healTick} came at tick ${firstLeaderTick}`);
    }
    const stableSince = this.stableLeader?.sinceTick ?? end.tick;
    if (end.tick - stableSince < this.config.stableLeaderTicksMin) {
      return fail(
        `leadership still changing at tick ${stableSince}, ${end.tick - this.healTick} ticks after the heal`,
      );
    }
    if (!end.confState.voters.includes(leader.id)) return fail(`leader ${leader.id} is not a voter`);
    if (leader.kv.confState.votersOutgoing.length > 0)
      return fail('still in a joint configuration at the end');
    const deadline = stableSince + this.config.livenessGraceTicks;
    for (const client of end.clients) {
      if (client.busy) return fail(`client ${client.id} still waits on an operation at the end`);
      const failed = client.outcomes.find(
        (outcome) => outcome.invokeTick >= deadline && !outcome.completed && !outcome.nodeRemoved,
      );
      if (failed !== undefined) {
        return fail(
          `client ${client.id}'s operation invoked at tick ${failed.invokeTick} failed (leader stable since tick ${stableSince})`,
        );
      }
    }
    return checkConvergence(end, leader);
  }

  /** After the heal: notes when a leader first appears and since when it has not changed. */
  observe(tick: number, leader: SimNode | null): void {
    if (leader === null) {
      this.stableLeader = null;
      return;
    }
    this.firstLeaderAfterHealTick ??= tick;
    const term = leader.node.basicStatus().term;
    if (this.stableLeader === null || this.stableLeader.id !== leader.id || this.stableLeader.term !== term) {
      this.stableLeader = { id: leader.id, term, sinceTick: tick };
    }
  }
}

function checkConvergence(end: LivenessInput, leader: SimNode): SimFailure | null {
  const commit = leader.node.basicStatus().commit;
  const state = leader.kv.encode();
  for (const id of membersOf(end.confState)) {
    const node = end.nodes.get(id);
    if (node === undefined || !node.up) {
      return { kind: 'liveness', tick: end.tick, message: `member ${id} is not running after the heal` };
    }
    if (node.kv.appliedIndex !== commit || !sameBytes(node.kv.encode(), state)) {
      return {
        kind: 'liveness',
        tick: end.tick,
        message: `member ${id} applied ${node.kv.appliedIndex}, leader ${leader.id} committed ${commit}: not converged`,
      };
    }
  }
  return null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
