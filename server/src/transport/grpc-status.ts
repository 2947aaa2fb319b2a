// Building gRPC error statuses with a machine-readable Flotilla error code in the trailers,
// so the other side reads `code` from metadata instead of parsing the details string.
import * as grpc from '@grpc/grpc-js';

/** Trailer key holding the Flotilla error code of a failed call. */
export const ERROR_CODE_METADATA_KEY = 'flotilla-error-code';

export interface StatusError {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

export function statusError(code: grpc.status, details: string, errorCode: string): StatusError {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, errorCode);
  return { code, details, metadata };
}

/** The Flotilla error code carried by a failed call, or null when the peer sent none. */
export function errorCodeOf(err: grpc.ServiceError): string | null {
  const value = err.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  return typeof value === 'string' ? value : null;
}
