// `flotilla put|get|delete|delete-range|scan|cas|status`: talk to a cluster from the shell
// through the SDK (sdk/): regions are found through the Placement Driver, requests go to
// each region's leader and are retried across leader changes and splits. Keys and values are
// UTF-8 text. Exit codes: 0 done, 1 not found / compare failed / the cluster did not
// answer, 2 usage error.
import { parseArgs } from 'node:util';
import { metapb } from '@flotilla/proto';
import { createClient, FlotillaError } from '../../../sdk/src/index.js';
import type { Consistency, FlotillaClient } from '../../../sdk/src/index.js';
import { PdClient } from '../pd-client/pd-client.js';
import { fetchStoreStatus, formatStoreStatus } from './admin-client.js';
import { formatPdStoreLine } from './pd-store-line.js';
import { formatOperatorStatus } from './operator-status-format.js';

export const DEFAULT_PD = '127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381';
export const CLIENT_COMMANDS = [
  'put',
  'get',
  'delete',
  'delete-range',
  'scan',
  'cas',
  'status',
  'decommission',
] as const;

export const CLIENT_USAGE = `usage: flotilla <command> [--pd host:port,...]   (or FLOTILLA_PD; default ${DEFAULT_PD})
  put KEY VALUE [--ttl-ms N]
  get KEY [--consistency linearizable|lease|stale]
  delete KEY
  delete-range START [END]            END omitted: to the end of the keyspace
  scan START [END] [--limit N] [--reverse] [--key-only] [--consistency MODE]
  cas KEY (--expect VALUE | --expect-absent) (--new VALUE | --delete) [--ttl-ms N]
  status                              PD's stores, each store's regions (role, term, commit, applied, log), PD's operators
  decommission STORE_ID               mark the store Offline: PD moves its replicas away, then retires it`;

const CONSISTENCIES: readonly Consistency[] = ['linearizable', 'lease', 'stale'];

/** Time one command may take, retries across leader changes included. */
const OPERATION_TIMEOUT_MS = 10_000;
const STATUS_TIMEOUT_MS = 3_000;

class UsageError extends Error {}

export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const td = new TextDecoder();

type Values = ReturnType<typeof parseCommandArgs>['values'];

function parseCommandArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      pd: { type: 'string' },
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
  let pdEndpoints: string[];
  try {
    parsed = parseCommandArgs(argv);
    pdEndpoints = parseEndpoints(parsed.values.pd ?? env.FLOTILLA_PD ?? DEFAULT_PD);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
    return usage(io, err.message);
  }
  const [command, ...args] = parsed.positionals;
  if (command === 'status') return status(pdEndpoints, io);
  if (command === 'decommission') return decommission(pdEndpoints, parsed.positionals[1], io);
  let client: FlotillaClient | undefined;
  try {
    // Checked before connecting: a usage error never touches the cluster.
    checkUsage(command, args, parsed.values);
    client = await createClient({ pdEndpoints, timeoutMs: OPERATION_TIMEOUT_MS });
    return await runKv(client, command, args, parsed.values, io);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message);
    io.err(`flotilla: ${err instanceof FlotillaError ? `${err.code}: ${err.message}` : String(err)}`);
    return 1;
  } finally {
    await client?.close();
  }
}

function parseEndpoints(text: string): string[] {
  const endpoints = text.split(',').map((e) => e.trim());
  for (const e of endpoints)
    if (!/^[^:\s]+:\d{1,5}$/.test(e)) throw new UsageError(`--pd: '${e}' is not host:port`);
  return endpoints;
}

