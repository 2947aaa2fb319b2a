// `npm start`: a local cluster with embedded defaults, every member its own process with its
// own LevelDB directory under data/local-cluster/: 3 Placement Driver members (ports 2379-2381)
// and 3 stores (ports 20161-20163). The first store bootstraps the cluster with one region;
// PD adds the other replicas, and regions split as data grows. Data survives restarts of
// the command. Ctrl-C stops every store cleanly (each hands over its leaderships first), then
// the PD members. Ctrl-C while members are still starting stops the ones started so far; a
// member that exits before it is READY (a port in use, a bad data directory) stops them all
// and the command exits 1. Each store's lines are labelled with its store id (PD assigns it)
// once its READY line names it, with its launch slot before that; each member's pid is
// printed when it starts ("[pd 1] started, pid 1234"). Every port is checked before anything
// starts: one taken stops the command with exit 1 and one line naming it. Options: --stores N
// (default 3), --pd-members N (1 or 3, default 3), --base-port P (stores; default 20161),
// --pd-base-port P (default 2379), --data-dir DIR.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatClusterSpec } from './cluster-spec.js';

/** A member process: its label in the output (a store's changes once its id is known). */
interface Member {
  label: string;
  readonly child: ChildProcess;
  ready: boolean;
}

// Signals are handled from the first line: Ctrl-C while members start must stop the ones
// already started (they are detached, in their own process groups, and would outlive us).
const pdMembersRunning = new Set<Member>();
const storesRunning = new Set<Member>();
let stopping = false;
let stopExitCode = 0;
let pdStopSent = false;
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
// Detached members would outlive this process if it died of an error: take them along.
process.on('exit', () => {
  for (const member of [...storesRunning, ...pdMembersRunning]) member.child.kill('SIGTERM');
});

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: '3' },
    'pd-members': { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '20161' },
    'pd-base-port': { type: 'string', default: '2379' },
    'data-dir': { type: 'string', default: 'data/local-cluster' },
  },
});

const storesCount = Number(values.stores);
const pdCount = Number(values['pd-members']);
const basePort = Number(values['base-port']);
const pdBasePort = Number(values['pd-base-port']);
function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
if (!Number.isSafeInteger(storesCount) || storesCount < 1 || storesCount > 7)
  fail(`--stores must be between 1 and 7, got '${values.stores}'`);
if (pdCount !== 1 && pdCount !== 3) fail(`--pd-members must be 1 or 3, got '${values['pd-members']}'`);
for (const [name, port, count] of [
  ['--base-port', basePort, storesCount],
  ['--pd-base-port', pdBasePort, pdCount],
] as const) {
  if (!Number.isSafeInteger(port) || port < 1024 || port + count > 65535)
    fail(`${name} must leave room for ${count} ports in [1024, 65535], got '${port}'`);
}

const flotillaMain = fileURLToPath(new URL('./flotilla.ts', import.meta.url));
const dataDir = resolve(values['data-dir']);
const pdMembers = new Map<number, string>();
for (let id = 1; id <= pdCount; id++) pdMembers.set(id, `127.0.0.1:${pdBasePort + id - 1}`);
const pdEndpoints = [...pdMembers.values()].join(',');
const storeAddresses: string[] = [];
for (let i = 0; i < storesCount; i++) storeAddresses.push(`127.0.0.1:${basePort + i}`);

class MemberExitedError extends Error {}

/**
 * Starts one member; resolves at its READY line (`onReady` sees the line first), rejects if
 * it exits before. Nothing is started once the cluster is stopping.
 */
function launch(
  label: string,
  args: string[],
  group: Set<Member>,
  onReady: (member: Member, readyLine: string) => void = () => undefined,
): Promise<void> {
  if (stopping) return Promise.resolve();
  const child = spawn(process.execPath, ['--import', 'tsx', flotillaMain, ...args], {
    // Own process group: a terminal's Ctrl-C reaches only this process, which stops each
    // member with one SIGTERM (a store takes a second signal as "exit now").
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const member: Member = { label, child, ready: false };
  group.add(member);
  // The pid lets an operator (or a test) check that no member outlives the command.
  console.error(`[${label}] started, pid ${child.pid ?? '(none)'}`);
  if (child.stderr) forEachLine(child.stderr, (line) => process.stderr.write(`[${member.label}] ${line}\n`));
  return new Promise((resolveReady, rejectEarlyExit) => {
    if (child.stdout)
      forEachLine(child.stdout, (line) => {
        const isReady = !member.ready && /^READY /.test(line);
        if (isReady) {
          member.ready = true;
          onReady(member, line);
        }
        process.stdout.write(`[${member.label}] ${line}\n`);
        if (isReady) resolveReady();
      });
    const onGone = (how: string): void => {
      if (!group.delete(member)) return;
      if (!member.ready && !stopping) {
        // startCluster's catch stops the others and exits 1.
        rejectEarlyExit(new MemberExitedError(`[${member.label}] exited before it was READY (${how})`));
        return;
      }
      if (!stopping) console.error(`[${member.label}] exited (${how}); the others keep running`);
      afterMemberGone();
    };
    // 'close', not 'exit': the member's last lines have been read and labelled by then.
    child.on('close', (code, signal) => onGone(code !== null ? `exit code ${code}` : `signal ${signal}`));
    child.on('error', (err) => onGone(err.message));
  });
}

/** A line longer than this is passed on in pieces (the buffer of a partial line is bounded). */
const LINE_LENGTH_MAX = 64 * 1024;

/** Calls `onLine` with each whole line of `stream` (a chunk may end inside a line). */
function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
    if (partial.length > LINE_LENGTH_MAX) {
      onLine(partial);
      partial = '';
    }
  });
  stream.on('end', () => {
    if (partial.length > 0) onLine(partial);
    partial = '';
  });
}

