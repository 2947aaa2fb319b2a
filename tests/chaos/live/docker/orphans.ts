// Clean-up of runs whose owner died without stopping them (SIGKILL, a CI job killed at its
// time limit, the machine's OOM killer): their six containers keep running flotilla and
// their tmpfs stays mounted. Every container and network of a run is labelled with its
// owner, `<pid>:<start time in clock ticks>` read from /proc (the start time tells a
// reused pid apart); a new cluster removes the runs whose owner is no longer alive. Runs
// of a live process, and anything without this label, are never touched.
import { readFileSync, rmSync } from 'node:fs';
import { docker, removeLabelled, run } from './docker-cli.js';

export const OWNER_LABEL = 'flotilla-chaos.owner';

/** `<pid>:<start ticks>` of `pid`, or undefined when no such process runs. */
export function processIdentity(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is parenthesised and may hold spaces: count after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[19];
  if (startTicks === undefined || !/^\d+$/.test(startTicks))
    throw new Error(`/proc/${pid}/stat has no start time: ${stat}`);
  return `${pid}:${startTicks}`;
}

export function thisProcessOwner(): string {
  const identity = processIdentity(process.pid);
  if (identity === undefined) throw new Error('/proc/self/stat is unreadable');
  return identity;
}

/** True when the process `owner` names (`<pid>:<start ticks>`) still runs. */
export function ownerAlive(owner: string): boolean {
  const match = /^(\d+):(\d+)$/.exec(owner);
  if (match === null) return true; // Not ours to judge: leave it alone.
  return processIdentity(Number(match[1])) === owner;
}

export interface OrphanRun {
  readonly runId: string;
  readonly owner: string;
}

/** Runs (by `runLabel` value) labelled with an owner that no longer runs. */
export async function findOrphanRuns(runLabel: string): Promise<OrphanRun[]> {
  const format = `{{.Label "${runLabel}"}} {{.Label "${OWNER_LABEL}"}}`;
  const lines = [
    ...(await docker(['ps', '-a', '--filter', `label=${OWNER_LABEL}`, '--format', format])).split('\n'),
    ...(await docker(['network', 'ls', '--filter', `label=${OWNER_LABEL}`, '--format', format])).split('\n'),
  ];
  const runs = new Map<string, string>();
  for (const line of lines) {
    const [runId, owner] = line.trim().split(' ');
    if (runId === undefined || runId === '' || owner === undefined || owner === '') continue;
    if (!ownerAlive(owner)) runs.set(runId, owner);
  }
  return [...runs].map(([runId, owner]) => ({ runId, owner }));
}

/**
 * Removes every orphaned run's containers and network, unmounts its small-disk tmpfs and
 * deletes its data dirs (under `workDirOf(runId)`). Returns what it removed.
 */
export async function removeOrphanRuns(
  runLabel: string,
  workDirOf: (runId: string) => string,
): Promise<OrphanRun[]> {
  const orphans = await findOrphanRuns(runLabel);
  for (const orphan of orphans) {
    await removeLabelled(runLabel, orphan.runId);
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((path) => path.startsWith(`${workDirOf(orphan.runId)}/`));
    for (const path of mounts) await run('umount', [path]);
    rmSync(workDirOf(orphan.runId), { recursive: true, force: true });
  }
  return orphans;
}
