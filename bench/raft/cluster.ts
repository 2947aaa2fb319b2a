// An in-memory Raft group for benchmarks: RawNodes over MemoryStorage with a message
// queue, driven round by round the way a store loop drives them (collect every Ready,
// persist, then deliver the messages, then apply and advance). No I/O, no timers.
import { MemoryStorage, RawNode, SeededRandom } from '@flotilla/raft';
import type { ConfState, Message, NodeId } from '@flotilla/raft';

export interface BenchGroupOptions {
  readonly nodeIds: readonly NodeId[];
  readonly seed: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
}

export class BenchGroup {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  private inbox: Message[] = [];
  appliedEntriesCount = 0;
  messagesDeliveredCount = 0;

  constructor(options: BenchGroupOptions) {
    const confState: ConfState = {
      voters: options.nodeIds,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    for (const id of options.nodeIds) {
      const storage = new MemoryStorage({ confState });
      this.storages.set(id, storage);
      this.nodes.set(
        id,
        new RawNode({
          id,
          electionTimeoutTicks: options.electionTimeoutTicks,
          heartbeatIntervalTicks: options.heartbeatIntervalTicks,
          storage,
          random: new SeededRandom(options.seed * 1009 + id),
        }),
      );
    }
  }

  node(id: NodeId): RawNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** One store-loop round for every node: collect Ready, persist, queue messages, apply, advance; then deliver queued messages. */
  round(): void {
    for (const [id, node] of this.nodes) {
      if (!node.hasReady()) continue;
      const ready = node.ready();
      const storage = this.storages.get(id);
      if (!storage) throw new Error(`no storage ${id}`);
      if (ready.snapshot) storage.applySnapshot(ready.snapshot);
      if (ready.entries.length > 0) storage.append(ready.entries);
      if (ready.hardState) storage.setHardState(ready.hardState);
      for (const m of ready.messages) this.inbox.push(m);
      this.appliedEntriesCount += ready.committedEntries.length;
      node.advance();
    }
    const delivering = this.inbox;
    this.inbox = [];
    for (const m of delivering) {
      this.messagesDeliveredCount += 1;
      this.nodes.get(m.to)?.step(m);
    }
  }

  /** Rounds until no node has anything to do (bounded). */
  stabilize(roundsMax = 1000): void {
    for (let i = 0; i < roundsMax; i++) {
      this.round();
      if (this.inbox.length === 0 && ![...this.nodes.values()].some((n) => n.hasReady())) return;
    }
    throw new Error(`group did not stabilize within ${roundsMax} rounds`);
  }

  /** Elects `id` by campaigning it and stabilizing. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
    const status = this.node(id).status();
    if (status.role !== 'leader') throw new Error(`node ${id} did not become leader (role ${status.role})`);
  }

  tickAll(): void {
    for (const node of this.nodes.values()) node.tick();
  }
}