/** Labels a store by the id its READY line names ("READY store=4 address=..."). */
function labelByStoreId(member: Member, readyLine: string): void {
  const id = /\bstore=(\d+)/.exec(readyLine)?.[1];
  if (id === undefined) return;
  const slot = member.label;
  member.label = `store ${id}`;
  console.log(`[${member.label}] is ${slot}`);
}

const storeArgs = (i: number): string[] => [
  'server',
  '--pd-endpoints',
  pdEndpoints,
  '--listen',
  storeAddresses[i] as string,
  '--data-dir',
  join(dataDir, `store-${i + 1}`),
];

/** The error code (EADDRINUSE, EACCES, ...) that binding `address` gives now, or undefined if it binds. */
function bindErrorCode(address: string): Promise<string | undefined> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolveCode) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolveCode(err.code ?? err.message));
    server.listen({ host, port: Number(port), exclusive: true }, () =>
      server.close(() => resolveCode(undefined)),
    );
  });
}

/**
 * Before anything starts: a port in use would otherwise surface as one member's gRPC error
 * after PD and the first store have started. (A port taken between this check and the
 * member's bind is still caught: the member exits before READY and the others are stopped.)
 */
async function checkPortsFree(): Promise<void> {
  const planned: Array<[string, string]> = [
    ...[...pdMembers].map(([id, address]): [string, string] => [`pd ${id}`, address]),
    ...storeAddresses.map((address, i): [string, string] => [`store slot ${i + 1}`, address]),
  ];
  for (const [label, address] of planned) {
    const code = await bindErrorCode(address);
    if (code === undefined) continue;
    const why = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code})`;
    console.error(
      `port ${address.split(':')[1]} (${label}, ${address}) ${why}: stop what holds it, or choose other ports with --base-port / --pd-base-port`,
    );
    process.exit(1);
  }
}

async function startCluster(): Promise<void> {
  await checkPortsFree();
  await Promise.all(
    [...pdMembers].map(([id]) =>
      launch(
        `pd ${id}`,
        [
          'pd',
          '--member-id',
          String(id),
          '--data-dir',
          join(dataDir, `pd-${id}`),
          '--initial-cluster',
          formatClusterSpec(pdMembers),
        ],
        pdMembersRunning,
      ),
    ),
  );
  // The first store alone: on a fresh data directory it bootstraps the cluster.
  await launch('store slot 1', storeArgs(0), storesRunning, labelByStoreId);
  await Promise.all(
    storeAddresses
      .slice(1)
      .map((_, i) => launch(`store slot ${i + 2}`, storeArgs(i + 1), storesRunning, labelByStoreId)),
  );
  if (stopping) return;
  console.log(`Flotilla local cluster: ${pdCount} PD member(s), ${storesCount} store(s), data in ${dataDir}`);
  console.log(`  PD:     ${pdEndpoints}`);
  console.log(`  stores: ${storeAddresses.join(',')}`);
  console.log(`  try:    npm run flotilla -- put hello world && npm run flotilla -- get hello`);
  console.log(`          npm run flotilla -- status`);
  console.log('  Ctrl-C stops the cluster; data is kept for the next start.');
}

startCluster().catch((err: unknown) => {
  if (stopping) return;
  console.error(`${err instanceof Error ? err.message : String(err)}: stopping the cluster`);
  if (!(err instanceof MemberExitedError) && err instanceof Error) console.error(err.stack);
  stopAll(1);
});

/**
 * Stores first (they hand over leadership and report to PD while stopping), then PD; exits
 * with `exitCode` once every member is gone. A second signal forwards SIGTERM again (a
 * store then exits at once).
 */
function stopAll(exitCode: number): void {
  if (stopping) {
    for (const member of [...storesRunning, ...pdMembersRunning]) member.child.kill('SIGTERM');
    return;
  }
  stopping = true;
  stopExitCode = exitCode;
  console.error(`stopping ${storesRunning.size} store(s), then ${pdMembersRunning.size} PD member(s)...`);
  for (const member of storesRunning) member.child.kill('SIGTERM');
  afterMemberGone();
}

/** While stopping: PD once the stores are gone, the process once everyone is. */
function afterMemberGone(): void {
  const runningCount = storesRunning.size + pdMembersRunning.size;
  if (stopping && storesRunning.size === 0 && !pdStopSent) {
    pdStopSent = true;
    for (const member of pdMembersRunning) member.child.kill('SIGTERM');
  }
  if (runningCount === 0) process.exit(stopping ? stopExitCode : 1);
}
