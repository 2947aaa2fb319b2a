// Chooses the next membership change the fault schedule proposes, from the leader's current
// configuration: add a fresh learner, promote a learner, demote or remove a voter, remove a
// learner, or swap a learner and a voter through joint consensus (implicitly or explicitly
// left). Voters stay within [votersMin, votersMax]. Removed ids are retired for good: a peer
// id is never reused, as in TiKV, so a wiped node can never vote twice in one term.
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from '../../../raft/src/index.js';
import type { SimRandom } from './prng.js';

export interface MembershipBounds {
  readonly votersMin: number;
  readonly votersMax: number;
  /** Every id a node of this run may have. */
  readonly poolIds: readonly NodeId[];
}

const noContext = new Uint8Array(0);

/**
 * The change to propose, or null when none fits (e.g. a joint configuration is still being
 * left automatically). `retired` holds ids that were members once and are gone.
 */
export function chooseMembershipChange(
  random: SimRandom,
  confState: ConfState,
  retired: ReadonlySet<NodeId>,
  bounds: MembershipBounds,
): ConfChange | null {
  if (confState.votersOutgoing.length > 0) {
    // Joint: only an explicit joint configuration needs a proposal to be left.
    return confState.autoLeave ? null : change('auto', []);
  }
  const voters = confState.voters.filter((id) => !retired.has(id));
  const learners = confState.learners.filter((id) => !retired.has(id));
  const fresh = bounds.poolIds.filter(
    (id) => !voters.includes(id) && !learners.includes(id) && !retired.has(id),
  );
  const options: (() => ConfChange)[] = [];
  if (fresh.length > 0)
    options.push(() => change('auto', [{ type: 'addLearner', nodeId: random.pick(fresh) }]));
  if (learners.length > 0 && voters.length < bounds.votersMax) {
    options.push(() => change('auto', [{ type: 'addVoter', nodeId: random.pick(learners) }]));
  }
  if (learners.length > 0)
    options.push(() => change('auto', [{ type: 'removeNode', nodeId: random.pick(learners) }]));
  if (voters.length > bounds.votersMin) {
    options.push(() => change('auto', [{ type: 'addLearner', nodeId: random.pick(voters) }]));
    options.push(() => change('auto', [{ type: 'removeNode', nodeId: random.pick(voters) }]));
  }
  if (learners.length > 0 && voters.length >= bounds.votersMin) {
    options.push(() => {
      const incoming = random.pick(learners);
      const outgoing = random.pick(voters);
      const outgoingChange: ConfChangeSingle = random.chancePermille(500)
        ? { type: 'removeNode', nodeId: outgoing }
        : { type: 'addLearner', nodeId: outgoing };
      const transition = random.chancePermille(300)
        ? 'jointExplicit'
        : random.pick(['auto', 'jointImplicit'] as const);
      return change(transition, [{ type: 'addVoter', nodeId: incoming }, outgoingChange]);
    });
  }
  if (options.length === 0) return null;
  return random.pick(options)();
}

function change(transition: ConfChange['transition'], changes: ConfChangeSingle[]): ConfChange {
  return { transition, changes, context: noContext };
}

/** Every id named by a configuration (both halves of a joint one, and learners to be). */
export function membersOf(confState: ConfState): NodeId[] {
  const ids = new Set<NodeId>([
    ...confState.voters,
    ...confState.learners,
    ...confState.votersOutgoing,
    ...confState.learnersNext,
  ]);
  return [...ids].sort((a, b) => a - b);
}
