// Everything a suite starts (clusters, clients) registers how to stop it here, so that it is
// torn down at the end of the suite, when the suite throws, and on SIGINT/SIGTERM (Ctrl-C in
// the middle of a run must not leave etcd or store processes and their temp dirs behind).
type Cleanup = () => Promise<void> | void;

const cleanups: Array<{ readonly what: string; readonly cleanup: Cleanup }> = [];
let signalHandlersInstalled = false;
let tearingDown = false;

/** Registers `cleanup`; returns a function that runs it now and unregisters it. */
export function onTeardown(what: string, cleanup: Cleanup): () => Promise<void> {
  installSignalHandlers();
  const entry = { what, cleanup };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await cleanup();
  };
}

/** Runs every registered cleanup, newest first; a failing one is reported and the rest still run. */
export async function teardownAll(): Promise<void> {
  while (cleanups.length > 0) {
    const entry = cleanups.pop();
    if (entry === undefined) break;
    try {
      await entry.cleanup();
    } catch (err) {
      process.stderr.write(`teardown of ${entry.what} failed: ${String(err)}\n`);
    }
  }
}

function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (tearingDown) process.exit(130);
    tearingDown = true;
    process.stderr.write(`\n${signal}: tearing down ${cleanups.length} resource(s)\n`);
    void teardownAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
