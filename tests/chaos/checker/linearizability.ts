// A linearizability checker for the key-value history the simulated clients record, in the
// style of Wing & Gong with Lowe's memoization, as Porcupine implements it. Linearizability
// is compositional (P-compositionality), so each key is checked on its own as a register.
// An operation whose outcome the client never learned has an open response time: it may
// take effect at any point after its invocation, or never. The search is bounded by a step
// count and answers 'unknown' instead of running on.

/** One completed (or possibly completed) operation on a register named by `key`. */
export type KvOperation =
  | {
      readonly kind: 'put';
      readonly key: string;
      readonly value: string;
      /** Position of the invocation in the global event order. */
      readonly callSeq: number;
      /** Position of the response; Infinity when the outcome is unknown. */
      readonly returnSeq: number;
    }
  | {
      readonly kind: 'get';
      readonly key: string;
      /** The value read; null when the key was absent. */
      readonly value: string | null;
      readonly callSeq: number;
      readonly returnSeq: number;
    };

export type KeyCheckOutcome = 'ok' | 'illegal' | 'unknown';

export interface HistoryCheckResult {
  readonly outcome: KeyCheckOutcome;
  /** Keys whose sub-history is not linearizable, and those the step bound cut short. */
  readonly illegalKeys: readonly string[];
  readonly unknownKeys: readonly string[];
  readonly operationsChecked: number;
  readonly stepsTaken: number;
}

interface EventNode {
  readonly operation: number;
  readonly isCall: boolean;
  /** For a call: its return event. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

/** Checks every key's sub-history; `stepsMaxPerKey` bounds each key's search. */
export function checkHistory(operations: readonly KvOperation[], stepsMaxPerKey: number): HistoryCheckResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const operation of operations) {
    let list = byKey.get(operation.key);
    if (list === undefined) byKey.set(operation.key, (list = []));
    list.push(operation);
  }
  const illegalKeys: string[] = [];
  const unknownKeys: string[] = [];
  let stepsTaken = 0;
  for (const key of [...byKey.keys()].sort()) {
    const result = checkRegister(byKey.get(key) ?? [], stepsMaxPerKey);
    stepsTaken += result.steps;
    if (result.outcome === 'illegal') illegalKeys.push(key);
    if (result.outcome === 'unknown') unknownKeys.push(key);
  }
  const outcome: KeyCheckOutcome =
    illegalKeys.length > 0 ? 'illegal' : unknownKeys.length > 0 ? 'unknown' : 'ok';
  return { outcome, illegalKeys, unknownKeys, operationsChecked: operations.length, stepsTaken };
}

