// Builds BatchCommands frames out of the requests that queued for one store during one
// event-loop turn (or coalescing window). Every request becomes one BatchedRequest of the
// frame — except gets of the same region, peer, epoch and consistency, which merge into a
// single BatchGet: one read barrier on the store instead of one per key. Writes are never
// merged (each keeps its own outcome and error); they still share the frame's round trip.
// Pure: the stream (batch-stream.ts) does the I/O.
import type { kvpb } from '@flotilla/proto';
import type { RequestBody, ResponseBody } from './store-transport.js';

/** A queued request; `mergeable` is false for a get that must go alone (after a merged batch failed). */
export interface QueuedRequest {
  readonly body: RequestBody;
  readonly mergeable: boolean;
}

/** One BatchedRequest of a frame and the queued requests it answers, with how to derive each answer. */
export interface FrameSlot<Q extends QueuedRequest> {
  readonly request: kvpb.BatchedRequest;
  readonly members: readonly Q[];
  /** Turns the slot's response into the response of member `index`; undefined when the member must be resent alone. */
  readonly answer: (response: ResponseBody, index: number) => ResponseBody | undefined;
}

/** Requests one frame may hold (the store accepts 4 096). */
export const FRAME_REQUESTS_MAX = 1_024;
/** Bytes one frame should hold at most (the store accepts 64 MiB messages). */
export const FRAME_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Keys one merged BatchGet may hold (the store's default limit is 10 000). */
export const MERGED_KEYS_MAX = 1_024;

const identity = (response: ResponseBody): ResponseBody => response;

/** Groups `queued` into slots (in arrival order of each group's first member); request ids from `nextId`. */
export function buildSlots<Q extends QueuedRequest>(
  queued: readonly Q[],
  nextId: () => bigint,
): FrameSlot<Q>[] {
  const slots: FrameSlot<Q>[] = [];
  const gets = new Map<string, Q[]>();
  const order: Array<Q | Q[]> = [];
  for (const q of queued) {
    if (q.body.$case !== 'get' || !q.mergeable) {
      order.push(q);
      continue;
    }
    const key = mergeKey(q.body.get.context);
    let group = gets.get(key);
    if (group === undefined || group.length >= MERGED_KEYS_MAX) {
      group = [];
      gets.set(key, group);
      order.push(group);
    }
    group.push(q);
  }
  for (const item of order) {
    if (!Array.isArray(item)) {
      slots.push({ request: { requestId: nextId(), request: item.body }, members: [item], answer: identity });
    } else if (item.length === 1) {
      const only = item[0] as Q;
      slots.push({ request: { requestId: nextId(), request: only.body }, members: item, answer: identity });
    } else {
      slots.push(mergedGets(item, nextId()));
    }
  }
  return slots;
}

/**
 * Splits slots into frames of at most FRAME_REQUESTS_MAX requests and about
 * FRAME_SIZE_BYTES_MAX bytes (a single larger request travels alone): a frame over the
 * store's message limit would fail the whole stream, and every write on it with it.
 */
export function framesOf<Q extends QueuedRequest>(
  slots: readonly FrameSlot<Q>[],
): kvpb.BatchCommandsRequest[] {
  const frames: kvpb.BatchCommandsRequest[] = [];
  let requests: kvpb.BatchedRequest[] = [];
  let sizeBytes = 0;
  for (const slot of slots) {
    const slotBytes = estimatedSizeBytes(slot.request);
    if (
      requests.length > 0 &&
      (requests.length >= FRAME_REQUESTS_MAX || sizeBytes + slotBytes > FRAME_SIZE_BYTES_MAX)
    ) {
      frames.push({ requests });
      requests = [];
      sizeBytes = 0;
    }
    requests.push(slot.request);
    sizeBytes += slotBytes;
  }
  if (requests.length > 0) frames.push({ requests });
  return frames;
}

/** Bytes a request takes on the wire, roughly: its keys and values plus a fixed overhead. */
export function estimatedSizeBytes(request: kvpb.BatchedRequest): number {
  const overhead = 64;
  const r = request.request;
  switch (r?.$case) {
    case 'get':
      return overhead + r.get.key.length;
    case 'batchGet':
      return overhead + r.batchGet.keys.reduce((n, k) => n + k.length + 4, 0);
    case 'scan':
      return overhead + r.scan.startKey.length + r.scan.endKey.length;
    case 'put':
      return overhead + r.put.key.length + r.put.value.length;
    case 'delete':
      return overhead + r.delete.key.length;
    case 'deleteRange':
      return overhead + r.deleteRange.startKey.length + r.deleteRange.endKey.length;
    case 'batchWrite':
      return (
        overhead +
        r.batchWrite.mutations.reduce(
          (n, m) =>
            n +
            8 +
            (m.op?.$case === 'put'
              ? m.op.put.key.length + m.op.put.value.length
              : (m.op?.delete.key.length ?? 0)),
          0,
        )
      );
    case 'compareAndSwap': {
      const c = r.compareAndSwap;
      const expected = c.expected?.$case === 'expectedValue' ? c.expected.expectedValue.length : 0;
      const update = c.update?.$case === 'newValue' ? c.update.newValue.length : 0;
      return overhead + c.key.length + expected + update;
    }
    case undefined:
      return overhead;
  }
}

function mergeKey(context: kvpb.Context | undefined): string {
  if (context === undefined) return 'none';
  const e = context.regionEpoch;
  return `${context.regionId}/${e?.version}/${e?.confVer}/${context.peer?.id}/${context.readConsistency}`;
}

function mergedGets<Q extends QueuedRequest>(members: Q[], requestId: bigint): FrameSlot<Q> {
  const gets = members.map((m) => (m.body as Extract<RequestBody, { $case: 'get' }>).get);
  const first = gets[0] as kvpb.GetRequest;
  const deadlineMs = Math.max(...gets.map((g) => g.context?.deadlineMs ?? 0));
  const context = first.context === undefined ? undefined : { ...first.context, deadlineMs };
  const request: kvpb.BatchedRequest = {
    requestId,
    request: { $case: 'batchGet', batchGet: { context, keys: gets.map((g) => g.key) } },
  };
  let byKey: Map<string, Buffer> | undefined;
  const answer = (response: ResponseBody, index: number): ResponseBody | undefined => {
    if (response.$case !== 'batchGet') return undefined;
    const r = response.batchGet;
    if (r.keyError !== undefined) return undefined;
    const base = { regionError: r.regionError, keyError: undefined };
    if (r.regionError !== undefined)
      return { $case: 'get', get: { ...base, found: false, value: Buffer.alloc(0) } };
    byKey ??= new Map(r.pairs.map((p) => [p.key.toString('latin1'), p.value]));
    const value = byKey.get((gets[index] as kvpb.GetRequest).key.toString('latin1'));
    return { $case: 'get', get: { ...base, found: value !== undefined, value: value ?? Buffer.alloc(0) } };
  };
  return { request, members, answer };
}