/** Validates the command and its options up front. */
function checkUsage(command: string | undefined, args: readonly string[], values: Values): void {
  positiveOption(values, 'ttl-ms');
  positiveOption(values, 'limit');
  consistencyOption(values);
  switch (command) {
    case 'put':
      arg(args, 1, 'put needs KEY and VALUE');
      return;
    case 'get':
      arg(args, 0, 'get needs KEY');
      return;
    case 'delete':
      arg(args, 0, 'delete needs KEY');
      return;
    case 'delete-range':
      arg(args, 0, 'delete-range needs START');
      return;
    case 'scan':
      arg(args, 0, 'scan needs START ("" for the first key)');
      return;
    case 'cas':
      arg(args, 0, 'cas needs KEY');
      if ((values.expect === undefined) === !values['expect-absent'])
        throw new UsageError('cas needs exactly one of --expect VALUE and --expect-absent');
      if ((values.new === undefined) === !values.delete)
        throw new UsageError('cas needs exactly one of --new VALUE and --delete');
      return;
    default:
      throw new UsageError(command === undefined ? 'no command' : `unknown command '${command}'`);
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

function consistencyOption(values: Values): Consistency {
  const consistency = CONSISTENCIES.find((c) => c === values.consistency);
  if (consistency === undefined)
    throw new UsageError(`--consistency must be one of ${CONSISTENCIES.join(', ')}`);
  return consistency;
}

async function runKv(
  client: FlotillaClient,
  command: string | undefined,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  switch (command) {
    case 'put': {
      const key = arg(args, 0, 'put needs KEY and VALUE');
      const value = arg(args, 1, 'put needs KEY and VALUE');
      await client.put(key, value, { ttlMs: positiveOption(values, 'ttl-ms') });
      io.out('OK');
      return 0;
    }
    case 'get': {
      const key = arg(args, 0, 'get needs KEY');
      const value = await client.get(key, { consistency: consistencyOption(values) });
      if (value === undefined) {
        io.out('(not found)');
        return 1;
      }
      io.out(td.decode(value));
      return 0;
    }
    case 'delete':
      await client.delete(arg(args, 0, 'delete needs KEY'));
      io.out('OK');
      return 0;
    case 'delete-range':
      await client.deleteRange(arg(args, 0, 'delete-range needs START'), args[1] ?? '');
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
  client: FlotillaClient,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  const start = arg(args, 0, 'scan needs START ("" for the first key)');
  const limit = positiveOption(values, 'limit') ?? 100;
  const pairs: Array<{ key: Buffer; value: Buffer }> = [];
  // One more than asked: whether more follow.
  for await (const pair of client.scan({
    start,
    end: args[1] ?? '',
    limit: limit + 1,
    reverse: values.reverse,
    keysOnly: values['key-only'],
    consistency: consistencyOption(values),
  }))
    pairs.push(pair);
  const hasMore = pairs.length > limit;
  if (hasMore) pairs.length = limit;
  for (const { key, value } of pairs)
    io.out(values['key-only'] ? td.decode(key) : `${td.decode(key)}\t${td.decode(value)}`);
  io.out(
    `(${pairs.length} pair${pairs.length === 1 ? '' : 's'}${hasMore ? '; more follow, raise --limit' : ''})`,
  );
  return 0;
}

async function cas(
  client: FlotillaClient,
  args: readonly string[],
  values: Values,
  io: CliOutput,
): Promise<number> {
  const key = arg(args, 0, 'cas needs KEY');
  if ((values.expect === undefined) === !values['expect-absent'])
    throw new UsageError('cas needs exactly one of --expect VALUE and --expect-absent');
  if ((values.new === undefined) === !values.delete)
    throw new UsageError('cas needs exactly one of --new VALUE and --delete');
  const result = await client.compareAndSwap(key, values.expect ?? null, values.new ?? null, {
    ttlMs: positiveOption(values, 'ttl-ms'),
  });
  const previous = result.previousValue === undefined ? '(absent)' : td.decode(result.previousValue);
  if (result.succeeded) {
    io.out(`OK (previous: ${previous})`);
    return 0;
  }
  io.out(`FAILED: current value is ${previous}`);
  return 1;
}

/** Marks a store Offline; PD's replica checker then evacuates it and retires it when empty. */
async function decommission(
  pdEndpoints: readonly string[],
  idText: string | undefined,
  io: CliOutput,
): Promise<number> {
  const storeId = Number(idText);
  if (idText === undefined || !/^\d+$/.test(idText) || !Number.isSafeInteger(storeId) || storeId < 1)
    return usage(io, 'decommission needs a STORE_ID (a positive integer)');
  const pd = new PdClient({ endpoints: pdEndpoints, callTimeoutMs: OPERATION_TIMEOUT_MS });
  try {
    await pd.setStoreState(storeId, metapb.StoreState.OFFLINE);
    io.out(`store ${storeId} is Offline: PD moves its replicas away, then marks it Tombstone`);
    return 0;
  } catch (err) {
    io.err(`flotilla: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    pd.close();
  }
}

/** The stores PD knows, each with its regions as it reports them (Admin Status). */
async function status(pdEndpoints: readonly string[], io: CliOutput): Promise<number> {
  const pd = new PdClient({ endpoints: pdEndpoints, callTimeoutMs: STATUS_TIMEOUT_MS * 2 });
  try {
    let stores;
    try {
      stores = (await pd.getAllStores(true)).stores;
    } catch (err) {
      io.out(
        `PD (${pdEndpoints.join(', ')}) UNREACHABLE: ${err instanceof Error ? err.message : String(err)}`,
      );
      return 1;
    }
    io.out(`PD leader ${pd.leaderAddress ?? '?'}, ${stores.length} store(s)`);
    const answers = await Promise.all(
      stores.map((store) =>
        fetchStoreStatus(store.address, STATUS_TIMEOUT_MS).then(
          (res) => ({ store, res }),
          (err: unknown) => ({ store, err }),
        ),
      ),
    );
    // PD's view of each store's disk (from its heartbeats): what PD places there.
    const pdLines = await Promise.all(
      stores.map((store) =>
        pd.getStore(Number(store.id)).then(
          (res) => formatPdStoreLine(res.stats),
          (err: unknown) => `  PD: store unavailable (${err instanceof Error ? err.message : String(err)})`,
        ),
      ),
    );
    let unreachable = 0;
    for (const [i, answer] of answers.entries()) {
      const id = Number(answer.store.id);
      const pdLine = pdLines[i] as string;
      const state =
        answer.store.state === metapb.StoreState.UP
          ? ''
          : ` (${metapb.storeStateToJSON(answer.store.state)})`;
      if ('res' in answer) {
        const lines = formatStoreStatus(id, answer.res);
        // After the store's own line and disk line, before its regions.
        lines.splice(answer.res.disk === undefined ? 1 : 2, 0, pdLine);
        for (const line of lines) io.out(line + (line.startsWith('store') ? state : ''));
      } else {
        unreachable++;
        const e = answer.err as { details?: string; message?: string };
        io.out(
          `store ${id}  ${answer.store.address}  UNREACHABLE${state} (${e.details || e.message || String(e)})`,
        );
        io.out(pdLine);
      }
    }
    try {
      for (const line of formatOperatorStatus(await pd.getOperators())) io.out(line);
    } catch (err) {
      io.out(`operators: unavailable (${err instanceof Error ? err.message : String(err)})`);
    }
    return unreachable === 0 ? 0 : 1;
  } finally {
    pd.close();
  }
}
