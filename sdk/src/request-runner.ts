// The attempt loop: sends a request to a region's leader, reads the answer, and on failure
// asks the retry policy what to do — follow a leader hint, try the next peer, re-route
// through a refreshed region map, back off — until the request succeeds, the policy says
// stop, the deadline passes or the retry budget is spent. Requests over many keys are
// grouped by region and sent in parallel; a group whose region changed (split, merge,
// moved) is grouped again from the refreshed cache, so a batch survives splits mid-flight.
import { kvpb } from './wire.js';
import type { Deadline } from './deadline.js';
import { backoffMs } from './deadline.js';
import { InternalError, ServerBusyError, TimeoutError, UnavailableError } from './errors.js';
import type { Consistency, ResolvedClientOptions } from './options.js';
import type { Peer, RegionInfo } from './region-cache.js';
import { describeRegion } from './region-cache.js';
import type { RegionLocator } from './region-locator.js';
import type { Decision, RequestKind, RoutingFix } from './retry-policy.js';
import { decideKeyError, decideRegionError, decideSendFailure } from './retry-policy.js';
import type { RetryReason, StatsRecorder } from './stats.js';
import type { StorePool } from './store-pool.js';
import type { RequestBody, ResponseBody } from './store-transport.js';
import { SendFailure, innerResponse, withContext } from './store-transport.js';
import type { CallTrace } from './tracing.js';

/** One client call in progress: its budget and what it has learned. */
export interface CallState {
  readonly deadline: Deadline;
  readonly trace: CallTrace;
  readonly kind: RequestKind;
  readonly consistency: Consistency;
  /** Retries made so far across all regions of the call. */
  retries: number;
  /** Set when a write of this call was sent and its answer lost (only idempotent writes continue after that). */
  maybeApplied: boolean;
  /** Why the last retry happened, for the error when the deadline ends the call. */
  lastRetry: RetryReason | undefined;
  /**
   * Backoff pauses taken so far across all regions of the call: the next pause grows from
   * it. Kept per call, not per region, so a region PD has not yet learned is merged or split
   * (RegionNotFound, then the same stale answer from PD) is retried with a growing pause.
   */
  pauses: number;
}

export type RegionOutcome =
  | { readonly kind: 'ok'; readonly response: ResponseBody; readonly region: RegionInfo }
  /** The region changed under the request: route its keys again. */
  | { readonly kind: 'resplit' };

const READ_CONSISTENCY: Record<Consistency, kvpb.ReadConsistency> = {
  linearizable: kvpb.ReadConsistency.LINEARIZABLE,
  log: kvpb.ReadConsistency.LOG,
  lease: kvpb.ReadConsistency.LEASE,
  stale: kvpb.ReadConsistency.STALE,
};

/** Largest deadline the store accepts in Context.deadline_ms (uint32). */
const CONTEXT_DEADLINE_MS_MAX = 0xffff_ffff;

export class RequestRunner {
  constructor(
    readonly locator: RegionLocator,
    private readonly pool: StorePool,
    private readonly options: ResolvedClientOptions,
    private readonly stats: StatsRecorder,
  ) {}

  /** Sends a request about `key`, re-routing as often as the region map changes under it. */
  async onKey(
    key: Uint8Array,
    body: RequestBody,
    call: CallState,
  ): Promise<{ response: ResponseBody; region: RegionInfo }> {
    for (;;) {
      const region = await this.locator.locate(key, call.deadline);
      const outcome = await this.onRegion(region, body, call);
      if (outcome.kind === 'ok') return outcome;
    }
  }

