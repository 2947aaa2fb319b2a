// Linearizability of put and linearizable get across a leader crash: 4 concurrent clients
// work on 3 keys of a 3-process cluster while the leader is killed with SIGKILL and later
// restarted on its data. Every operation's invocation and response are stamped in one
// global order; the history is then checked per key (Wing & Gong search with memoization,
// the simulator's checker). A put whose outcome the client never learned (error, timeout,
// lost connection) is "unknown": it may or may not have taken effect, so it is kept with an
// open response. A put refused with NotLeader was never proposed and is left out, as are
// failed reads, which constrain nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';
import { checkHistory } from '../chaos/checker/linearizability.js';
import type { KvOperation } from '../chaos/checker/linearizability.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';
import { RawKv, regionContext } from './helpers/kv-raw.js';

const CLIENTS_COUNT = 4;
const KEYS = ['lin-a', 'lin-b', 'lin-c'];
/** One attempt's deadline: short, so that calls to a dead leader become "unknown" quickly. */
const ATTEMPT_TIMEOUT_MS = 2_000;
/** Successful operations each phase must reach (before the kill, after it, after the restart). */
const OPS_PER_PHASE = 150;
/** Search bound per key; a legal history of this size needs far fewer steps. */
const CHECK_STEPS_MAX_PER_KEY = 5_000_000;

type Outcome =
  { readonly kind: 'ok'; readonly value?: string | null } | { readonly kind: 'refused' | 'unknown' };

/** One client: a single attempt per operation, then it aims the next one at the leader it learned of. */
class OpClient {
  private target: number;

  constructor(
    private readonly raw: RawKv,
    private readonly storeIds: readonly number[],
    first: number,
  ) {
    this.target = first;
  }

  async put(key: string, value: string): Promise<Outcome> {
    const request: kvpb.PutRequest = { context: context(), key: Buffer.from(key), value: Buffer.from(value) };
    return this.attempt<kvpb.PutResponse>('put', request, () => ({ kind: 'ok' }));
  }

  async get(key: string): Promise<Outcome> {
    const request: kvpb.GetRequest = { context: context(), key: Buffer.from(key) };
    return this.attempt<kvpb.GetResponse>('get', request, (res) => ({
      kind: 'ok',
      value: res.found ? res.value.toString() : null,
    }));
  }

  private async attempt<Res extends { regionError?: { error?: unknown } | undefined }>(
    method: 'put' | 'get',
    request: unknown,
    ok: (res: Res) => Outcome,
  ): Promise<Outcome> {
    let res: Res;
    try {
      res = await this.raw.call<unknown, Res>(this.target, method, request, ATTEMPT_TIMEOUT_MS);
    } catch (err) {
      if ((err as grpc.ServiceError).code === grpc.status.INVALID_ARGUMENT) throw err;
      this.next();
      return { kind: 'unknown' };
    }
    const error = (res.regionError as kvpb.GetResponse['regionError'])?.error;
    if (error === undefined) return ok(res);
    if (error.$case === 'notLeader') {
      const hint = error.notLeader.leader;
      if (hint !== undefined && this.storeIds.includes(Number(hint.storeId)))
        this.target = Number(hint.storeId);
      else this.next();
      return { kind: 'refused' };
    }
    // Busy, stale command, ...: whether a proposal took effect is not known.
    return { kind: 'unknown' };
  }

  private next(): void {
    this.target = this.storeIds[(this.storeIds.indexOf(this.target) + 1) % this.storeIds.length] as number;
  }
}

function context(): kvpb.Context {
  return regionContext({
    deadlineMs: ATTEMPT_TIMEOUT_MS,
    readConsistency: kvpb.ReadConsistency.LINEARIZABLE,
  });
}

