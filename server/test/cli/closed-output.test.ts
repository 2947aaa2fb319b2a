// `flotilla status | head`: a client command whose reader has closed its end of the pipe
// exits quietly with 141 (128 + SIGPIPE, as a shell reports `seq 1 100000 | head`), no stack
// trace, instead of dying of an unhandled EPIPE 'error' event. Real processes: the package's
// launcher, its stdout a pipe whose read end this test closes before the command writes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CLOSED_OUTPUT_EXIT_CODE } from '../../src/cli/closed-output.js';

const launcher = fileURLToPath(new URL('../../bin/flotilla.mjs', import.meta.url));
/** Generous: the launcher loads TypeScript through tsx on a busy machine. */
const RUN_TIMEOUT_MS = 60_000;

/** Runs the launcher with its stdout's read end closed at once; resolves with exit code and stderr. */
function runWithClosedStdout(argv: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [launcher, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`flotilla ${argv.join(' ')} did not exit within ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('a client command writing into a closed pipe', () => {
  it('help exits 141 without a stack trace', async () => {
    const { code, stderr } = await runWithClosedStdout(['--help']);
    assert.equal(code, CLOSED_OUTPUT_EXIT_CODE, stderr);
    assert.equal(stderr, '');
  });

  it('status (PD unreachable, so it prints that) exits 141 without a stack trace', async () => {
    const { code, stderr } = await runWithClosedStdout(['status', '--pd', `127.0.0.1:${await closedPort()}`]);
    assert.equal(code, CLOSED_OUTPUT_EXIT_CODE, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Error|\n\s+at /);
  });
});
