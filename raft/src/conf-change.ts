// The membership changer (Ongaro thesis §4.3 joint consensus, §4.2.1 learners): computes
// the configuration and progress map that result from a ConfChange without touching the
// current ones, so a proposal can be dry-run and an applied change swapped in at once.
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from './types.js';
import type { TrackerConfig } from './tracker.js';
import { checkConfig, configFromConfState, configMembers, isJoint } from './tracker.js';
import { Progress } from './progress.js';
import { assertNever } from './invariants.js';

/** A change that cannot be made from the current configuration. */
export class ConfChangeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ConfChangeError';
  }
}

export interface ChangeResult {
  readonly config: TrackerConfig;
  readonly progress: Map<NodeId, Progress>;
}

interface MutableConfig {
  incoming: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

/** Replaces prs[id] by a copy before it is changed, so the current config's Progress stays intact. */
function ownProgress(prs: Map<NodeId, Progress>, id: NodeId): Progress {
  const copy = (prs.get(id) as Progress).clone();
  prs.set(id, copy);
  return copy;
}

export class Changer {
  constructor(
    private readonly current: TrackerConfig,
    private readonly currentProgress: ReadonlyMap<NodeId, Progress>,
    /** Last log index: new peers start probing after it. */
    private readonly lastIndex: number,
    private readonly maxInflightMsgs: number,
  ) {}

  /** Leaves the joint configuration for the incoming one. */
  leaveJoint(): ChangeResult {
    if (!isJoint(this.current)) throw new ConfChangeError('cannot leave a non-joint config');
    const { cfg, prs } = this.copy();
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      ownProgress(prs, id).isLearner = true;
    }
    cfg.learnersNext.clear();
    for (const id of cfg.outgoing) {
      if (!cfg.incoming.has(id) && !cfg.learners.has(id)) prs.delete(id);
    }
    cfg.outgoing.clear();
    cfg.autoLeave = false;
    return this.finish(cfg, prs);
  }

  /** Enters a joint configuration C_old,new: outgoing = current voters, changes go to incoming. */
  enterJoint(autoLeave: boolean, changes: readonly ConfChangeSingle[]): ChangeResult {
    if (isJoint(this.current)) throw new ConfChangeError('config is already joint');
    const { cfg, prs } = this.copy();
    if (cfg.incoming.size === 0) throw new ConfChangeError('cannot make a zero-voter config joint');
    cfg.outgoing = new Set(cfg.incoming);
    this.apply(cfg, prs, changes);
    cfg.autoLeave = autoLeave;
    return this.finish(cfg, prs);
  }

  /** Applies changes that alter at most one voter, without joint consensus. */
  simple(changes: readonly ConfChangeSingle[]): ChangeResult {
    if (isJoint(this.current)) throw new ConfChangeError('cannot apply a simple change to a joint config');
    const { cfg, prs } = this.copy();
    this.apply(cfg, prs, changes);
    let changed = 0;
    for (const id of cfg.incoming) if (!this.current.voters[0].has(id)) changed++;
    for (const id of this.current.voters[0]) if (!cfg.incoming.has(id)) changed++;
    if (changed > 1) throw new ConfChangeError('more than one voter changed without entering joint config');
    return this.finish(cfg, prs);
  }

  /** Dispatches a ConfChange the way etcd's ConfChangeV2 does. */
  change(cc: ConfChange): ChangeResult {
    if (cc.changes.length === 0) return this.leaveJoint();
    if (cc.transition === 'auto' && cc.changes.length === 1) return this.simple(cc.changes);
    return this.enterJoint(cc.transition !== 'jointExplicit', cc.changes);
  }

  private apply(cfg: MutableConfig, prs: Map<NodeId, Progress>, changes: readonly ConfChangeSingle[]): void {
    for (const change of changes) {
      if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= 0) {
        throw new ConfChangeError(`invalid node id ${change.nodeId}`);
      }
      switch (change.type) {
        case 'addVoter':
          this.makeVoter(cfg, prs, change.nodeId);
          break;
        case 'addLearner':
          this.makeLearner(cfg, prs, change.nodeId);
          break;
        case 'removeNode':
          this.remove(cfg, prs, change.nodeId);
          break;
        default:
          assertNever(change.type, 'conf change type');
      }
    }
    if (cfg.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(cfg: MutableConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
    if (prs.has(id)) {
      ownProgress(prs, id).isLearner = false;
    } else {
      prs.set(id, this.newProgress(false));
    }
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.incoming.add(id);
  }

  private makeLearner(cfg: MutableConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      prs.set(id, this.newProgress(true));
      cfg.learners.add(id);
      return;
    }
    if (pr.isLearner) return;
    cfg.incoming.delete(id);
    // Still an outgoing voter: it becomes a learner only when the joint config is left.
    if (cfg.outgoing.has(id)) {
      cfg.learnersNext.add(id);
    } else {
      ownProgress(prs, id).isLearner = true;
      cfg.learners.add(id);
    }
  }

  private remove(cfg: MutableConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
    if (!prs.has(id)) return;
    cfg.incoming.delete(id);
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    if (!cfg.outgoing.has(id)) prs.delete(id);
  }

  private newProgress(isLearner: boolean): Progress {
    // recentActive so that check-quorum does not count a just-added peer as dead.
    return new Progress(this.lastIndex + 1, this.maxInflightMsgs, isLearner, true);
  }

  /** Copies the config and the progress entries (Progress objects are shared). */
  private copy(): { cfg: MutableConfig; prs: Map<NodeId, Progress> } {
    const c = this.current;
    return {
      cfg: {
        incoming: new Set(c.voters[0]),
        outgoing: new Set(c.voters[1]),
        learners: new Set(c.learners),
        learnersNext: new Set(c.learnersNext),
        autoLeave: c.autoLeave,
      },
      prs: new Map(this.currentProgress),
    };
  }

  private finish(cfg: MutableConfig, prs: Map<NodeId, Progress>): ChangeResult {
    const config: TrackerConfig = {
      voters: [cfg.incoming, cfg.outgoing],
      learners: cfg.learners,
      learnersNext: cfg.learnersNext,
      autoLeave: cfg.autoLeave,
    };
    checkConfig(config, prs);
    return { config, progress: prs };
  }
}

/** Builds the configuration and a fresh progress map for a ConfState (startup, snapshot). */
export function restoreConfig(cs: ConfState, lastIndex: number, maxInflightMsgs: number): ChangeResult {
  const config = configFromConfState(cs);
  const progress = new Map<NodeId, Progress>();
  for (const id of configMembers(config)) {
    progress.set(id, new Progress(lastIndex + 1, maxInflightMsgs, config.learners.has(id), true));
  }
  checkConfig(config, progress);
  return { config, progress };
}
