// Membership changes on the state machine (Ongaro thesis §4): validating proposed conf
// changes, applying committed ones, stepping down when removed, auto-leaving joint configs.
import type { ConfChange } from './types.js';
import { NONE } from './types.js';
import { isJoint } from './tracker.js';
import { Changer, ConfChangeError } from './conf-change.js';
import { decodeConfChange, encodeConfChange } from './conf-change-codec.js';
import type { ProposeResult } from './proposal.js';
import { proposalError } from './proposal.js';
import { EMPTY_BYTES } from './message.js';
import { RaftInvariantError } from './errors.js';
import { bcastAppend, maybeSendAppend } from './raft-replication.js';
import type { Raft } from './raft.js';

/** One conf change at a time, and only changes the changer accepts from the current config. */
export function checkConfChangeProposal(
  r: Raft,
  data: Uint8Array,
  anotherInBatch: boolean,
): ProposeResult | null {
  if (r.pendingConfIndex > r.log.applied || anotherInBatch) {
    return proposalError({ kind: 'confChangePending', pendingIndex: r.pendingConfIndex });
  }
  let cc: ConfChange;
  try {
    cc = decodeConfChange(data);
  } catch (err) {
    return proposalError({ kind: 'invalidConfChange', reason: (err as Error).message });
  }
  const joint = isJoint(r.tracker.config);
  const leave = cc.changes.length === 0;
  if (joint && !leave)
    return proposalError({ kind: 'invalidConfChange', reason: 'must leave the joint config first' });
  if (!joint && leave)
    return proposalError({ kind: 'invalidConfChange', reason: 'not in a joint config: nothing to leave' });
  try {
    changer(r).change(cc);
  } catch (err) {
    if (err instanceof ConfChangeError)
      return proposalError({ kind: 'invalidConfChange', reason: err.reason });
    throw err;
  }
  return null;
}

export function changer(r: Raft): Changer {
  return new Changer(r.tracker.config, r.tracker.progress, r.log.lastIndex(), r.cfg.maxInflightMsgs);
}

/** Applies a committed conf change (the applier calls this). */
export function applyConfChange(r: Raft, cc: ConfChange): void {
  let result;
  try {
    result = changer(r).change(cc);
  } catch (err) {
    // Proposals are validated against the config they will be applied to (one pending at a
    // time), so a committed change that does not apply means this replica's membership
    // diverged, e.g. it was started with a config other than the group's.
    if (err instanceof ConfChangeError) {
      throw new RaftInvariantError(`committed conf change cannot be applied: ${err.reason}`);
    }
    throw err;
  }
  r.tracker.setConfig(result.config, result.progress);
  const self = r.tracker.progress.get(r.id);
  r.isLearner = self?.isLearner ?? false;
  if (r.role !== 'leader') return;
  if (self === undefined || self.isLearner) {
    // Removed (or demoted) and the change is committed: step down (thesis §4.2.2).
    r.becomeFollower(r.term, NONE);
    return;
  }
  if (r.leadTransferee !== NONE && !r.tracker.isVoter(r.leadTransferee)) r.abortLeaderTransfer();
  if (r.maybeCommit()) bcastAppend(r);
  else for (const id of r.tracker.ids()) maybeSendAppend(r, id, false);
}

/** The leader proposes leaving an auto-leave joint config once entering it is applied. */
export function maybeAutoLeave(r: Raft): void {
  if (r.role !== 'leader' || !r.tracker.config.autoLeave) return;
  if (r.pendingConfIndex > r.log.applied) return;
  const leave = encodeConfChange({ transition: 'auto', changes: [], context: EMPTY_BYTES });
  r.leaderPropose([{ type: 'confChange', data: leave }]); // retried on the next tick if refused
}
