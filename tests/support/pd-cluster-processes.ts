// A whole cluster under a Placement Driver as real processes, for integration tests: PD
// members, stores (the first bootstraps the cluster, the others join it), a PD client and an
// SDK client. Each test passes its own PD and store flags; stop() tears everything down in
// reverse order, also after a failed start.
import { createClient } from '../../sdk/src/index.js';
import type { ClientOptions, FlotillaClient } from '../../sdk/src/index.js';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from './pd-processes.js';
import { StoreProcesses } from './store-processes.js';

export interface PdClusterOptions {
  /** PD member ids (default 1, 2, 3). */
  readonly pdMemberIds?: readonly number[];
  /** More flags for every PD member (scheduling intervals, thresholds). */
  readonly pdArgs?: readonly string[];
  /** More flags for every store. */
  readonly storeArgs?: readonly string[];
  /** The SDK client's options (the PD endpoints are filled in). */
  readonly client: Omit<ClientOptions, 'pdEndpoints'>;
}

const STORE_SLOTS = [1, 2, 3] as const;

export class PdClusterProcesses {
  private constructor(
    readonly pds: PdProcesses,
    readonly stores: StoreProcesses,
    readonly pd: PdClient,
    readonly client: FlotillaClient,
  ) {}

  static async start(options: PdClusterOptions): Promise<PdClusterProcesses> {
    const pds = await PdProcesses.create(options.pdMemberIds ?? [1, 2, 3], [...(options.pdArgs ?? [])]);
    let stores: StoreProcesses | undefined;
    let pd: PdClient | undefined;
    try {
      await pds.startAll();
      stores = await StoreProcesses.createWithPd([...STORE_SLOTS], pds.endpoints(), [
        ...(options.storeArgs ?? []),
      ]);
      // One store first: it bootstraps the cluster; the others join it.
      await stores.start(1);
      await Promise.all([stores.start(2), stores.start(3)]);
      pd = new PdClient({ endpoints: pds.endpoints() });
      const client = await createClient({ ...options.client, pdEndpoints: pds.endpoints() });
      return new PdClusterProcesses(pds, stores, pd, client);
    } catch (err) {
      pd?.close();
      await stores?.stopAll();
      await pds.stopAll();
      throw err;
    }
  }

  async stop(): Promise<void> {
    try {
      await this.client.close();
      this.pd.close();
    } finally {
      await this.stores.stopAll();
      await this.pds.stopAll();
    }
  }
}
