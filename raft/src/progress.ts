// The leader's view of one follower (etcd's tracker.Progress): how far its log matches
// and how to send it more. probe: one append at a time until the match point is found;
// replicate: stream optimistically within the inflights window; snapshot: wait for the
// snapshot to be installed. Invariant: match < next.
import { Inflights } from './inflights.js';
import { assert } from './invariants.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Snapshot index being sent while in snapshot state; 0 otherwise. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
  /** probe: an append was sent and we wait for its answer (or a heartbeat response). */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;
  /** Lease: tick at which the newest heartbeat this peer acknowledged was sent (-1: none). */
  leaseAckSentTick = -1;

  constructor(next: number, maxInflightMsgs: number, isLearner: boolean, recentActive: boolean) {
    assert(next >= 1, () => `progress next must be >= 1, got ${next}`);
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
    this.isLearner = isLearner;
    this.recentActive = recentActive;
  }

  clone(): Progress {
    const copy = new Progress(this.next, 1, this.isLearner, this.recentActive);
    Object.assign(copy, this, { inflights: this.inflights.clone() });
    return copy;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The snapshot (if installed) moves the follower past pendingSnapshot.
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    assert(snapshotIndex > 0, 'snapshot index must be positive');
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
  }

  /** An append of `count` entries ending at `lastIndex` was sent. */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === 'replicate' && count > 0) {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex);
    } else if (this.state === 'probe') {
      this.msgAppFlowPaused = true;
    }
  }

  /** The follower acknowledged `index`; returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.msgAppFlowPaused = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    assert(this.match < this.next, () => `progress match ${this.match} must be below next ${this.next}`);
    return updated;
  }

  /**
   * The follower rejected an append after `rejected`; its log may match up to `matchHint`.
   * Returns false for a stale rejection (already past it).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
