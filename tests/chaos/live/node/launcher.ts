// The entry point of every chaos container: starts the node's fault proxies (one per peer
// it dials, one in front of itself) and a small HTTP control server, then runs the
// `flotilla` command (a PD member or a store) in this same process. Sharing the process
// with the node is deliberate: a kill or a pause takes the proxies down with it, as a
// machine's network stack goes with the machine, and the /stall endpoint blocks the node's
// event loop (the clock-stall fault) without a debug hook inside the server.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { FaultProxy, checkFaults } from '../proxy/fault-proxy.js';
import type { LinkFaults } from '../proxy/fault-proxy.js';
import { seededRandom } from '../proxy/seeded-random.js';
import { parseNodeConfig } from './node-config.js';

/** Longest event-loop stall the control server agrees to (the clock fault is 1-3 s). */
const STALL_MS_MAX = 10_000;
/** Largest control request body. */
const BODY_BYTES_MAX = 64 * 1024;

const config = parseNodeConfig(process.env['CHAOS_NODE_CONFIG']);
const random = seededRandom(config.seed);
const proxies = new Map<string, FaultProxy>();
for (const route of config.routes) {
  const proxy = new FaultProxy({
    name: route.name,
    listenHost: route.listenHost,
    listenPort: route.listenPort,
    target: { host: route.targetHost, port: route.targetPort },
    random,
  });
  await proxy.listen();
  proxies.set(route.name, proxy);
}

function selected(names: unknown): FaultProxy[] {
  if (names === undefined) return [...proxies.values()];
  if (!Array.isArray(names)) throw new TypeError('links must be an array of route names');
  return names.map((name) => {
    const proxy = proxies.get(String(name));
    if (proxy === undefined) throw new RangeError(`no route named ${String(name)}`);
    return proxy;
  });
}

function handle(path: string, body: Record<string, unknown>): unknown {
  switch (path) {
    case '/faults': {
      const faults = checkFaults(body['faults'] as LinkFaults);
      for (const proxy of selected(body['links'])) proxy.setFaults(faults);
      return { ok: true };
    }
    case '/close-connections':
      for (const proxy of selected(body['links'])) proxy.closeConnections();
      return { ok: true };
    case '/stall': {
      const durationMs = Number(body['durationMs']);
      if (!(durationMs > 0 && durationMs <= STALL_MS_MAX))
        throw new RangeError(`durationMs must be in (0, ${STALL_MS_MAX}]`);
      const until = performance.now() + durationMs;
      while (performance.now() < until) {
        // The point: nothing else in this process runs (ticks, timers, I/O callbacks).
      }
      return { ok: true, stalledMs: durationMs };
    }
    case '/stats':
      return Object.fromEntries([...proxies].map(([name, proxy]) => [name, proxy.stats]));
    default:
      throw new RangeError(`unknown control path ${path}`);
  }
}

const control = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > BODY_BYTES_MAX) request.destroy(new Error('control request too large'));
    else chunks.push(chunk);
  });
  request.on('end', () => {
    let status = 200;
    let answer: unknown;
    try {
      const text = Buffer.concat(chunks).toString();
      answer = handle(
        request.url ?? '/',
        text.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>),
      );
    } catch (err) {
      status = 400;
      answer = { error: err instanceof Error ? err.message : String(err) };
    }
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
});
await new Promise<void>((resolve) => control.listen(config.controlPort, '0.0.0.0', resolve));
console.log(`chaos node ${config.name}: ${proxies.size} proxies, control on ${config.controlPort}`);

process.argv = [process.argv[0] ?? 'node', config.flotillaEntry, ...config.command];
await import(pathToFileURL(config.flotillaEntry).href);
