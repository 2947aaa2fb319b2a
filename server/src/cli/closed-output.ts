// A command whose output is piped into a reader that stops early (`flotilla status | head`)
// gets EPIPE on its next write. The reader chose to stop; nothing failed: the command exits
// at once, quietly, with the status a shell reports for a process ended by SIGPIPE
// (128 + 13), as `seq 1 100000 | head` does. Node ignores SIGPIPE and would otherwise die of
// an unhandled 'error' event with a stack trace.

/** 128 + SIGPIPE (13). */
export const CLOSED_OUTPUT_EXIT_CODE = 141;

/** Installs the handlers; call once, before the command writes anything. */
export function exitQuietlyWhenOutputCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(CLOSED_OUTPUT_EXIT_CODE);
  });
  // Nobody reads the diagnostics any more: the command goes on and its exit code tells.
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
