// The one interface the workload generator drives: Flotilla (through the SDK, or the unary
// client for read modes the SDK does not offer) and etcd (through the etcd3 client) look the
// same to it, so both systems run the very same key sequence and loop.

/**
 * How fresh a read must be. linearizable: ReadIndex (Flotilla) / quorum read (etcd);
 * lease: the leader's lease; log: a read barrier through the Raft log; stale: any replica's
 * local state (etcd: serializable).
 */
export type ReadMode = 'linearizable' | 'lease' | 'log' | 'stale';

export interface KvTarget {
  /** 'flotilla' or 'etcd-defaults' etc.: the system (and profile) in result tables. */
  readonly name: string;
  readonly readModes: readonly ReadMode[];
  put(key: Buffer, value: Buffer): Promise<void>;
  get(key: Buffer, mode: ReadMode): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

export class UnsupportedReadModeError extends Error {
  constructor(target: string, mode: ReadMode) {
    super(`${target} does not offer '${mode}' reads`);
    this.name = 'UnsupportedReadModeError';
  }
}
