// The Kv gRPC service: unary calls map a validation failure to INVALID_ARGUMENT (or
// DEADLINE_EXCEEDED) with a message; the BatchCommands stream carries the same failures
// in-band as a KeyError per request, since one bad request must not end the stream.
import type { ServerDuplexStream, ServiceError, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';
import type { KvHandlers } from './kv-handlers.js';
import type { KvLimits } from './kv-limits.js';
import { KvRequestError } from './kv-limits.js';

/** Requests of one BatchCommands stream being served at once; beyond it requests are refused as busy. */
const BATCH_STREAM_IN_FLIGHT_MAX = 16_384;

export interface KvServiceOptions {
  readonly handlers: KvHandlers;
  readonly limits: KvLimits;
  /** Reports unexpected handler failures (bugs), which reach clients as INTERNAL. */
  readonly onInternalError: (error: unknown) => void;
}

function grpcError(err: unknown, onInternalError: (error: unknown) => void): Partial<ServiceError> {
  if (err instanceof KvRequestError) {
    const code =
      err.code === kvpb.KeyErrorCode.DEADLINE_EXCEEDED
        ? GrpcStatus.DEADLINE_EXCEEDED
        : GrpcStatus.INVALID_ARGUMENT;
    return { code, details: err.message, message: err.message };
  }
  onInternalError(err);
  const message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
  return { code: GrpcStatus.INTERNAL, details: message, message };
}

function unary<Req, Res>(
  run: (req: Req) => Promise<Res>,
  onInternalError: (error: unknown) => void,
): handleUnaryCall<Req, Res> {
  return (call, callback: sendUnaryData<Res>) => {
    // Validation throws synchronously in some handlers: start inside a promise so every
    // failure reaches the callback as a status.
    Promise.resolve(call.request)
      .then(run)
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(grpcError(err, onInternalError)),
      );
  };
}

export function kvServiceImplementation(options: KvServiceOptions): kvpb.KvServer {
  const { handlers: h, onInternalError } = options;
  return {
    get: unary((r: kvpb.GetRequest) => h.get(r), onInternalError),
    batchGet: unary((r: kvpb.BatchGetRequest) => h.batchGet(r), onInternalError),
    scan: unary((r: kvpb.ScanRequest) => h.scan(r), onInternalError),
    put: unary((r: kvpb.PutRequest) => h.put(r), onInternalError),
    delete: unary((r: kvpb.DeleteRequest) => h.delete(r), onInternalError),
    deleteRange: unary((r: kvpb.DeleteRangeRequest) => h.deleteRange(r), onInternalError),
    batchWrite: unary((r: kvpb.BatchWriteRequest) => h.batchWrite(r), onInternalError),
    compareAndSwap: unary((r: kvpb.CompareAndSwapRequest) => h.compareAndSwap(r), onInternalError),
    batchCommands: (stream) => serveBatchCommands(stream, options),
  };
}

type BatchStream = ServerDuplexStream<kvpb.BatchCommandsRequest, kvpb.BatchCommandsResponse>;

