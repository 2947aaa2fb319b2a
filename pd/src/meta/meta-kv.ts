// The narrow key-value interface PD keeps its state through: linearizable reads, atomic
// multi-key writes and compare-and-swap. On a PD member it is the meta region of the
// embedded store (raft-meta-kv.ts), so every write is replicated to the PD members before
// it is acknowledged; unit tests use an in-memory map with the same contract.
import type { KeyRange } from '../../../server/src/storage/engine.js';

export type MetaMutation =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array };

export interface MetaKeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface CompareAndSwapOutcome {
  readonly succeeded: boolean;
  /** The value found (whether or not it matched); undefined when absent. */
  readonly previousValue: Uint8Array | undefined;
}

export interface MetaKv {
  /** Linearizable: sees every write acknowledged before the call. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Linearizable; in key order; at most `limit` pairs. */
  scan(range: KeyRange, limit: number): Promise<MetaKeyValue[]>;
  /** All mutations or none. */
  write(mutations: readonly MetaMutation[]): Promise<void>;
  /** Sets `key` to `newValue` (undefined = delete) only if it holds `expectedValue` (undefined = absent). */
  compareAndSwap(
    key: Uint8Array,
    expectedValue: Uint8Array | undefined,
    newValue: Uint8Array | undefined,
  ): Promise<CompareAndSwapOutcome>;
}

export type MetaStoreErrorCode = 'NOT_LEADER' | 'UNAVAILABLE';

/** The meta store could not serve: this member is not (or no longer) the leader, or it timed out. */
export class MetaStoreError extends Error {
  readonly retryable = true;
  constructor(
    readonly code: MetaStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MetaStoreError';
  }
}