  /**
   * Groups `items` by the region of their key and runs `send` for each group in parallel;
   * a group answered 'resplit' is grouped again. Resolves with every group's result.
   */
  async byRegion<I, R>(
    items: readonly I[],
    keyOf: (item: I) => Uint8Array,
    send: (region: RegionInfo, items: I[]) => Promise<R | 'resplit'>,
    call: CallState,
  ): Promise<R[]> {
    const groups = new Map<bigint, { region: RegionInfo; items: I[] }>();
    for (const item of items) {
      const region = await this.locator.locate(keyOf(item), call.deadline);
      let group = groups.get(region.id);
      if (group === undefined) groups.set(region.id, (group = { region, items: [] }));
      group.items.push(item);
    }
    const results = await settleAll(
      [...groups.values()].map(async (g): Promise<R[]> => {
        const result = await send(g.region, g.items);
        return result === 'resplit' ? this.byRegion(g.items, keyOf, send, call) : [result];
      }),
    );
    return results.flat();
  }

  /** Sends `body` to `region` until it is answered, the region changes, or the call must stop. */
  async onRegion(initial: RegionInfo, body: RequestBody, call: CallState): Promise<RegionOutcome> {
    let region = initial;
    /** Peers that did not lead or could not be reached since the last backoff. */
    const tried = new Set<bigint>();
    for (;;) {
      checkDeadline(call, `sending to ${describeRegion(region)}`);
      if (region.peers.length === 0) {
        // PD described a region without peers: nothing to send to; ask again later.
        this.locator.cache.invalidate(region.id);
        await this.pause('backoff', call);
        return { kind: 'resplit' };
      }
      const peer = pickPeer(region, tried);
      if (peer === undefined) {
        // Every peer refused or was unreachable: an election is probably under way.
        tried.clear();
        await this.pause('backoff', call);
        const fresh = this.locator.cache.get(region.id);
        if (fresh === undefined) return { kind: 'resplit' };
        region = fresh;
        continue;
      }
      const attempt = await this.attempt(region, peer, body, call);
      if (attempt.kind === 'ok') return attempt;
      const decision = attempt.decision;
      if (decision.kind === 'fail') {
        if (decision.error instanceof TimeoutError && call.lastRetry === 'serverIsBusy')
          throw busyUntilDeadline(call);
        throw decision.error;
      }
      this.stats.retry(decision.reason);
      call.lastRetry = decision.reason;
      if (++call.retries > this.options.attemptsMax)
        throw new UnavailableError(
          `gave up after ${this.options.attemptsMax} retries (last: ${decision.reason} at ${describeRegion(region)})`,
        );
      const next = this.applyFix(decision.fix, region, peer, tried);
      if (decision.wait !== 'now' || (next !== 'resplit' && next.wait)) {
        await this.pause(decision.wait === 'now' ? 'backoff' : decision.wait, call);
      }
      if (next === 'resplit') return { kind: 'resplit' };
      region = next.region;
    }
  }

  private async attempt(
    region: RegionInfo,
    peer: Peer,
    body: RequestBody,
    call: CallState,
  ): Promise<
    { kind: 'ok'; response: ResponseBody; region: RegionInfo } | { kind: 'retry'; decision: Decision }
  > {
    let address: string;
    try {
      address = await this.pool.address(peer.storeId, call.deadline);
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
      return {
        kind: 'retry',
        decision: decideSendFailure(new SendFailure('connect', false, err.message), call.kind, 0),
      };
    }
    const context: kvpb.Context = {
      regionId: region.id,
      regionEpoch: { confVer: region.epoch.confVer, version: region.epoch.version },
      peer: { id: peer.id, storeId: peer.storeId, role: 0 },
      readConsistency: READ_CONSISTENCY[call.consistency],
      deadlineMs: Math.max(1, Math.min(CONTEXT_DEADLINE_MS_MAX, call.deadline.remainingMs())),
      traceContext: call.trace.traceContext,
    };
    call.trace.attempts++;
    call.trace.regionId = region.id;
    call.trace.storeId = peer.storeId;
    try {
      const response = await this.pool.send(
        peer.storeId,
        address,
        withContext(body, context),
        call.deadline,
        call.trace.traceparent,
      );
      if (response.$case !== body.$case && !(body.$case === 'get' && response.$case === 'get'))
        throw new InternalError(`store ${address} answered ${body.$case} with ${response.$case}`);
      const inner = innerResponse(response);
      if (inner.regionError !== undefined)
        return { kind: 'retry', decision: decideRegionError(inner.regionError, peer) };
      if (inner.keyError !== undefined)
        return { kind: 'retry', decision: decideKeyError(inner.keyError, call.kind) };
      if (region.leader?.id !== peer.id) this.locator.cache.updateLeader(region.id, peer);
      return { kind: 'ok', response, region };
    } catch (err) {
      if (!(err instanceof SendFailure)) throw err;
      if (err.sent && call.kind.write) call.maybeApplied = true;
      return { kind: 'retry', decision: decideSendFailure(err, call.kind, call.deadline.timeoutMs) };
    }
  }

