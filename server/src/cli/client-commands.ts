// `flotilla put|get|delete|delete-range|scan|cas|status`: talk to a cluster from the shell.
// Keys and values are UTF-8 text. Exit codes: 0 done, 1 not found / compare failed / the
// cluster did not answer, 2 usage error.
import { parseArgs } from 'node:util';
import { kvpb } from '@flotilla/proto';
import { KvClient, KvClientError } from './kv-client.js';
import { ClusterSpecError, parseClusterSpec } from './cluster-spec.js';
import { fetchStoreStatus, formatStoreStatus } from './admin-client.js';

export const DEFAULT_CLUSTER = '1=127.0.0.1:20161,2=127.0.0.1:20162,3=127.0.0.1:20163';
export const CLIENT_COMMANDS = ['put', 'get', 'delete', 'delete-range', 'scan', 'cas', 'status'] as const;

export const CLIENT_USAGE = `usage: flotilla <command> [--cluster 1=host:port,...]   (or FLOTILLA_CLUSTER; default ${DEFAULT_CLUSTER})
  put KEY VALUE [--ttl-ms N]
  get KEY [--consistency linearizable|lease|stale|log]
  delete KEY
  delete-range START [END]            END omitted: to the end of the keyspace
  scan START [END] [--limit N] [--reverse] [--key-only] [--consistency MODE]
  cas KEY (--expect VALUE | --expect-absent) (--new VALUE | --delete) [--ttl-ms N]
  status                              every store's regions (role, term, commit, applied, log)`;

const CONSISTENCY: Record<string, kvpb.ReadConsistency> = {
  linearizable: kvpb.ReadConsistency.LINEARIZABLE,
  lease: kvpb.ReadConsistency.LEASE,
  stale: kvpb.ReadConsistency.STALE,
  log: kvpb.ReadConsistency.LOG,
};

/** Time one command may take, retries across leader changes included. */
const OPERATION_TIMEOUT_MS = 10_000;
const STATUS_TIMEOUT_MS = 3_000;

class UsageError extends Error {}

export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const te = new TextEncoder();
const td = new TextDecoder();

type Values = ReturnType<typeof parseCommandArgs>['values'];

function parseCommandArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      cluster: { type: 'string' },
      'ttl-ms': { type: 'string' },
      consistency: { type: 'string', default: 'linearizable' },
      limit: { type: 'string', default: '100' },
      reverse: { type: 'boolean', default: false },
      'key-only': { type: 'boolean', default: false },
      expect: { type: 'string' },
      'expect-absent': { type: 'boolean', default: false },
      new: { type: 'string' },
      delete: { type: 'boolean', default: false },
    },
  });
}

/** Runs one client command; returns the exit code. */
export async function runClientCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliOutput = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  let parsed: ReturnType<typeof parseCommandArgs>;
  let stores: Map<number, string>;
  try {
    parsed = parseCommandArgs(argv);
    stores = parseClusterSpec(parsed.values.cluster ?? env.FLOTILLA_CLUSTER ?? DEFAULT_CLUSTER);
  } catch (err) {
    if (!(err instanceof ClusterSpecError) && !(err instanceof TypeError)) throw err;
    return usage(io, err.message);
  }
  const [command, ...args] = parsed.positionals;
  if (command === 'status') return status(stores, io);
  const client = new KvClient({ stores, operationTimeoutMs: OPERATION_TIMEOUT_MS });
  try {
    return await runKv(client, command, args, parsed.values, io);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message);
    io.err(`flotilla: ${err instanceof KvClientError ? `${err.code}: ${err.message}` : String(err)}`);
    return 1;
  } finally {
    client.close();
  }
}

function usage(io: CliOutput, message: string): number {
  io.err(`flotilla: ${message}`);
  io.err(CLIENT_USAGE);
  return 2;
}

function arg(args: readonly string[], index: number, what: string): string {
  const value = args[index];
  if (value === undefined) throw new UsageError(what);
  return value;
}

