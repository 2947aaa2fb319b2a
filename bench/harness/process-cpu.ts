// CPU time of server processes read from /proc/<pid>/stat (utime + stime, in clock ticks),
// so a benchmark can report server CPU per operation; and finding a process by a string in
// its command line (the harnesses know each member's unique data directory, not its pid).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU milliseconds (user + system) process `pid` has used; undefined once it is gone. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are utime and stime; here they sit at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`cannot parse /proc/${pid}/stat: ${stat}`);
  return (ticks * 1000) / clockTicksPerSecond;
}

/** Sum of processCpuMs over `pids` (processes that are gone count 0). */
export function totalCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
}

/** Pids of the processes whose command line contains `needle` (not this process). */
export function pidsWithCommandLine(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmdline.includes(needle)) found.push(Number(name));
  }
  return found;
}

/** CPU used between construction and `elapsed()`, over a set of pids fixed at construction. */
export class CpuMeter {
  private readonly startMs: number;
  private readonly clientStart = process.cpuUsage();

  constructor(private readonly pids: readonly number[]) {
    this.startMs = totalCpuMs(pids);
  }

  /** Server CPU ms (the pids) and this process's CPU ms since construction. */
  elapsed(): { serverCpuMs: number; clientCpuMs: number } {
    const client = process.cpuUsage(this.clientStart);
    return {
      serverCpuMs: totalCpuMs(this.pids) - this.startMs,
      clientCpuMs: (client.user + client.system) / 1000,
    };
  }
}
