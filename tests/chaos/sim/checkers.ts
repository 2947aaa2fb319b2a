// Raft's safety properties, checked while the simulation runs (after every step that could
// break one), so a violation stops the run at the tick it happened with a description of
// what was expected. Each check is incremental: it looks only at what the step changed.
// The checker is fed plain observations (entries persisted, entries applied, roles, hard
// states) so tests can feed it forged observations and see it fail.
import type { Entry, HardState, NodeId, Role } from '../../../raft/src/index.js';
import { NONE } from '../../../raft/src/index.js';

export type InvariantName =
  | 'electionSafety'
  | 'logMatching'
  | 'leaderCompleteness'
  | 'stateMachineSafety'
  | 'monotonicCommit'
  | 'monotonicApplied'
  | 'durableState'
  | 'snapshotAgreement';

/** A broken invariant: the run stops here. */
export class InvariantViolation extends Error {
  readonly invariant: InvariantName;
  readonly tick: number;
  constructor(invariant: InvariantName, tick: number, detail: string) {
    super(`invariant ${invariant} broken at tick ${tick}: ${detail}`);
    this.name = 'InvariantViolation';
    this.invariant = invariant;
    this.tick = tick;
  }
}

/** The part of a persisted log the leader-completeness check reads. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number;
}

interface EntryDigest {
  readonly term: number;
  readonly type: Entry['type'];
  readonly sizeBytes: number;
  readonly hash: number;
}

interface CommittedRecord extends EntryDigest {
  /** A term at or after the one in which the entry was committed (the applier's term). */
  commitTermUpper: number;
}

/** Terms stay far below this; it lets (index, term) pack into one number. */
const termBound = 1 << 20;

export class SafetyChecker {
  private tick = 0;
  private readonly leaderByTerm = new Map<number, NodeId>();
  /** (index, term) -> the entry persisted there and the term of its predecessor. */
  private readonly persisted = new Map<number, { digest: EntryDigest; prevTerm: number }>();
  /** Index -> the entry applied there (so committed), first seen. */
  private readonly committed: (CommittedRecord | undefined)[] = [];
  private readonly commitByIncarnation = new Map<string, number>();
  private readonly appliedByIncarnation = new Map<string, number>();
  private readonly durableByNode = new Map<NodeId, HardState>();
  private readonly snapshotHashByIndex = new Map<number, number>();
  private checksRun = 0;

  setTick(tick: number): void {
    this.tick = tick;
  }

  get checks(): number {
    return this.checksRun;
  }

  /** Election safety: at most one leader per term, over the whole run. */
  observeRole(nodeId: NodeId, term: number, role: Role): void {
    this.checksRun++;
    if (role !== 'leader') return;
    const known = this.leaderByTerm.get(term);
    if (known === undefined) this.leaderByTerm.set(term, nodeId);
    else if (known !== nodeId)
      this.fail('electionSafety', `nodes ${known} and ${nodeId} are both leader of term ${term}`);
  }

  /** Leader completeness: a new leader of `term` holds every entry committed in an earlier term. */
  observeNewLeader(nodeId: NodeId, term: number, log: LogView): void {
    this.checksRun++;
    const firstIndex = log.firstIndex();
    const lastIndex = log.lastIndex();
    for (let index = Math.max(firstIndex, 1); index < this.committed.length; index++) {
      const record = this.committed[index];
      if (record === undefined || record.commitTermUpper >= term) continue;
      if (index > lastIndex) {
        this.fail(
          'leaderCompleteness',
          `leader ${nodeId} of term ${term} has log up to ${lastIndex} but entry ${index} (term ${record.term}) was committed by term ${record.commitTermUpper}`,
        );
      }
      const logTerm = log.term(index);
      if (logTerm !== record.term) {
        this.fail(
          'leaderCompleteness',
          `leader ${nodeId} of term ${term} has term ${logTerm} at index ${index}; committed entry there has term ${record.term}`,
        );
      }
    }
  }

  /**
   * Log matching, on what a node persisted: entries with the same index and term are the same
   * entry and follow the same predecessor term, which by induction makes the prefixes equal.
   */
  observePersisted(nodeId: NodeId, prevTerm: number, entries: readonly Entry[]): void {
    let previousTerm = prevTerm;
    for (const entry of entries) {
      this.checksRun++;
      if (entry.term >= termBound)
        this.fail('logMatching', `term ${entry.term} is beyond the checker's bound`);
      if (entry.term < previousTerm) {
        this.fail(
          'logMatching',
          `node ${nodeId} persisted entry ${entry.index} of term ${entry.term} after term ${previousTerm}`,
        );
      }
      const key = entry.index * termBound + entry.term;
      const digest = digestEntry(entry);
      const known = this.persisted.get(key);
      if (known === undefined) {
        this.persisted.set(key, { digest, prevTerm: previousTerm });
      } else if (!sameDigest(known.digest, digest) || known.prevTerm !== previousTerm) {
        this.fail(
          'logMatching',
          `node ${nodeId} persisted index ${entry.index} term ${entry.term} as ${describeDigest(digest)} after term ${previousTerm}; ` +
            `another log has ${describeDigest(known.digest)} after term ${known.prevTerm}`,
        );
      }
      previousTerm = entry.term;
    }
  }

