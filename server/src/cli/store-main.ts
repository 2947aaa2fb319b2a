// The store process under its old name: an alias of `flotilla server` (same flags, same
// FLOTILLA_* variables and config file, same READY line and graceful shutdown), kept for
// scripts and tests that start stores this way. See server-command.ts.
//   node --import tsx server/src/cli/store-main.ts --store-id 1 --data-dir .data/store-1 \
//     --initial-cluster 1=...,2=...,3=... [--listen host:port] [--config FILE.json]
import { runServer } from './server-command.js';

await runServer(process.argv.slice(2), process.env);
