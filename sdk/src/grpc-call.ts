// One place that turns a grpc-js unary call into a promise, and the channel settings every
// connection of the SDK shares (keepalive, message size). Also the wait for a channel to be
// connected, which is how the client knows a request was never sent: it sends only on a
// READY channel, so a failure to get there means "not sent, safe to send elsewhere".
import * as grpc from '@grpc/grpc-js';

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export function unaryCall<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadline: Date,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method.call(client, request, metadata, { deadline }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

export function channelOptions(keepaliveTimeMs: number): grpc.ClientOptions {
  return {
    'grpc.keepalive_time_ms': keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': Math.max(1_000, Math.floor(keepaliveTimeMs / 2)),
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // Reconnect quickly after a store restarts; the SDK has its own backoff on top.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1_000,
  };
}

/** Why a channel could not be used. */
export class ChannelNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelNotReadyError';
  }
}

/**
 * Resolves once `client`'s channel is READY; rejects with ChannelNotReadyError when it fails
 * to connect (TRANSIENT_FAILURE), is shut down, or is not ready by `deadline`.
 */
export function whenReady(client: grpc.Client, deadline: Date): Promise<void> {
  const channel = client.getChannel();
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      switch (state) {
        case grpc.connectivityState.READY:
          return resolve();
        case grpc.connectivityState.SHUTDOWN:
          return reject(new ChannelNotReadyError('channel is shut down'));
        case grpc.connectivityState.TRANSIENT_FAILURE:
          // grpc-js reconnects by itself after its backoff; meanwhile try elsewhere.
          return reject(new ChannelNotReadyError('connection failed'));
        default:
          channel.watchConnectivityState(state, deadline, (err?: Error) => {
            if (err) reject(new ChannelNotReadyError('not connected by the deadline'));
            else check();
          });
      }
    };
    check();
  });
}
