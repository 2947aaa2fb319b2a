// An in-test network of RawNodes over MemoryStorage. Each round persists every node's
// Ready (hard state, entries, snapshot) BEFORE its messages are queued, applies committed
// entries (conf changes through applyConfChange), then delivers queued messages. Links can
// be cut, nodes isolated and messages dropped by a filter. Deterministic: one seed.
import { MemoryStorage, RawNode, SeededRandom, decodeConfChange } from '../../src/index.js';
import type { ConfState, Entry, Message, NodeId, RaftConfig, ReadState, Ready } from '../../src/index.js';

export interface NetworkOptions {
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  readonly seed?: number;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** Per-node config overrides. */
  readonly config?: (id: NodeId) => Partial<RaftConfig>;
}

export type MessageFilter = (m: Message) => boolean;

export function confState(voters: readonly NodeId[], learners: readonly NodeId[] = []): ConfState {
  return {
    voters: [...voters],
    learners: [...learners],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

export class Network {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  /** Normal entries with data, in apply order, per node. */
  readonly applied = new Map<NodeId, Entry[]>();
  readonly appliedIndex = new Map<NodeId, number>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly confStates = new Map<NodeId, ConfState>();
  /** Every message sent (after filtering), for assertions. */
  readonly sent: Message[] = [];
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  filter: MessageFilter | null = null;
  /** Set to false to apply without calling applyConfChange (tests that do it by hand). */
  autoApplyConfChanges = true;
  /** Record each node's Readys. */
  readonly readies = new Map<NodeId, Ready[]>();
  private readonly seed: number;

  constructor(readonly options: NetworkOptions) {
    this.seed = options.seed ?? 1;
    const cs = confState(options.voters, options.learners ?? []);
    for (const id of [...options.voters, ...(options.learners ?? [])]) {
      this.start(id, new MemoryStorage({ confState: cs }));
    }
  }

  /** (Re)starts node `id` on `storage` (a crash keeps only what was persisted). */
  start(id: NodeId, storage: MemoryStorage, extra: Partial<RaftConfig> = {}): RawNode {
    const node = new RawNode({
      id,
      electionTimeoutTicks: this.options.electionTimeoutTicks ?? 10,
      heartbeatIntervalTicks: this.options.heartbeatIntervalTicks ?? 1,
      storage,
      random: new SeededRandom(this.seed * 7919 + id),
      ...(this.options.config?.(id) ?? {}),
      ...extra,
    });
    this.nodes.set(id, node);
    this.storages.set(id, storage);
    if (!this.applied.has(id)) this.applied.set(id, []);
    this.appliedIndex.set(id, extra.appliedIndex ?? storage.firstIndex() - 1);
    if (!this.readStates.has(id)) this.readStates.set(id, []);
    return node;
  }

  /** Crash and restart: the node keeps its persisted storage and state machine (applied index). */
  restart(id: NodeId): RawNode {
    const storage = this.storage(id).clone();
    return this.start(id, storage, { appliedIndex: this.appliedIndex.get(id) ?? 0 });
  }

  node(id: NodeId): RawNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  storage(id: NodeId): MemoryStorage {
    const storage = this.storages.get(id);
    if (storage === undefined) throw new Error(`no storage ${id}`);
    return storage;
  }

  remove(id: NodeId): void {
    this.nodes.delete(id);
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  heal(): void {
    this.isolated.clear();
    this.cut.clear();
    this.filter = null;
  }

  private passes(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false;
    if (this.cut.has(`${m.from}-${m.to}`)) return false;
    return this.filter === null || this.filter(m);
  }

  /** Persists, sends, applies and advances one node's Ready. Returns whether there was one. */
  processReady(id: NodeId): boolean {
    const node = this.node(id);
    if (!node.hasReady()) return false;
    const rd = node.ready();
    const list = this.readies.get(id) ?? [];
    list.push(rd);
    this.readies.set(id, list);
    const storage = this.storage(id);
    if (rd.snapshot !== null) {
      storage.applySnapshot(rd.snapshot);
      this.appliedIndex.set(id, rd.snapshot.metadata.index);
      this.confStates.set(id, rd.snapshot.metadata.confState);
    }
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    for (const m of rd.messages) {
      if (this.passes(m)) {
        this.queue.push(m);
        this.sent.push(m);
      }
    }
    this.apply(id, node, rd.committedEntries);
    this.readStates.get(id)?.push(...rd.readStates);
    node.advance();
    return true;
  }

  private apply(id: NodeId, node: RawNode, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === 'confChange' && this.autoApplyConfChanges) {
        this.confStates.set(id, node.applyConfChange(decodeConfChange(entry.data)));
      } else if (entry.type === 'normal' && entry.data.byteLength > 0) {
        this.applied.get(id)?.push(entry);
      }
      this.appliedIndex.set(id, entry.index);
    }
  }

  /** Delivers every queued message once (messages they cause wait for the next round). */
  deliver(): number {
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) this.nodes.get(m.to)?.step(m);
    return batch.length;
  }

  /** Rounds of ready-processing and delivery until nothing moves. */
  stabilize(roundsMax = 1000): void {
    for (let round = 0; round < roundsMax; round++) {
      let busy = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) busy = this.processReady(id) || busy;
      busy = this.deliver() > 0 || busy;
      if (!busy) return;
    }
    throw new Error(`network did not stabilize within ${roundsMax} rounds`);
  }

  tick(id: NodeId, count = 1): void {
    for (let i = 0; i < count; i++) this.node(id).tick();
  }

  /** Ticks every node `count` times, stabilizing after each tick. */
  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.stabilize();
    }
  }

  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
    const status = this.node(id).status();
    if (status.role !== 'leader') throw new Error(`node ${id} did not become leader (role ${status.role})`);
  }

  leader(): NodeId | null {
    for (const [id, node] of this.nodes) if (node.status().role === 'leader') return id;
    return null;
  }

  appliedData(id: NodeId): string[] {
    return (this.applied.get(id) ?? []).map((e) => text(e.data));
  }

  sentOfType(type: Message['type']): Message[] {
    return this.sent.filter((m) => m.type === type);
  }
}
