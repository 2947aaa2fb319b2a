// A Placement Driver member process (same as `flotilla pd`):
//   node --import tsx pd/src/cli/pd-main.ts --member-id 1 --data-dir .data/pd-1 \
//     --initial-cluster 1=127.0.0.1:2379,2=127.0.0.1:2380,3=127.0.0.1:2381
import { runPd } from './pd-command.js';

await runPd(process.argv.slice(2));
