// `npm run bench:raft`: what the Raft core costs on its own, with no I/O.
//  1. Entries committed per second by a 3-node in-memory group, for several proposal
//     batch sizes (how much a store loop gains by batching proposals per round).
//  2. The cost of idle groups: group-ticks per second and heap per group for many 3-node
//     groups in one process exchanging heartbeats (sizes multi-raft and hibernation).
// Options: --duration-ms N (per throughput case, default 3000), --groups N (default 10000),
// --ticks N (idle ticks measured, default 50), --payload-bytes N (default 256), --json.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BenchGroup } from './cluster.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '3000' },
    groups: { type: 'string', default: '10000' },
    ticks: { type: 'string', default: '50' },
    'payload-bytes': { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const durationMs = positiveInt('duration-ms', values['duration-ms']);
const groupsCount = positiveInt('groups', values.groups);
const idleTicks = positiveInt('ticks', values.ticks);
const payloadBytes = positiveInt('payload-bytes', values['payload-bytes']);

interface ThroughputResult {
  proposalsPerRound: number;
  entriesCommitted: number;
  elapsedMs: number;
  entriesPerSecond: number;
}

function measureThroughput(proposalsPerRound: number): ThroughputResult {
  const group = new BenchGroup({
    nodeIds: [1, 2, 3],
    seed: 7,
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 2,
  });
  group.elect(1);
  const leader = group.node(1);
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  const appliedAtStart = leader.status().applied;
  const started = performance.now();
  let elapsedMs = 0;
  let rounds = 0;
  while (elapsedMs < durationMs) {
    for (let i = 0; i < proposalsPerRound; i++) {
      const result = leader.propose(payload);
      if (!result.ok) break; // uncommitted-size limit reached: let the round drain it
    }
    group.round();
    rounds += 1;
    if ((rounds & 15) === 0) elapsedMs = performance.now() - started;
  }
  group.stabilize();
  elapsedMs = performance.now() - started;
  const entriesCommitted = leader.status().applied - appliedAtStart;
  return {
    proposalsPerRound,
    entriesCommitted,
    elapsedMs,
    entriesPerSecond: Math.round((entriesCommitted / elapsedMs) * 1000),
  };
}

interface IdleResult {
  groups: number;
  ticks: number;
  elapsedMs: number;
  groupTicksPerSecond: number;
  tickRoundMs: number;
  heapBytesPerGroup: number;
  messagesPerGroupTick: number;
}

function measureIdleGroups(): IdleResult {
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const groups: BenchGroup[] = [];
  for (let g = 0; g < groupsCount; g++) {
    const group = new BenchGroup({
      nodeIds: [1, 2, 3],
      seed: g + 1,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 2,
    });
    group.elect(((g % 3) + 1) as 1 | 2 | 3);
    groups.push(group);
  }
  globalThis.gc?.();
  const heapBytesPerGroup = Math.round((process.memoryUsage().heapUsed - heapBefore) / groupsCount);
  const messagesBefore = groups.reduce((sum, g) => sum + g.messagesDeliveredCount, 0);
  const started = performance.now();
  for (let t = 0; t < idleTicks; t++) {
    for (const group of groups) {
      group.tickAll();
      group.round();
      group.round();
    }
  }
  const elapsedMs = performance.now() - started;
  const messages = groups.reduce((sum, g) => sum + g.messagesDeliveredCount, 0) - messagesBefore;
  return {
    groups: groupsCount,
    ticks: idleTicks,
    elapsedMs: Math.round(elapsedMs),
    groupTicksPerSecond: Math.round(((groupsCount * idleTicks) / elapsedMs) * 1000),
    tickRoundMs: Number((elapsedMs / idleTicks).toFixed(2)),
    heapBytesPerGroup,
    messagesPerGroupTick: Number((messages / (groupsCount * idleTicks)).toFixed(2)),
  };
}

const throughput = [1, 16, 64, 256, 1024].map(measureThroughput);
const idle = measureIdleGroups();

if (values.json) {
  console.log(JSON.stringify({ payloadBytes, throughput, idle }, null, 2));
} else {
  console.log(
    `Raft core, 3-node in-memory group, ${payloadBytes} B entries, no I/O (node ${process.version})`,
  );
  console.log('proposals/round  entries committed  elapsed ms  entries/s');
  for (const r of throughput) {
    console.log(
      `${String(r.proposalsPerRound).padStart(15)}  ${String(r.entriesCommitted).padStart(17)}  ${r.elapsedMs.toFixed(0).padStart(10)}  ${String(r.entriesPerSecond).padStart(9)}`,
    );
  }
  console.log(
    `\nIdle groups: ${idle.groups} groups x 3 nodes, ${idle.ticks} ticks with heartbeats (election 10 ticks, heartbeat 2 ticks)`,
  );
  console.log(`  group-ticks/s           ${idle.groupTicksPerSecond}`);
  console.log(`  one tick of all groups  ${idle.tickRoundMs} ms`);
  console.log(`  messages per group-tick ${idle.messagesPerGroupTick}`);
  console.log(`  heap per group          ${idle.heapBytesPerGroup} B (3 RawNodes + MemoryStorage)`);
}