function positiveOption(values: Values, name: 'ttl-ms' | 'limit'): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

function consistencyOption(values: Values): kvpb.ReadConsistency {
  const consistency = CONSISTENCY[values.consistency];
  if (consistency === undefined)
    throw new UsageError(`--consistency must be one of ${Object.keys(CONSISTENCY).join(', ')}`);
  return consistency;
}

async function runKv(
  client: KvClient,
  command: string | undefined,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  switch (command) {
    case 'put': {
      const key = arg(args, 0, 'put needs KEY and VALUE');
      const value = arg(args, 1, 'put needs KEY and VALUE');
      await client.put(te.encode(key), te.encode(value), positiveOption(values, 'ttl-ms'));
      io.out('OK');
      return 0;
    }
    case 'get': {
      const key = arg(args, 0, 'get needs KEY');
      const value = await client.get(te.encode(key), consistencyOption(values));
      if (value === undefined) {
        io.out('(not found)');
        return 1;
      }
      io.out(td.decode(value));
      return 0;
    }
    case 'delete':
      await client.delete(te.encode(arg(args, 0, 'delete needs KEY')));
      io.out('OK');
      return 0;
    case 'delete-range':
      await client.deleteRange(te.encode(arg(args, 0, 'delete-range needs START')), te.encode(args[1] ?? ''));
      io.out('OK');
      return 0;
    case 'scan':
      return scan(client, args, values, io);
    case 'cas':
      return cas(client, args, values, io);
    default:
      throw new UsageError(command === undefined ? 'no command' : `unknown command '${command}'`);
  }
}

async function scan(
  client: KvClient,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  const start = arg(args, 0, 'scan needs START ("" for the first key)');
  const { pairs, hasMore } = await client.scanRange(te.encode(start), te.encode(args[1] ?? ''), {
    limit: positiveOption(values, 'limit') ?? 100,
    reverse: values.reverse,
    keyOnly: values['key-only'],
    readConsistency: consistencyOption(values),
  });
  for (const [k, v] of pairs) io.out(values['key-only'] ? td.decode(k) : `${td.decode(k)}\t${td.decode(v)}`);
  io.out(
    `(${pairs.length} pair${pairs.length === 1 ? '' : 's'}${hasMore ? '; more follow, raise --limit' : ''})`,
  );
  return 0;
}

async function cas(
  client: KvClient,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  const key = arg(args, 0, 'cas needs KEY');
  if ((values.expect === undefined) === !values['expect-absent'])
    throw new UsageError('cas needs exactly one of --expect VALUE and --expect-absent');
  if ((values.new === undefined) === !values.delete)
    throw new UsageError('cas needs exactly one of --new VALUE and --delete');
  const result = await client.compareAndSwap(
    te.encode(key),
    values.expect === undefined ? undefined : te.encode(values.expect),
    values.new === undefined ? undefined : te.encode(values.new),
    positiveOption(values, 'ttl-ms'),
  );
  const previous = result.previousValue === undefined ? '(absent)' : td.decode(result.previousValue);
  if (result.succeeded) {
    io.out(`OK (previous: ${previous})`);
    return 0;
  }
  io.out(`FAILED: current value is ${previous}`);
  return 1;
}

async function status(stores: ReadonlyMap<number, string>, io: CliOutput): Promise<number> {
  const answers = await Promise.all(
    [...stores].map(([id, address]) =>
      fetchStoreStatus(address, STATUS_TIMEOUT_MS).then(
        (res) => ({ id, address, res }),
        (err: unknown) => ({ id, address, err }),
      ),
    ),
  );
  let unreachable = 0;
  for (const answer of answers) {
    if ('res' in answer) {
      for (const line of formatStoreStatus(answer.id, answer.res)) io.out(line);
    } else {
      unreachable++;
      const e = answer.err as { details?: string; message?: string };
      io.out(`store ${answer.id}  ${answer.address}  UNREACHABLE (${e.details || e.message || String(e)})`);
    }
  }
  return unreachable === 0 ? 0 : 1;
}
