// Follows the meta region's Raft role on this member: when it becomes leader (a new term)
// the cluster state is loaded from the meta store, when it stops being leader the state is
// dropped. PD requests arriving while the new leader is still loading wait for it, briefly
// and in bounded numbers.
import type { Store } from '../../server/src/store/store.js';
import type { PdCluster } from './cluster/pd-cluster.js';
import { META_REGION_ID } from './meta/raft-meta-kv.js';

/** Requests waiting for the new leader to load; beyond it they are answered NOT_LEADER at once. */
const READY_WAITERS_MAX = 10_000;
/** Pause before a failed load is tried again (the meta store may still be catching up). */
const LOAD_RETRY_DELAY_MS = 100;

export interface LeadershipOptions {
  readonly store: Store;
  readonly cluster: PdCluster;
  readonly memberId: number;
  readonly pollIntervalMs: number;
  /** Describes the leader (by member id, 0 = unknown) for NOT_LEADER messages. */
  readonly describeLeader: (leaderId: number) => string;
  readonly log: (line: string) => void;
}

export class Leadership {
  /** Term whose cluster state is loaded; undefined when not serving. */
  private servingTerm: number | undefined;
  private loadingTerm: number | undefined;
  private retryAfterUnixMs = 0;
  private waiters: Array<(ready: boolean) => void> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: LeadershipOptions) {
    this.timer = setInterval(() => this.poll(), options.pollIntervalMs);
  }

  /** The meta region's Raft role and term on this member, and the leader it knows of (0 = none). */
  raftStatus(): { role: string; term: number; leaderId: number } {
    const status = this.options.store.node(META_REGION_ID)?.basicStatus();
    return { role: status?.role ?? 'follower', term: status?.term ?? 0, leaderId: status?.leaderId ?? 0 };
  }

  get serving(): boolean {
    return this.servingTerm !== undefined && this.stillLeaderAt(this.servingTerm);
  }

  /** Resolves true once this member serves as leader, false if it is not leader or not ready in `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.serving) return Promise.resolve(true);
    if (this.raftStatus().role !== 'leader' || this.waiters.length >= READY_WAITERS_MAX)
      return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (ready: boolean): void => {
        clearTimeout(timer);
        resolve(ready);
      };
      this.waiters.push(waiter);
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.release(false);
  }

  private poll(): void {
    const { role, term } = this.raftStatus();
    if (this.servingTerm !== undefined && (role !== 'leader' || term !== this.servingTerm)) {
      this.options.log(`no longer PD leader (term ${this.servingTerm}); cluster state dropped`);
      this.servingTerm = undefined;
      this.options.cluster.unload(this.options.describeLeader(this.raftStatus().leaderId));
    }
    if (role !== 'leader' || this.servingTerm === term || this.loadingTerm !== undefined) return;
    if (Date.now() < this.retryAfterUnixMs) return;
    this.loadingTerm = term;
    const startedMs = Date.now();
    this.options.cluster.load().then(
      () => {
        this.loadingTerm = undefined;
        if (!this.stillLeaderAt(term)) {
          this.options.cluster.unload(this.options.describeLeader(this.raftStatus().leaderId));
          return;
        }
        this.servingTerm = term;
        this.options.log(`PD leader at term ${term} (state loaded in ${Date.now() - startedMs} ms)`);
        this.release(true);
      },
      (err: unknown) => {
        this.loadingTerm = undefined;
        this.retryAfterUnixMs = Date.now() + LOAD_RETRY_DELAY_MS;
        this.options.log(`loading the cluster state at term ${term} failed: ${String(err)}`);
      },
    );
  }

  private stillLeaderAt(term: number): boolean {
    const status = this.raftStatus();
    return status.role === 'leader' && status.term === term;
  }

  private release(ready: boolean): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter(ready);
  }
}
