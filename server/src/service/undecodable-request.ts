// A request whose bytes do not decode (truncated field, bad varint, wrong wire type) is the
// caller's mistake: it ends with INVALID_ARGUMENT and the decoder's reason. grpc-js answers
// INTERNAL "Error deserializing request" whenever a method's deserializer throws, so every
// service this process serves goes through decodingChecked(), whose deserializers hand a
// failure on as an UndecodableRequest value, and the server runs rejectUndecodableRequests,
// which ends the call on that value before any handler sees it (unary calls and streams).
import * as grpc from '@grpc/grpc-js';

/** What a wrapped deserializer returns instead of throwing. */
export class UndecodableRequest {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}
}

/** The same service with deserializers that never throw (see UndecodableRequest). */
export function decodingChecked<D extends grpc.ServiceDefinition>(definition: D): D {
  const checked: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as Array<
    [string, grpc.MethodDefinition<unknown, unknown>]
  >) {
    checked[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new UndecodableRequest(method.path, err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return checked as unknown as D;
}

/**
 * Ends a call with INVALID_ARGUMENT at its first undecodable message; nothing of it (nor the
 * half-close that follows) reaches the handler, which is told the call was cancelled.
 */
export const rejectUndecodableRequests: grpc.ServerInterceptor = (_method, call) => {
  let refused = false;
  const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message: unknown, nextMessage) => {
          if (refused) return;
          if (!(message instanceof UndecodableRequest)) return nextMessage(message);
          refused = true;
          intercepting.sendStatus({
            code: grpc.status.INVALID_ARGUMENT,
            details: `malformed request to ${message.path}: ${message.reason}`,
            metadata: new grpc.Metadata(),
          });
        },
        onReceiveHalfClose: (nextHalfClose) => {
          if (!refused) nextHalfClose();
        },
      }),
  });
  return intercepting;
};

/** Server options that turn undecodable requests into INVALID_ARGUMENT (with decodingChecked services). */
export function withUndecodableRequestsRefused(options: grpc.ServerOptions): grpc.ServerOptions {
  return { ...options, interceptors: [...(options.interceptors ?? []), rejectUndecodableRequests] };
}
