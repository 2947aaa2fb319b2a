// What the request runner needs from the network: send one request to a store and get its
// response, or a SendFailure saying whether the request may have reached the store. That
// one bit decides whether a write may be retried, so every transport must set it honestly:
// `sent: false` only when the request certainly never left the client.
import type { errorpb, kvpb } from './wire.js';
import type { Deadline } from './deadline.js';

export type RequestBody = NonNullable<kvpb.BatchedRequest['request']>;
export type ResponseBody = NonNullable<kvpb.BatchedResponse['response']>;

export type SendFailureCause =
  /** Could not connect, or the channel failed before the request was written. */
  | 'connect'
  /** The connection or stream broke after the request was written. */
  | 'connection'
  /** The call's deadline passed. */
  | 'deadline'
  /** The call's AbortSignal fired. */
  | 'abort'
  /** The server answered with a gRPC status (unary calls). */
  | 'status';

export class SendFailure extends Error {
  constructor(
    readonly kind: SendFailureCause,
    /** Whether the request may have reached the store (false only when it certainly did not). */
    readonly sent: boolean,
    message: string,
    /** The gRPC status code, when the failure is one. */
    readonly grpcCode?: number,
  ) {
    super(message);
    this.name = 'SendFailure';
  }
}

export interface StoreTransport {
  /**
   * Sends `body` to the store at `address`; resolves with the response of the same case,
   * rejects only with SendFailure. Metadata carries the W3C `traceparent` when given.
   */
  send(
    storeId: bigint,
    address: string,
    body: RequestBody,
    deadline: Deadline,
    traceparent: string | undefined,
  ): Promise<ResponseBody>;
  close(): void;
}

/** The region and key error fields every response kind has. */
export interface ResponseErrors {
  readonly regionError?: errorpb.RegionError | undefined;
  readonly keyError?: kvpb.KeyError | undefined;
}

/** The inner response of a BatchedResponse case. */
export function innerResponse(body: ResponseBody): ResponseErrors {
  switch (body.$case) {
    case 'get':
      return body.get;
    case 'batchGet':
      return body.batchGet;
    case 'scan':
      return body.scan;
    case 'put':
      return body.put;
    case 'delete':
      return body.delete;
    case 'deleteRange':
      return body.deleteRange;
    case 'batchWrite':
      return body.batchWrite;
    case 'compareAndSwap':
      return body.compareAndSwap;
  }
}

/** The routing context of a request body, which the runner fills in per attempt. */
export function withContext(body: RequestBody, context: kvpb.Context): RequestBody {
  switch (body.$case) {
    case 'get':
      return { $case: 'get', get: { ...body.get, context } };
    case 'batchGet':
      return { $case: 'batchGet', batchGet: { ...body.batchGet, context } };
    case 'scan':
      return { $case: 'scan', scan: { ...body.scan, context } };
    case 'put':
      return { $case: 'put', put: { ...body.put, context } };
    case 'delete':
      return { $case: 'delete', delete: { ...body.delete, context } };
    case 'deleteRange':
      return { $case: 'deleteRange', deleteRange: { ...body.deleteRange, context } };
    case 'batchWrite':
      return { $case: 'batchWrite', batchWrite: { ...body.batchWrite, context } };
    case 'compareAndSwap':
      return { $case: 'compareAndSwap', compareAndSwap: { ...body.compareAndSwap, context } };
  }
}