function serveBatchCommands(stream: BatchStream, options: KvServiceOptions): void {
  let inFlight = 0;
  let outgoing: kvpb.BatchedResponse[] = [];
  let flushScheduled = false;
  let closed = false;
  const flush = (): void => {
    flushScheduled = false;
    if (closed || outgoing.length === 0) return;
    const responses = outgoing;
    outgoing = [];
    stream.write({ responses });
  };
  const respond = (response: kvpb.BatchedResponse): void => {
    outgoing.push(response);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  stream.on('data', (frame: kvpb.BatchCommandsRequest) => {
    for (const request of frame.requests) {
      if (
        frame.requests.length > options.limits.batchCommandsRequestsMax ||
        inFlight >= BATCH_STREAM_IN_FLIGHT_MAX
      ) {
        respond(
          refuse(
            request,
            `too many requests in flight on this stream (frame ${frame.requests.length}, in flight ${inFlight})`,
          ),
        );
        continue;
      }
      inFlight++;
      runBatched(request, options).then(
        (response) => {
          inFlight--;
          respond(response);
        },
        (err: unknown) => {
          inFlight--;
          options.onInternalError(err);
          // Not the client's fault, and a write may have been proposed: never INVALID_ARGUMENT.
          respond(
            refuse(
              request,
              `internal error (a write may or may not have been applied): ${err instanceof Error ? err.message : String(err)}`,
              kvpb.KeyErrorCode.UNSPECIFIED,
            ),
          );
        },
      );
    }
  });
  stream.on('end', () => {
    closed = true;
    stream.end();
  });
  stream.on('error', () => {
    closed = true;
  });
}

/** Runs one request of a batch; validation failures become the response's KeyError. */
async function runBatched(
  request: kvpb.BatchedRequest,
  options: KvServiceOptions,
): Promise<kvpb.BatchedResponse> {
  const h = options.handlers;
  const id = request.requestId;
  const r = request.request;
  try {
    switch (r?.$case) {
      case 'get':
        return { requestId: id, response: { $case: 'get', get: await h.get(r.get) } };
      case 'batchGet':
        return { requestId: id, response: { $case: 'batchGet', batchGet: await h.batchGet(r.batchGet) } };
      case 'scan':
        return { requestId: id, response: { $case: 'scan', scan: await h.scan(r.scan) } };
      case 'put':
        return { requestId: id, response: { $case: 'put', put: await h.put(r.put) } };
      case 'delete':
        return { requestId: id, response: { $case: 'delete', delete: await h.delete(r.delete) } };
      case 'deleteRange':
        return {
          requestId: id,
          response: { $case: 'deleteRange', deleteRange: await h.deleteRange(r.deleteRange) },
        };
      case 'batchWrite':
        return {
          requestId: id,
          response: { $case: 'batchWrite', batchWrite: await h.batchWrite(r.batchWrite) },
        };
      case 'compareAndSwap':
        return {
          requestId: id,
          response: { $case: 'compareAndSwap', compareAndSwap: await h.compareAndSwap(r.compareAndSwap) },
        };
      case undefined:
        return refuse(request, 'batched request has no operation');
    }
  } catch (err) {
    if (err instanceof KvRequestError) return refuse(request, err.message, err.code, err.key);
    throw err;
  }
}

/** A response of the request's own kind carrying only a KeyError. */
function refuse(
  request: kvpb.BatchedRequest,
  message: string,
  code: kvpb.KeyErrorCode = kvpb.KeyErrorCode.INVALID_ARGUMENT,
  key: Uint8Array = new Uint8Array(0),
): kvpb.BatchedResponse {
  const keyError: kvpb.KeyError = { code, message, key: Buffer.from(key) };
  const base = { regionError: undefined, keyError };
  const id = request.requestId;
  switch (request.request?.$case) {
    case 'get':
      return {
        requestId: id,
        response: { $case: 'get', get: { ...base, found: false, value: Buffer.alloc(0) } },
      };
    case 'batchGet':
      return { requestId: id, response: { $case: 'batchGet', batchGet: { ...base, pairs: [] } } };
    case 'scan':
      return { requestId: id, response: { $case: 'scan', scan: { ...base, pairs: [], hasMore: false } } };
    case 'put':
      return { requestId: id, response: { $case: 'put', put: base } };
    case 'delete':
      return { requestId: id, response: { $case: 'delete', delete: base } };
    case 'deleteRange':
      return { requestId: id, response: { $case: 'deleteRange', deleteRange: base } };
    case 'batchWrite':
      return { requestId: id, response: { $case: 'batchWrite', batchWrite: base } };
    case 'compareAndSwap':
      return {
        requestId: id,
        response: {
          $case: 'compareAndSwap',
          compareAndSwap: { ...base, succeeded: false, previousFound: false, previousValue: Buffer.alloc(0) },
        },
      };
    case undefined:
      return { requestId: id, response: { $case: 'put', put: base } };
  }
}
