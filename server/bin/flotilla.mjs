#!/usr/bin/env node
// Launcher of the `flotilla` command (package.json "bin"): loads the TypeScript sources
// through tsx in this same process, so signals reach the server directly.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/flotilla.ts');
