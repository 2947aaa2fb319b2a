// Runs an existing benchmark script (bench/split, bench/regions) as a child process so a suite
// can wrap it without touching it: stdout is collected for parsing, stderr lines become the
// progress line. The child gets its own process group so that teardown (end, error, Ctrl-C)
// takes down the child and every store process it started, with one signal to the group.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProgressLine } from './progress-line.js';
import { onTeardown } from './teardown.js';

/** Bound on the stdout kept (the wrapped scripts print a few KiB). */
const STDOUT_BYTES_MAX = 16 * 1024 * 1024;

export async function runChildBench(
  scriptFromRepoRoot: string,
  args: readonly string[],
  progress: ProgressLine,
): Promise<string> {
  const script = fileURLToPath(new URL(`../../${scriptFromRepoRoot}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${scriptFromRepoRoot}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const killGroup = onTeardown(scriptFromRepoRoot, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
    await exited;
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length + chunk.length > STDOUT_BYTES_MAX)
      throw new Error(`${scriptFromRepoRoot} printed more than ${STDOUT_BYTES_MAX} bytes`);
    stdout += chunk;
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    const text = line.replace(/\r/g, '').trim();
    if (text.length === 0) return;
    stderrTail.push(text);
    if (stderrTail.length > 50) stderrTail.shift();
    progress.update(text.slice(0, 160));
  });
  const { code, signal } = await exited;
  // Store processes the script started must not outlive it (they share its group).
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Nothing left in the group.
  }
  await killGroup();
  if (code !== 0)
    throw new Error(
      `${scriptFromRepoRoot} ${args.join(' ')} exited (${code ?? signal}):\n${stderrTail.join('\n')}`,
    );
  return stdout;
}