/** Checks the history of one register (all operations on one key, initially absent). */
export function checkRegister(
  operations: readonly KvOperation[],
  stepsMax: number,
): { outcome: KeyCheckOutcome; steps: number } {
  for (const operation of operations) {
    if (!(operation.returnSeq > operation.callSeq)) {
      throw new Error(
        `checkRegister: operation returns (${operation.returnSeq}) before its call (${operation.callSeq})`,
      );
    }
    if (operation.kind === 'get' && operation.returnSeq === Infinity) {
      throw new Error('checkRegister: a read with an unknown outcome constrains nothing; leave it out');
    }
  }
  const head = buildEventList(operations);
  const linearized = new Uint32Array(Math.ceil(operations.length / 32));
  const seen = new Set<string>();
  const stack: { entry: EventNode; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > stepsMax) return { outcome: 'unknown', steps };
    if (entry === null) throw new Error('checkRegister: ran off the event list');
    if (entry.isCall) {
      const operation = operations[entry.operation];
      if (operation === undefined) throw new Error('checkRegister: event names a missing operation');
      const next = stepRegister(state, operation);
      if (next.legal) {
        setBit(linearized, entry.operation, true);
        const cacheKey = `${next.state ?? '\u0000'}|${linearized.join(',')}`;
        if (!seen.has(cacheKey)) {
          seen.add(cacheKey);
          stack.push({ entry, state });
          state = next.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        setBit(linearized, entry.operation, false);
      }
      entry = entry.next;
    } else {
      // A return whose call is not yet linearized: backtrack.
      const top = stack.pop();
      if (top === undefined) return { outcome: 'illegal', steps };
      state = top.state;
      setBit(linearized, top.entry.operation, false);
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { outcome: 'ok', steps };
}

function stepRegister(
  state: string | null,
  operation: KvOperation,
): { legal: boolean; state: string | null } {
  if (operation.kind === 'put') return { legal: true, state: operation.value };
  return { legal: operation.value === state, state };
}

function buildEventList(operations: readonly KvOperation[]): EventNode {
  const events: { time: number; node: EventNode }[] = [];
  operations.forEach((operation, index) => {
    const call: EventNode = { operation: index, isCall: true, match: null, prev: null, next: null };
    const ret: EventNode = { operation: index, isCall: false, match: null, prev: null, next: null };
    call.match = ret;
    events.push({ time: operation.callSeq, node: call }, { time: operation.returnSeq, node: ret });
  });
  // Open responses all sit at Infinity: order them by operation so the list is deterministic.
  events.sort((a, b) => a.time - b.time || (a.time === b.time ? a.node.operation - b.node.operation : 0));
  const head: EventNode = { operation: -1, isCall: false, match: null, prev: null, next: null };
  let tail = head;
  for (const { node } of events) {
    tail.next = node;
    node.prev = tail;
    tail = node;
  }
  return head;
}

/** Takes a call and its return out of the list (the operation is linearized). */
function lift(call: EventNode): void {
  const ret = call.match;
  if (call.prev === null || call.next === null || ret === null || ret.prev === null) {
    throw new Error('checkRegister: lift of a detached event');
  }
  call.prev.next = call.next;
  call.next.prev = call.prev;
  ret.prev.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Undoes lift; calls must be undone in reverse order. */
function unlift(call: EventNode): void {
  const ret = call.match;
  if (call.prev === null || call.next === null || ret === null || ret.prev === null) {
    throw new Error('checkRegister: unlift of a detached event');
  }
  ret.prev.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev.next = call;
  call.next.prev = call;
}

function setBit(bits: Uint32Array, index: number, on: boolean): void {
  const word = index >>> 5;
  const mask = 1 << (index & 31);
  const current = bits[word];
  if (current === undefined) throw new Error(`setBit: index ${index} out of range`);
  bits[word] = on ? current | mask : current & ~mask;
}

/**
 * Shrinks an illegal sub-history of one key to a small one that is still illegal, so a
 * failure report shows the few operations that contradict each other instead of thousands.
 * First a short illegal prefix in call order (binary search; every prefix it keeps was seen
 * illegal, so the answer stays illegal even where a later call would have explained a read),
 * then single operations dropped while the rest stays illegal.
 * `checksMax` bounds the register checks spent; the result is illegal but may not be minimal
 * when the bound is hit. Returns the operations sorted by call.
 */
export function shrinkIllegalRegister(
  operations: readonly KvOperation[],
  stepsMax: number,
  checksMax: number,
): KvOperation[] {
  let checks = 0;
  const illegal = (candidate: readonly KvOperation[]): boolean => {
    checks++;
    return checkRegister(candidate, stepsMax).outcome === 'illegal';
  };
  const sorted = [...operations].sort((a, b) => a.callSeq - b.callSeq);
  if (!illegal(sorted)) throw new Error('shrinkIllegalRegister: the history given is not illegal');
  // Invariant: sorted.slice(0, high) is illegal.
  let low = 1;
  let high = sorted.length;
  while (low < high && checks < checksMax) {
    const middle = (low + high) >>> 1;
    if (illegal(sorted.slice(0, middle))) high = middle;
    else low = middle + 1;
  }
  let current = sorted.slice(0, high);
  for (let index = current.length - 1; index >= 0 && checks < checksMax; index--) {
    const without = [...current.slice(0, index), ...current.slice(index + 1)];
    if (without.length > 0 && illegal(without)) current = without;
  }
  if (current.length === 0) throw new Error('shrinkIllegalRegister: shrank to an empty history');
  return current;
}
