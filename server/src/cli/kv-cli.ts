// `npm run kv -- <command>`: talk to a cluster from the shell.
//   put KEY VALUE [--ttl-ms N] | get KEY [--consistency linearizable|lease|stale|log]
//   delete KEY | scan START END [--limit N]
// --cluster 1=host:port,... (default: the local cluster `npm start` runs).
import { parseArgs } from 'node:util';
import { kvpb } from '@flotilla/proto';
import { KvClient, KvClientError } from './kv-client.js';
import { parseClusterSpec } from './cluster-spec.js';

const DEFAULT_CLUSTER = '1=127.0.0.1:20161,2=127.0.0.1:20162,3=127.0.0.1:20163';
const CONSISTENCY: Record<string, kvpb.ReadConsistency> = {
  linearizable: kvpb.ReadConsistency.LINEARIZABLE,
  lease: kvpb.ReadConsistency.LEASE,
  stale: kvpb.ReadConsistency.STALE,
  log: kvpb.ReadConsistency.LOG,
};

function usage(message: string): never {
  console.error(`kv: ${message}`);
  console.error(
    'usage: kv put KEY VALUE [--ttl-ms N] | get KEY [--consistency MODE] | delete KEY | scan START END [--limit N]',
  );
  console.error('       [--cluster 1=host:port,...]');
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    cluster: { type: 'string', default: DEFAULT_CLUSTER },
    'ttl-ms': { type: 'string' },
    consistency: { type: 'string', default: 'linearizable' },
    limit: { type: 'string', default: '100' },
  },
});

const te = new TextEncoder();
const td = new TextDecoder();
const [command, ...args] = positionals;
let stores: Map<number, string>;
try {
  stores = parseClusterSpec(values.cluster);
} catch (err) {
  usage(err instanceof Error ? err.message : String(err));
}
const client = new KvClient({ stores, operationTimeoutMs: 10_000 });

async function run(): Promise<void> {
  switch (command) {
    case 'put': {
      const [key, value] = args;
      if (key === undefined || value === undefined) usage('put needs KEY and VALUE');
      const ttlMs = values['ttl-ms'] === undefined ? undefined : Number(values['ttl-ms']);
      if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs < 1))
        usage('--ttl-ms must be a positive integer');
      await client.put(te.encode(key), te.encode(value), ttlMs);
      console.log('OK');
      return;
    }
    case 'get': {
      const [key] = args;
      if (key === undefined) usage('get needs KEY');
      const consistency = CONSISTENCY[values.consistency];
      if (consistency === undefined)
        usage(`--consistency must be one of ${Object.keys(CONSISTENCY).join(', ')}`);
      const value = await client.get(te.encode(key), consistency);
      if (value === undefined) {
        console.log('(not found)');
        process.exitCode = 1;
      } else console.log(td.decode(value));
      return;
    }
    case 'delete': {
      const [key] = args;
      if (key === undefined) usage('delete needs KEY');
      await client.delete(te.encode(key));
      console.log('OK');
      return;
    }
    case 'scan': {
      const [start, end] = args;
      if (start === undefined || end === undefined) usage('scan needs START and END ("" for unbounded END)');
      const limit = Number(values.limit);
      for (const [k, v] of await client.scan(te.encode(start), te.encode(end), limit))
        console.log(`${td.decode(k)}\t${td.decode(v)}`);
      return;
    }
    default:
      usage(command === undefined ? 'no command' : `unknown command '${command}'`);
  }
}

try {
  await run();
} catch (err) {
  console.error(`kv: ${err instanceof KvClientError ? `${err.code}: ${err.message}` : String(err)}`);
  process.exitCode = 1;
} finally {
  client.close();
}
