// Parsing of the static cluster description shared by the store process and the CLI:
// "1=127.0.0.1:20161,2=127.0.0.1:20162,3=127.0.0.1:20163".

export class ClusterSpecError extends Error {
  readonly code = 'INVALID_CLUSTER_SPEC';
}

const STORES_MAX = 64;

export function parseClusterSpec(spec: string): Map<number, string> {
  const stores = new Map<number, string>();
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ClusterSpecError(`'${part}' is not <storeId>=<host:port>`);
    const id = Number(part.slice(0, eq));
    const address = part.slice(eq + 1);
    if (!Number.isSafeInteger(id) || id < 1)
      throw new ClusterSpecError(`store id '${part.slice(0, eq)}' must be a positive integer`);
    if (!/^[^:\s]+:\d{1,5}$/.test(address))
      throw new ClusterSpecError(`address '${address}' must be host:port`);
    if (stores.has(id)) throw new ClusterSpecError(`store ${id} appears twice`);
    stores.set(id, address);
  }
  if (stores.size === 0) throw new ClusterSpecError('the cluster needs at least one store');
  if (stores.size > STORES_MAX) throw new ClusterSpecError(`at most ${STORES_MAX} initial stores`);
  return stores;
}

export function formatClusterSpec(stores: ReadonlyMap<number, string>): string {
  return [...stores].map(([id, address]) => `${id}=${address}`).join(',');
}
