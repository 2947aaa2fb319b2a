// The replicated state machine each simulated node runs: a tiny string map driven by
// committed log entries. It also remembers what the simulator needs to restart a node
// from it (the applied index and the membership at that index) and encodes itself as
// snapshot data. Commands are text so a trace or a failing entry is readable as is.
import type { ConfState, NodeId } from '../../../raft/src/index.js';

/** A client write: set `key` to `value`. (clientId, opId) names the client operation. */
export interface PutCommand {
  readonly clientId: number;
  readonly opId: number;
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const putTag = 'P';
const fieldSeparator = '\t';

export function encodePut(command: PutCommand): Uint8Array {
  for (const text of [command.key, command.value]) {
    if (text.includes(fieldSeparator)) throw new Error(`encodePut: '${text}' contains the field separator`);
  }
  return encoder.encode(
    [putTag, command.clientId, command.opId, command.key, command.value].join(fieldSeparator),
  );
}

/** Decodes a normal entry's data; null for the leader's empty no-op entry. */
export function decodePut(data: Uint8Array): PutCommand | null {
  if (data.length === 0) return null;
  const fields = decoder.decode(data).split(fieldSeparator);
  const [tag, clientId, opId, key, value] = fields;
  if (fields.length !== 5 || tag !== putTag || key === undefined || value === undefined) {
    throw new Error(`decodePut: not a put command: ${JSON.stringify(fields)}`);
  }
  return { clientId: Number(clientId), opId: Number(opId), key, value };
}

export const emptyConfState: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

export function votersConfState(voters: readonly NodeId[]): ConfState {
  return { ...emptyConfState, voters: [...voters] };
}

export class KvStateMachine {
  private readonly values = new Map<string, string>();
  private appliedIndexValue = 0;
  private confStateValue: ConfState;
  /** Index of the last conf change applied (0 if none since the last restore). */
  private lastConfChangeIndexValue = 0;

  constructor(confState: ConfState) {
    this.confStateValue = confState;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  get confState(): ConfState {
    return this.confStateValue;
  }

  get lastConfChangeIndex(): number {
    return this.lastConfChangeIndexValue;
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /** Applies the normal entry at `index`; returns its put command (null for a no-op). */
  applyNormal(index: number, data: Uint8Array): PutCommand | null {
    this.advanceTo(index);
    const command = decodePut(data);
    if (command !== null) this.values.set(command.key, command.value);
    return command;
  }

  /** Records that the conf change entry at `index` was applied, giving `confState`. */
  applyConfChange(index: number, confState: ConfState): void {
    this.advanceTo(index);
    this.confStateValue = confState;
    this.lastConfChangeIndexValue = index;
  }

  /** Snapshot data: the sorted key/value pairs. Membership travels in the snapshot metadata. */
  encode(): Uint8Array {
    const pairs = [...this.values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return encoder.encode(JSON.stringify(pairs));
  }

  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array, index: number, confState: ConfState): void {
    const pairs: unknown = data.length === 0 ? [] : JSON.parse(decoder.decode(data));
    if (!Array.isArray(pairs)) throw new Error('KvStateMachine.restore: snapshot data is not a pair list');
    this.values.clear();
    for (const pair of pairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new Error(`KvStateMachine.restore: bad pair ${JSON.stringify(pair)}`);
      }
      this.values.set(pair[0], pair[1]);
    }
    this.appliedIndexValue = index;
    this.confStateValue = confState;
    this.lastConfChangeIndexValue = 0;
  }

  /** A deep copy: what a sync makes durable. */
  clone(): KvStateMachine {
    const copy = new KvStateMachine(this.confStateValue);
    for (const [key, value] of this.values) copy.values.set(key, value);
    copy.appliedIndexValue = this.appliedIndexValue;
    copy.lastConfChangeIndexValue = this.lastConfChangeIndexValue;
    return copy;
  }

  private advanceTo(index: number): void {
    if (index !== this.appliedIndexValue + 1) {
      throw new Error(
        `KvStateMachine: applying index ${index} after ${this.appliedIndexValue}; expected the next index`,
      );
    }
    this.appliedIndexValue = index;
  }
}
