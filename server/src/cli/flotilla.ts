// The `flotilla` command: `flotilla server [flags]` runs one store node, `flotilla pd [flags]`
// one Placement Driver member (pd/src/cli/pd-command.ts); put, get, delete,
// delete-range, scan, cas and status talk to a cluster. Launched by server/bin/flotilla.mjs
// (the package's bin) or `npm run flotilla -- ...`.
import { runServer } from './server-command.js';
import { CLIENT_COMMANDS, CLIENT_USAGE, runClientCommand } from './client-commands.js';
import { exitQuietlyWhenOutputCloses } from './closed-output.js';

const USAGE = `usage: flotilla server [--config FILE.json] [flags]   run one store node (flotilla server --help)
       flotilla pd [flags]                              run one PD member (flotilla pd --help)
${CLIENT_USAGE.replace(/^usage: /, '       ')}`;

const [command, ...rest] = process.argv.slice(2);
// Client commands and help print to whoever reads them (`flotilla status | head`); a server
// or PD member keeps its own output handling.
if (command !== 'server' && command !== 'pd') exitQuietlyWhenOutputCloses();
if (command === 'server') {
  await runServer(rest, process.env);
} else if (command === 'pd') {
  const { runPd } = await import('../../../pd/src/cli/pd-command.js');
  await runPd(rest);
} else if (command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
} else if (command !== undefined && (CLIENT_COMMANDS as readonly string[]).includes(command)) {
  process.exitCode = await runClientCommand(process.argv.slice(2), process.env);
} else {
  console.error(command === undefined ? 'flotilla: no command' : `flotilla: unknown command '${command}'`);
  console.error(USAGE);
  process.exitCode = 2;
}
