// The docker command line, for what testcontainers does not cover here (kill -9 without
// removal, pause, restart on the same data, inspect, clean-up by label). Every call has a
// deadline and a failure names the command and docker's own message.
import { execFile } from 'node:child_process';

const CALL_TIMEOUT_MS = 60_000;
const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;

export class DockerCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
  ) {
    super(`docker ${args.join(' ')} failed: ${stderr.trim()}`);
    this.name = 'DockerCommandError';
  }
}

export function run(command: string, args: readonly string[], input?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      { timeout: CALL_TIMEOUT_MS, maxBuffer: OUTPUT_BYTES_MAX, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new DockerCommandError([command, ...args], `${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function docker(args: readonly string[]): Promise<string> {
  return run('docker', args);
}

/** Removes every container and network carrying `label=value` (only this run's). */
export async function removeLabelled(label: string, value: string): Promise<void> {
  const filter = `label=${label}=${value}`;
  const ids = (await docker(['ps', '-aq', '--filter', filter])).split('\n').filter((id) => id.length > 0);
  if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
  const networks = (await docker(['network', 'ls', '-q', '--filter', filter]))
    .split('\n')
    .filter((id) => id.length > 0);
  if (networks.length > 0) await docker(['network', 'rm', ...networks]);
}
