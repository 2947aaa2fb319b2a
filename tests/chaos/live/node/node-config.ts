// What a chaos container is told to run: its fault-proxy routes, its control port, its
// seed and the `flotilla` command line. The host writes it as JSON into CHAOS_NODE_CONFIG;
// the launcher parses and checks it before starting anything.

export interface ProxyRoute {
  /** The peer this route reaches ('in' for the route in front of the node itself). */
  readonly name: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
}

export interface NodeConfig {
  readonly name: string;
  readonly routes: readonly ProxyRoute[];
  readonly controlPort: number;
  readonly seed: number;
  /** Path of server/src/cli/flotilla.ts inside the container. */
  readonly flotillaEntry: string;
  /** Arguments after `flotilla`, e.g. ['pd', '--member-id', '1', ...]. */
  readonly command: readonly string[];
}

function port(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535)
    throw new RangeError(`${what} must be a TCP port, got ${JSON.stringify(value)}`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new TypeError(`${what} must be a non-empty string`);
  return value;
}

export function parseNodeConfig(raw: string | undefined): NodeConfig {
  if (raw === undefined) throw new Error('CHAOS_NODE_CONFIG is not set');
  const value = JSON.parse(raw) as Record<string, unknown>;
  const routes = value['routes'];
  const command = value['command'];
  if (!Array.isArray(routes)) throw new TypeError('routes must be an array');
  if (!Array.isArray(command)) throw new TypeError('command must be an array');
  const seed = value['seed'];
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new TypeError('seed must be an integer');
  return {
    name: text(value['name'], 'name'),
    controlPort: port(value['controlPort'], 'controlPort'),
    seed,
    flotillaEntry: text(value['flotillaEntry'], 'flotillaEntry'),
    command: command.map((arg, index) => text(arg, `command[${index}]`)),
    routes: routes.map((route: Record<string, unknown>, index) => ({
      name: text(route['name'], `routes[${index}].name`),
      listenHost: text(route['listenHost'], `routes[${index}].listenHost`),
      listenPort: port(route['listenPort'], `routes[${index}].listenPort`),
      targetHost: text(route['targetHost'], `routes[${index}].targetHost`),
      targetPort: port(route['targetPort'], `routes[${index}].targetPort`),
    })),
  };
}
