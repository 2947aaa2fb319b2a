// What every benchmark result carries about the machine it ran on: cores, memory, Node
// version, the commit measured (with a flag for uncommitted changes), load and the time.
// FLOTILLA_BENCH_COMMIT names the commit when the suite runs from an exported clean tree of
// it (`git archive`, no .git): the shared working tree moves under a long run.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineFacts {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly nodeVersion: string;
  readonly etcdVersion: string;
  readonly commit: string;
  /** The working tree had uncommitted changes (other work in progress) when measured. */
  readonly treeDirty: boolean;
  readonly loadAverage1m: number;
  readonly startedAt: string;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineFacts(): MachineFacts {
  const exportedCommit = process.env.FLOTILLA_BENCH_COMMIT;
  const etcdVersionLine = run('etcd', ['--version']).split('\n')[0] ?? 'unknown';
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    nodeVersion: process.version,
    etcdVersion: etcdVersionLine.replace(/^etcd Version:\s*/, ''),
    commit: exportedCommit ?? run('git', ['rev-parse', '--short', 'HEAD']),
    treeDirty:
      exportedCommit === undefined &&
      run('git', ['status', '--porcelain', '--untracked-files=no']).length > 0,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    startedAt: new Date().toISOString(),
  };
}
