// @flotilla/sdk: the TypeScript client of Flotilla. Everything an application uses is
// exported here; nothing else in src/ is public.
export { createClient, FlotillaClient } from './client.js';
export type { CompareAndSwapOptions, CompareAndSwapResult, ScanOptions } from './client.js';
export type { Mutation } from './arguments.js';
export type { KvPair } from './scan-iterator.js';
export type { Bytes } from './keys.js';
export type {
  CallOptions,
  ClientOptions,
  Consistency,
  PutOptions,
  ReadOptions,
  WriteOptions,
} from './options.js';
export type { ClientStats, RetryReason } from './stats.js';
export {
  AbortedError,
  ClientClosedError,
  DiskFullError,
  EntryTooLargeError,
  FlotillaError,
  InternalError,
  InvalidArgumentError,
  KeyTooLargeError,
  QueueFullError,
  ResultUnknownError,
  ServerBusyError,
  TimeoutError,
  TooManyKeysError,
  UnavailableError,
  ValueTooLargeError,
} from './errors.js';
export type { FlotillaErrorCode } from './errors.js';
