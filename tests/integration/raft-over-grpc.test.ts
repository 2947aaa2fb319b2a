// Three Raft nodes (the real core, MemoryStorage) on three "stores", each with its own
// grpc server and RaftTransport on 127.0.0.1, driven by a real 10 ms timer loop the way a
// store drives its regions: tick, then per Ready persist -> send -> apply -> advance, and
// one transport flush per round. They elect a leader, replicate 200 proposals in the same
// order everywhere, and after the leader's store is stopped the other two elect a new
// leader and keep committing. Proves core, protocol and transport work over real sockets.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { raftpb } from '@flotilla/proto';
import { MemoryStorage, RawNode, SeededRandom } from '@flotilla/raft';
import type { Message, Ready } from '@flotilla/raft';

import {
  RAFT_SERVER_OPTIONS,
  RaftTransport,
  createRaftServiceHandlers,
  encodeRegionRaftMessage,
} from '../../server/src/transport/index.js';
import type { RegionRaftMessage } from '../../server/src/transport/index.js';

const REGION_ID = 1;
const STORE_IDS = [1, 2, 3] as const;
const TICK_MS = 10;
/** Readies handled per node per loop round; the rest waits for the next round. */
const READIES_PER_ROUND_MAX = 8;
const WAIT_MS_MAX = 20_000;
const PROPOSAL_COUNT = 200;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One store hosting the region's peer whose id equals the store id. */
class TestStore {
  readonly storage: MemoryStorage;
  readonly node: RawNode;
  readonly applied: string[] = [];
  readonly errors: unknown[] = [];
  transport: RaftTransport | null = null;
  private server: grpc.Server | null = null;
  private loop: ReturnType<typeof setInterval> | null = null;
  stopped = false;

  constructor(
    readonly storeId: number,
    private readonly changed: EventEmitter,
  ) {
    const confState = {
      voters: [...STORE_IDS],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    this.storage = new MemoryStorage({ confState });
    this.node = new RawNode({
      id: storeId,
      electionTimeoutTicks: 20,
      heartbeatIntervalTicks: 2,
      storage: this.storage,
      random: new SeededRandom(1000 + storeId),
    });
  }

  async listen(): Promise<number> {
    const server = new grpc.Server(RAFT_SERVER_OPTIONS);
    server.addService(
      raftpb.RaftService,
      createRaftServiceHandlers({
        storeId: this.storeId,
        onMessages: (_fromStoreId, messages) => this.deliver(messages),
        snapshotReceiver: null,
      }),
    );
    this.server = server;
    return new Promise((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
  }

  start(ports: ReadonlyMap<number, number>): void {
    this.transport = new RaftTransport({
      storeId: this.storeId,
      resolveAddress: async (storeId) => `127.0.0.1:${ports.get(storeId) ?? 0}`,
      onUnreachable: (storeId) => {
        if (!this.stopped) this.node.reportUnreachable(storeId);
      },
      backoffMsMin: 20,
      backoffMsMax: 500,
    });
    this.loop = setInterval(() => this.round(), TICK_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.loop !== null) clearInterval(this.loop);
    this.loop = null;
    this.transport?.close();
    this.server?.forceShutdown();
  }

  isLeader(): boolean {
    return !this.stopped && this.node.status().role === 'leader';
  }

  private deliver(messages: readonly RegionRaftMessage[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      try {
        assert.equal(m.regionId, REGION_ID);
        this.node.step(m.message);
      } catch (err) {
        this.errors.push(err);
      }
    }
  }

  private round(): void {
    try {
      this.node.tick();
      for (let i = 0; i < READIES_PER_ROUND_MAX && this.node.hasReady(); i++) this.handle(this.node.ready());
      this.transport?.flush();
    } catch (err) {
      this.errors.push(err);
    }
    this.changed.emit('changed');
  }

  /** persist -> send -> apply -> advance, as Ready's contract says. */
  private handle(rd: Ready): void {
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.send(m);
    for (const e of rd.committedEntries) {
      if (e.type === 'normal' && e.data.length > 0) this.applied.push(decoder.decode(e.data));
    }
    this.node.advance();
  }

  private send(m: Message): void {
    const wire = encodeRegionRaftMessage({
      regionId: REGION_ID,
      fromPeer: { id: m.from, storeId: this.storeId, role: 'voter' },
      toPeer: { id: m.to, storeId: m.to, role: 'voter' },
      regionEpoch: { confVer: 1, version: 1 },
      message: m,
      isTombstone: false,
      startKey: new Uint8Array(0),
      endKey: new Uint8Array(0),
    });
    // A full queue drops the message; Raft retransmits, and the drop is reported unreachable.
    this.transport?.send(m.to, wire);
  }
}

describe('Raft over gRPC: three nodes on real sockets', () => {
  const changed = new EventEmitter();
  changed.setMaxListeners(100);
  const stores = STORE_IDS.map((id) => new TestStore(id, changed));

  after(() => {
    for (const store of stores) store.stop();
  });

  /** Resolves with the predicate's value once it is non-null, checked after every loop round of any store. */
  function until<T>(what: string, predicate: () => T | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        changed.off('changed', check);
        reject(new Error(`timed out after ${WAIT_MS_MAX} ms waiting for ${what}`));
      }, WAIT_MS_MAX);
      function check(): void {
        const value = predicate();
        if (value === null) return;
        clearTimeout(timer);
        changed.off('changed', check);
        resolve(value);
      }
      changed.on('changed', check);
      check();
    });
  }

  const running = (): TestStore[] => stores.filter((s) => !s.stopped);
  const leaderOf = (candidates: readonly TestStore[]): TestStore | null => {
    const leaders = candidates.filter((s) => s.isLeader());
    return leaders.length === 1 ? (leaders[0] ?? null) : null;
  };

  it('elects a leader, replicates 200 proposals in order to all three, and survives losing the leader', async () => {
    const ports = new Map<number, number>();
    for (const store of stores) ports.set(store.storeId, await store.listen());
    for (const store of stores) store.start(ports);

    const leader = await until('a leader', () => leaderOf(stores));
    const firstTerm = leader.node.status().term;
    const expected = Array.from({ length: PROPOSAL_COUNT }, (_, i) => `entry-${i}`);
    for (const data of expected) {
      const result = leader.node.propose(encoder.encode(data));
      assert.ok(result.ok, `proposal ${data} refused: ${JSON.stringify(result)}`);
    }
    await until('all three applying 200 entries', () =>
      stores.every((s) => s.applied.length >= PROPOSAL_COUNT) ? true : null,
    );
    for (const store of stores)
      assert.deepEqual(store.applied, expected, `store ${store.storeId} applied in order`);

    leader.stop();
    const survivors = running();
    const newLeader = await until('a new leader among the other two', () => {
      const l = leaderOf(survivors);
      return l !== null && l.node.status().term > firstTerm ? l : null;
    });
    assert.notEqual(newLeader.storeId, leader.storeId);
    const result = newLeader.node.propose(encoder.encode('after-failover'));
    assert.ok(result.ok, `proposal after failover refused: ${JSON.stringify(result)}`);
    await until('the post-failover entry committed on both survivors', () =>
      survivors.every((s) => s.applied.at(-1) === 'after-failover') ? true : null,
    );
    for (const store of survivors) assert.deepEqual(store.applied, [...expected, 'after-failover']);
    for (const store of stores) assert.deepEqual(store.errors, [], `store ${store.storeId} loop errors`);
  });
});