/** A small deterministic generator, so a failing history's operation mix is reproducible per client. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A read invented after the end of `history` that returns a value overwritten before it. */
function staleReadOf(history: readonly KvOperation[], lastSeq: number): KvOperation | undefined {
  const acked = history.filter((op) => op.kind === 'put' && op.returnSeq !== Infinity);
  for (const first of acked) {
    const later = acked.find((op) => op.key === first.key && op.callSeq > first.returnSeq);
    if (later !== undefined) {
      return {
        kind: 'get',
        key: first.key,
        value: first.value,
        callSeq: lastSeq + 1,
        returnSeq: lastSeq + 2,
      };
    }
  }
  return undefined;
}

describe('linearizability across a leader SIGKILL (3 real store processes)', () => {
  let cluster: StoreProcesses;
  let raw: RawKv;

  before(async () => {
    cluster = await StoreProcesses.create([1, 2, 3]);
    await cluster.startAll();
    raw = new RawKv(cluster.addresses);
  });

  after(async () => {
    raw?.close();
    await cluster?.stopAll();
  });

  it('put and linearizable get stay linearizable while the leader is killed and restarted', async (t) => {
    const history: KvOperation[] = [];
    let seq = 0;
    let okCount = 0;
    let unknownPuts = 0;
    let stop = false;
    const storeIds = [1, 2, 3];

    const runClient = async (clientId: number): Promise<void> => {
      const random = lcg(clientId + 1);
      const client = new OpClient(raw, storeIds, storeIds[clientId % storeIds.length] as number);
      for (let n = 0; !stop && n < 100_000; n++) {
        const key = KEYS[Math.floor(random() * KEYS.length)] as string;
        const isPut = random() < 0.5;
        const value = `c${clientId}-${n}`;
        const callSeq = ++seq;
        const outcome = isPut ? await client.put(key, value) : await client.get(key);
        const returnSeq = ++seq;
        if (outcome.kind === 'ok') {
          okCount++;
          if (isPut) history.push({ kind: 'put', key, value, callSeq, returnSeq });
          else history.push({ kind: 'get', key, value: outcome.value ?? null, callSeq, returnSeq });
        } else {
          if (outcome.kind === 'unknown' && isPut) {
            unknownPuts++;
            history.push({ kind: 'put', key, value, callSeq, returnSeq: Infinity });
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };

    const reach = (target: number, what: string): Promise<true> =>
      eventually(async () => (okCount >= target ? true : undefined), 120_000, what);

    const clients = Array.from({ length: CLIENTS_COUNT }, (_, i) => runClient(i));
    try {
      await reach(OPS_PER_PHASE, `${OPS_PER_PHASE} operations before the kill`);
      const leader = await eventually(() => cluster.leaderStoreId(), 30_000, 'a leader');
      await cluster.kill9(leader);
      const atKill = okCount;
      await reach(atKill + OPS_PER_PHASE, `${OPS_PER_PHASE} operations after killing store ${leader}`);
      await cluster.start(leader);
      const atRestart = okCount;
      await reach(atRestart + OPS_PER_PHASE, `${OPS_PER_PHASE} operations after restarting store ${leader}`);
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    const result = checkHistory(history, CHECK_STEPS_MAX_PER_KEY);
    const summary =
      `${history.length} operations (${okCount} acknowledged, ${unknownPuts} puts of unknown outcome), ` +
      `${result.stepsTaken} search steps`;
    assert.ok(
      history.some((op) => op.kind === 'get' && op.value !== null),
      `no read saw a written value: ${summary}`,
    );
    assert.deepEqual(result.illegalKeys, [], `not linearizable: ${summary}`);
    assert.deepEqual(result.unknownKeys, [], `the checker ran out of steps: ${summary}`);
    assert.equal(result.outcome, 'ok');
    t.diagnostic(summary);

    // The checker is not vacuous on this history: a read of an overwritten value after the
    // overwrite was acknowledged must be caught.
    const stale = staleReadOf(history, seq);
    assert.ok(stale !== undefined, 'no two acknowledged puts in sequence on one key');
    assert.equal(checkHistory([...history, stale], CHECK_STEPS_MAX_PER_KEY).outcome, 'illegal');
  });
});
