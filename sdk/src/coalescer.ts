// Builds BatchCommands frames out of the requests that queued for one store during one
// event-loop turn (or coalescing window). Requests for the same region (and peer, epoch,
// consistency) merge: gets into one BatchGet — one read barrier on the store instead of one
// per key — and puts and deletes into one BatchWrite — one Raft entry instead of one per
// write. Merging concurrent writes is safe: they have no order among themselves, the batch
// keeps their submission order, and a batch refused before it was proposed (a size limit,
// RaftEntryTooLarge) is resent as separate requests. Everything else travels as its own
// request in the shared frame. Pure: the stream (batch-stream.ts) does the I/O.
import { kvpb } from './wire.js';
import type { RequestBody, ResponseBody } from './store-transport.js';

/** A queued request; `mergeable` is false for one that must go alone (after its merged batch was refused). */
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
/** Keys one merged BatchGet or BatchWrite may hold (the store's default limit is 10 000). */
export const MERGED_KEYS_MAX = 1_024;
/** Bytes of keys and values one merged BatchWrite may hold (a Raft entry may be up to 8 MiB). */
export const MERGED_WRITE_BYTES_MAX = 1024 * 1024;

const identity = (response: ResponseBody): ResponseBody => response;

/** Groups `queued` into slots (in arrival order of each group's first member); request ids from `nextId`. */
export function buildSlots<Q extends QueuedRequest>(
  queued: readonly Q[],
  nextId: () => bigint,
): FrameSlot<Q>[] {
  const slots: FrameSlot<Q>[] = [];
  const groups = new Map<string, { members: Q[]; sizeBytes: number }>();
  const order: Array<Q | Q[]> = [];
  for (const q of queued) {
    const kind = mergeKind(q);
    if (kind === undefined) {
      order.push(q);
      continue;
    }
    const key = `${kind}/${mergeKey(contextOf(q.body))}`;
    const sizeBytes = estimatedBodySizeBytes(q.body);
    let group = groups.get(key);
    if (
      group === undefined ||
      group.members.length >= MERGED_KEYS_MAX ||
      (kind === 'write' && group.sizeBytes + sizeBytes > MERGED_WRITE_BYTES_MAX)
    ) {
      group = { members: [], sizeBytes: 0 };
      groups.set(key, group);
      order.push(group.members);
    }
    group.members.push(q);
    group.sizeBytes += sizeBytes;
  }
  for (const item of order) {
    if (!Array.isArray(item)) {
      slots.push({ request: { requestId: nextId(), request: item.body }, members: [item], answer: identity });
    } else if (item.length === 1) {
      const only = item[0] as Q;
      slots.push({ request: { requestId: nextId(), request: only.body }, members: item, answer: identity });
    } else if (item[0]?.body.$case === 'get') {
      slots.push(mergedGets(item, nextId()));
    } else {
      slots.push(mergedWrites(item, nextId()));
    }
  }
  return slots;
}

function mergeKind(q: QueuedRequest): 'read' | 'write' | undefined {
  if (!q.mergeable) return undefined;
  switch (q.body.$case) {
    case 'get':
      return 'read';
    case 'put':
    case 'delete':
      return 'write';
    default:
      return undefined;
  }
}

function contextOf(body: RequestBody): kvpb.Context | undefined {
  switch (body.$case) {
    case 'get':
      return body.get.context;
    case 'put':
      return body.put.context;
    case 'delete':
      return body.delete.context;
    default:
      return undefined;
  }
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
  return request.request === undefined ? 64 : estimatedBodySizeBytes(request.request);
}

function estimatedBodySizeBytes(r: RequestBody): number {
  const overhead = 64;
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
  }
}

function mergeKey(context: kvpb.Context | undefined): string {
  if (context === undefined) return 'none';
  const e = context.regionEpoch;
  return `${context.regionId}/${e?.version}/${e?.confVer}/${context.peer?.id}/${context.readConsistency}`;
}

function mergedGets<Q extends QueuedRequest>(members: Q[], requestId: bigint): FrameSlot<Q> {
  const gets = members.map((m) => (m.body as Extract<RequestBody, { $case: 'get' }>).get);
  const context = sharedContext(gets.map((g) => g.context));
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

/** The context all members of a merged request share, with the longest of their deadlines. */
function sharedContext(contexts: ReadonlyArray<kvpb.Context | undefined>): kvpb.Context | undefined {
  const first = contexts[0];
  if (first === undefined) return undefined;
  return { ...first, deadlineMs: Math.max(...contexts.map((c) => c?.deadlineMs ?? 0)) };
}

function mergedWrites<Q extends QueuedRequest>(members: Q[], requestId: bigint): FrameSlot<Q> {
  const mutations: kvpb.Mutation[] = members.map((m) => {
    const body = m.body;
    if (body.$case === 'put')
      return {
        op: { $case: 'put', put: { key: body.put.key, value: body.put.value, ttlMs: body.put.ttlMs } },
      };
    if (body.$case === 'delete') return { op: { $case: 'delete', delete: { key: body.delete.key } } };
    throw new Error(`cannot merge a ${body.$case} into a BatchWrite`);
  });
  const request: kvpb.BatchedRequest = {
    requestId,
    request: {
      $case: 'batchWrite',
      batchWrite: { context: sharedContext(members.map((m) => contextOf(m.body))), mutations },
    },
  };
  const answer = (response: ResponseBody, index: number): ResponseBody | undefined => {
    if (response.$case !== 'batchWrite') return undefined;
    const { regionError, keyError } = response.batchWrite;
    // Refused before it was proposed: nothing was written; each write goes again alone.
    if (regionError?.error?.$case === 'raftEntryTooLarge') return undefined;
    if (keyError !== undefined && REFUSED_BEFORE_PROPOSING.has(keyError.code)) return undefined;
    const errors = { regionError, keyError };
    const body = (members[index] as Q).body;
    return body.$case === 'put' ? { $case: 'put', put: errors } : { $case: 'delete', delete: errors };
  };
  return { request, members, answer };
}

/** Key errors the store raises while validating, before anything is proposed. */
const REFUSED_BEFORE_PROPOSING: ReadonlySet<kvpb.KeyErrorCode> = new Set([
  kvpb.KeyErrorCode.KEY_TOO_LARGE,
  kvpb.KeyErrorCode.VALUE_TOO_LARGE,
  kvpb.KeyErrorCode.TOO_MANY_KEYS,
]);
