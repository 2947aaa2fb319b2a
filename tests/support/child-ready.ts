// Waiting on the processes the test harnesses spawn (stores, PD members): a READY line on
// stdout, or a clear error with the process's log when it exits first or takes too long;
// and kill -9 that resolves once the process is gone.
import type { ChildProcess } from 'node:child_process';

/** Resolves with the match of `ready` on the child's stdout; rejects if it exits or times out first. */
export function waitForReady(
  child: ChildProcess,
  what: string,
  ready: RegExp,
  log: readonly string[],
  timeoutMs: number,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready within ${timeoutMs} ms:\n${log.join('')}`)),
      timeoutMs,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const match = ready.exec(chunk);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before ready:\n${log.join('')}`));
    });
  });
}

/** SIGKILL (no shutdown code runs); resolves once the process has exited. */
export async function kill9AndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
