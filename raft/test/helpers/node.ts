// Helpers for driving one RawNode by hand: build messages, persist a Ready, read its output.
import { MemoryStorage, RawNode, SeededRandom } from '../../src/index.js';
import type { Entry, Message, MessageType, NodeId, RaftConfig, Ready } from '../../src/index.js';
import { newMessage } from '../../src/message.js';
import { confState } from './network.js';

export function msg(fields: Partial<Message> & { type: MessageType; to: NodeId }): Message {
  return newMessage(fields);
}

export function entries(from: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({
    index: from + i,
    term,
    type: 'normal' as const,
    data: new Uint8Array([i]),
  }));
}

export interface SoloOptions {
  readonly id?: NodeId;
  readonly voters?: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  readonly storage?: MemoryStorage;
  readonly config?: Partial<RaftConfig>;
}

/** A RawNode with its own MemoryStorage; `persist` does step 1 of a Ready round. */
export class Solo {
  readonly node: RawNode;
  readonly storage: MemoryStorage;

  constructor(options: SoloOptions = {}) {
    this.storage =
      options.storage ??
      new MemoryStorage({ confState: confState(options.voters ?? [1, 2, 3], options.learners ?? []) });
    this.node = new RawNode({
      id: options.id ?? 1,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      storage: this.storage,
      random: new SeededRandom(3),
      ...options.config,
    });
  }

  /** Takes the Ready, persists it, advances; returns it. */
  round(): Ready {
    const rd = this.node.ready();
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    this.node.advance();
    return rd;
  }

  /** Messages of the next round (persisting it). */
  messages(): Message[] {
    return [...this.round().messages];
  }

  step(m: Partial<Message> & { type: MessageType }): void {
    this.node.step(msg({ to: this.node.status().id, ...m }));
  }
}
