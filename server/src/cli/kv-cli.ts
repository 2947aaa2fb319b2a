// `npm run kv -- <command>`: the client half of `flotilla` under its old name (put, get,
// delete, delete-range, scan, cas, status). See client-commands.ts.
import { runClientCommand } from './client-commands.js';
import { exitQuietlyWhenOutputCloses } from './closed-output.js';

exitQuietlyWhenOutputCloses();
process.exitCode = await runClientCommand(process.argv.slice(2), process.env);