  /** Updates routing; returns the region to retry on (and whether to pause first), or 'resplit'. */
  private applyFix(
    fix: RoutingFix,
    region: RegionInfo,
    peer: Peer,
    tried: Set<bigint>,
  ): { region: RegionInfo; wait: boolean } | 'resplit' {
    const cache = this.locator.cache;
    switch (fix.kind) {
      case 'none':
        return { region, wait: false };
      case 'leader': {
        tried.add(peer.id);
        const hinted = region.peers.find((p) => p.id === fix.leader.id && p.storeId === fix.leader.storeId);
        if (hinted === undefined) {
          // The leader is a peer we do not know: the membership changed.
          cache.invalidate(region.id);
          return 'resplit';
        }
        cache.updateLeader(region.id, hinted);
        // A hint back to a peer that already refused: leadership is moving; pause.
        return { region: { ...region, leader: hinted }, wait: tried.has(hinted.id) };
      }
      case 'nextPeer':
        tried.add(peer.id);
        cache.forgetLeader(region.id, peer.id);
        return {
          region: region.leader?.id === peer.id ? { ...region, leader: undefined } : region,
          wait: false,
        };
      case 'regions':
        cache.invalidate(region.id);
        this.locator.absorbRegions(fix.regions);
        return 'resplit';
      case 'invalidateRegion':
        cache.invalidate(region.id);
        return 'resplit';
      case 'invalidateStore':
        this.pool.invalidateStore(peer.storeId);
        cache.invalidateStore(peer.storeId);
        return 'resplit';
    }
  }

  private async pause(wait: 'backoff' | { ms: number }, call: CallState): Promise<void> {
    // A pause the server asked for is a floor: repeated answers (a region frozen for a merge,
    // a busy store) still back off exponentially, so the attempts last as long as the deadline.
    const backoff = backoffMs(call.pauses++, this.options.backoffBaseMs, this.options.backoffMaxMs);
    const ms = wait === 'backoff' ? backoff : Math.max(wait.ms, backoff);
    await call.deadline
      .sleep(Math.min(ms, call.deadline.remainingMs()), 'backing off before a retry')
      .catch((err: unknown) => {
        checkDeadline(call, 'backing off before a retry');
        throw err;
      });
  }
}

/** Throws when the call may not go on; a deadline spent waiting out ServerIsBusy is reported as such. */
function checkDeadline(call: CallState, what: string): void {
  try {
    call.deadline.check(`${what}${call.lastRetry ? `; last retry: ${call.lastRetry}` : ''}`);
  } catch (err) {
    if (err instanceof TimeoutError && call.lastRetry === 'serverIsBusy') throw busyUntilDeadline(call);
    throw err;
  }
}

function busyUntilDeadline(call: CallState): ServerBusyError {
  return new ServerBusyError(`the store stayed busy until the deadline (${call.deadline.timeoutMs} ms)`);
}

/** The leader if known and not yet tried, else the first peer not tried. */
export function pickPeer(region: RegionInfo, tried: ReadonlySet<bigint>): Peer | undefined {
  if (region.leader !== undefined && !tried.has(region.leader.id)) return region.leader;
  return region.peers.find((p) => !tried.has(p.id));
}

/** Like Promise.all, but waits for every promise before rejecting with the first failure. */
async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