  /** State machine safety: every node applies the same entry at a given index. */
  observeApplied(nodeId: NodeId, nodeTerm: number, entry: Entry): void {
    this.checksRun++;
    const digest = digestEntry(entry);
    const known = this.committed[entry.index];
    if (known === undefined) {
      if (entry.index > this.committed.length + 1_000_000)
        this.fail('stateMachineSafety', `index ${entry.index} is implausible`);
      this.committed[entry.index] = { ...digest, commitTermUpper: nodeTerm };
      return;
    }
    if (!sameDigest(known, digest)) {
      this.fail(
        'stateMachineSafety',
        `node ${nodeId} applied ${describeDigest(digest)} at index ${entry.index}; another node applied ${describeDigest(known)}`,
      );
    }
    known.commitTermUpper = Math.min(known.commitTermUpper, nodeTerm);
  }

  /** Commit index never decreases within one incarnation (one RawNode) of a node. */
  observeCommit(nodeId: NodeId, incarnation: number, commit: number): void {
    this.checkMonotonic(this.commitByIncarnation, 'monotonicCommit', nodeId, incarnation, commit);
  }

  observeAppliedIndex(nodeId: NodeId, incarnation: number, applied: number): void {
    this.checkMonotonic(this.appliedByIncarnation, 'monotonicApplied', nodeId, incarnation, applied);
  }

  /**
   * The durable hard state, on every sync and at restart: the term never goes back, the vote
   * of a term never changes once cast, and the durable commit index never regresses.
   */
  observeDurableHardState(nodeId: NodeId, hardState: HardState): void {
    this.checksRun++;
    const previous = this.durableByNode.get(nodeId);
    if (previous !== undefined) {
      const where = `node ${nodeId}: durable ${describeHardState(previous)} became ${describeHardState(hardState)}`;
      if (hardState.term < previous.term) this.fail('durableState', `term went back; ${where}`);
      if (hardState.term === previous.term && previous.vote !== NONE && hardState.vote !== previous.vote) {
        this.fail('durableState', `vote changed within a term; ${where}`);
      }
      if (hardState.commit < previous.commit) this.fail('durableState', `commit went back; ${where}`);
    }
    this.durableByNode.set(nodeId, hardState);
  }

  /** Two snapshots of the state machine at one index hold the same data. */
  observeSnapshotData(nodeId: NodeId, index: number, data: Uint8Array): void {
    this.checksRun++;
    const hash = hashBytes(data);
    const known = this.snapshotHashByIndex.get(index);
    if (known === undefined) this.snapshotHashByIndex.set(index, hash);
    else if (known !== hash) {
      this.fail(
        'snapshotAgreement',
        `node ${nodeId}'s state at index ${index} differs from another node's state there`,
      );
    }
  }

  private checkMonotonic(
    seen: Map<string, number>,
    invariant: InvariantName,
    nodeId: NodeId,
    incarnation: number,
    value: number,
  ): void {
    this.checksRun++;
    const key = `${nodeId}/${incarnation}`;
    const previous = seen.get(key) ?? 0;
    if (value < previous)
      this.fail(invariant, `node ${nodeId} (incarnation ${incarnation}) went from ${previous} to ${value}`);
    seen.set(key, value);
  }

  private fail(invariant: InvariantName, detail: string): never {
    throw new InvariantViolation(invariant, this.tick, detail);
  }
}

function digestEntry(entry: Entry): EntryDigest {
  return { term: entry.term, type: entry.type, sizeBytes: entry.data.length, hash: hashBytes(entry.data) };
}

function sameDigest(a: EntryDigest, b: EntryDigest): boolean {
  return a.term === b.term && a.type === b.type && a.sizeBytes === b.sizeBytes && a.hash === b.hash;
}

function describeDigest(digest: EntryDigest): string {
  return `{term ${digest.term}, ${digest.type}, ${digest.sizeBytes} bytes, hash ${digest.hash.toString(16)}}`;
}

function describeHardState(hardState: HardState): string {
  return `{term ${hardState.term}, vote ${hardState.vote}, commit ${hardState.commit}}`;
}

/** FNV-1a over bytes. */
export function hashBytes(data: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ (data[i] ?? 0), 0x01000193);
  return hash >>> 0;
}
