// One BatchCommands stream to one store, shared by every request the client sends there.
// Requests queue until the end of the event-loop turn (or the coalescing window), then go
// out together as one frame: with 64 requests in flight that is one round trip for dozens
// of operations. The stream is opened only on a READY channel; a request that fails before
// its frame is written is reported "not sent", one whose frame was written and whose stream
// then broke is "sent" — the runner decides from that whether a write may be resent.
import * as grpc from '@grpc/grpc-js';
import type { kvpb } from './wire.js';
import type { FrameSlot, QueuedRequest } from './coalescer.js';
import { buildSlots, framesOf } from './coalescer.js';
import type { Deadline } from './deadline.js';
import { whenReady } from './grpc-call.js';
import type { StatsRecorder } from './stats.js';
import type { RequestBody, ResponseBody } from './store-transport.js';
import { SendFailure } from './store-transport.js';

interface Waiter extends QueuedRequest {
  mergeable: boolean;
  readonly deadline: Deadline;
  readonly resolve: (response: ResponseBody) => void;
  readonly reject: (failure: SendFailure) => void;
  /** Set once settled; late answers are dropped. */
  done: boolean;
  sent: boolean;
  cleanup: () => void;
  /** Where the waiter's request awaits its answer, once written. */
  slot: { readonly stream: OpenStream; readonly requestId: bigint } | undefined;
}

type Duplex = grpc.ClientDuplexStream<kvpb.BatchCommandsRequest, kvpb.BatchCommandsResponse>;

/** One opened stream and the requests written to it that await an answer. */
interface OpenStream {
  readonly call: Duplex;
  readonly slots: Map<bigint, FrameSlot<Waiter>>;
}

export class BatchStream {
  private stream: OpenStream | undefined;
  private queued: Waiter[] = [];
  private flushScheduled = false;
  private nextRequestId = 1n;
  private closed = false;

  constructor(
    private readonly client: kvpb.KvClient,
    private readonly address: string,
    private readonly stats: StatsRecorder,
    private readonly windowMs: number,
    private readonly connectTimeoutMs: number,
  ) {}

  send(body: RequestBody, deadline: Deadline): Promise<ResponseBody> {
    return new Promise<ResponseBody>((resolve, reject) => {
      if (this.closed) return reject(new SendFailure('connect', false, 'client closed'));
      const waiter: Waiter = {
        body,
        mergeable: true,
        deadline,
        resolve,
        reject,
        done: false,
        slot: undefined,
        sent: false,
        cleanup: () => {},
      };
      this.arm(waiter);
      this.enqueue(waiter);
    });
  }

  close(): void {
    this.closed = true;
    this.failQueued(new SendFailure('connect', false, 'client closed'));
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) {
      failSent(stream, 'client closed with the request in flight');
      stream.call.cancel();
    }
  }

  /** Settles the waiter at its deadline or abort, whichever comes first. */
  private arm(waiter: Waiter): void {
    const expire = (cause: 'deadline' | 'abort'): void => {
      this.queued = this.queued.filter((q) => q !== waiter);
      settle(
        waiter,
        undefined,
        new SendFailure(cause, waiter.sent, cause === 'abort' ? 'aborted' : 'deadline passed'),
      );
      forgetAnswered(waiter);
    };
    const timer = setTimeout(() => expire('deadline'), waiter.deadline.remainingMs());
    const signal = waiter.deadline.signal;
    const onAbort = (): void => expire('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    waiter.cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) expire('abort');
  }

  private enqueue(waiter: Waiter): void {
    if (waiter.done) return;
    this.queued.push(waiter);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const flush = (): void => void this.flush();
    if (this.windowMs > 0) setTimeout(flush, this.windowMs);
    else setImmediate(flush);
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.stream !== undefined && !this.channelReady()) {
      // The connection under the stream is gone: requests written to it now could not be
      // delivered, so none are; its requests in flight fail when its error arrives.
      this.stream.call.cancel();
      this.stream = undefined;
    }
    if (this.stream === undefined) {
      try {
        await whenReady(this.client, new Date(Date.now() + this.connectTimeoutMs));
      } catch (err) {
        this.failQueued(
          new SendFailure('connect', false, `store ${this.address}: ${(err as Error).message}`),
        );
        return;
      }
    }
    const stream = this.stream ?? (this.stream = this.open());
    const batch = this.queued.filter((w) => !w.done);
    this.queued = [];
    if (batch.length === 0) return;
    const slots = buildSlots(batch, () => this.nextRequestId++);
    for (const slot of slots) {
      stream.slots.set(slot.request.requestId, slot);
      for (const member of slot.members) {
        member.sent = true;
        member.slot = { stream, requestId: slot.request.requestId };
      }
    }
    for (const frame of framesOf(slots)) {
      this.stats.rpcs++;
      this.stats.requests += frame.requests.length;
      stream.call.write(frame);
    }
  }

  private channelReady(): boolean {
    return this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  private open(): OpenStream {
    const stream: OpenStream = { call: this.client.batchCommands(), slots: new Map() };
    stream.call.on('data', (frame: kvpb.BatchCommandsResponse) => this.receive(stream, frame));
    const broken = (why: string): void => {
      if (this.stream === stream) this.stream = undefined;
      failSent(stream, why);
    };
    stream.call.on('error', (err: Error) => broken(`stream to ${this.address} failed: ${err.message}`));
    stream.call.on('end', () => broken(`store ${this.address} ended the stream`));
    return stream;
  }

  private receive(stream: OpenStream, frame: kvpb.BatchCommandsResponse): void {
    for (const batched of frame.responses) {
      const slot = stream.slots.get(batched.requestId);
      if (slot === undefined || batched.response === undefined) continue;
      stream.slots.delete(batched.requestId);
      const response = batched.response;
      slot.members.forEach((member, index) => {
        const answer = slot.answer(response, index);
        if (answer !== undefined) return settle(member, answer, undefined);
        // Its merged batch was refused as a whole before anything was applied (or it was a
        // read): resend it alone.
        if (member.done) return;
        member.mergeable = false;
        member.sent = false;
        member.slot = undefined;
        this.enqueue(member);
      });
    }
  }

  private failQueued(failure: SendFailure): void {
    const queued = this.queued;
    this.queued = [];
    for (const w of queued) settle(w, undefined, failure);
  }
}

/** Drops the slot of a settled waiter once no member still waits (the store never answered). */
function forgetAnswered(waiter: Waiter): void {
  const where = waiter.slot;
  if (where === undefined) return;
  const slot = where.stream.slots.get(where.requestId);
  if (slot !== undefined && slot.members.every((m) => m.done)) where.stream.slots.delete(where.requestId);
}

function failSent(stream: OpenStream, why: string): void {
  const slots = [...stream.slots.values()];
  stream.slots.clear();
  for (const slot of slots) {
    for (const member of slot.members) settle(member, undefined, new SendFailure('connection', true, why));
  }
}

function settle(waiter: Waiter, response: ResponseBody | undefined, failure: SendFailure | undefined): void {
  if (waiter.done) return;
  waiter.done = true;
  waiter.cleanup();
  if (response !== undefined) waiter.resolve(response);
  else waiter.reject(failure as SendFailure);
}
