// Raw Kv gRPC calls for tests that need to see exactly what one store answers (region
// errors, key errors, status codes), without a client that retries or follows leaders.
import * as grpc from '@grpc/grpc-js';
import { kvpb } from '@flotilla/proto';

/** Time one raw call may take: generous, CI machines are busy. */
const CALL_TIMEOUT_MS = 10_000;

export type KvMethod =
  'get' | 'batchGet' | 'scan' | 'put' | 'delete' | 'deleteRange' | 'batchWrite' | 'compareAndSwap';

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type UnaryFn<Req, Res> = (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: Callback<Res>) => void;

export class RawKv {
  private readonly clients = new Map<number, kvpb.KvClient>();

  constructor(private readonly addresses: ReadonlyMap<number, string>) {}

  client(storeId: number): kvpb.KvClient {
    let client = this.clients.get(storeId);
    if (client === undefined) {
      const address = this.addresses.get(storeId);
      if (address === undefined) throw new Error(`no address for store ${storeId}`);
      client = new kvpb.KvClient(address, grpc.credentials.createInsecure());
      this.clients.set(storeId, client);
    }
    return client;
  }

  /** One unary call to one store; rejects with the grpc.ServiceError. */
  call<Req, Res>(storeId: number, method: KvMethod, request: Req, timeoutMs = CALL_TIMEOUT_MS): Promise<Res> {
    const client = this.client(storeId);
    const fn = (client as unknown as Record<KvMethod, UnaryFn<Req, Res>>)[method];
    return new Promise((resolve, reject) => {
      fn.call(
        client,
        request,
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + timeoutMs) },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The context of the one static region (id 1, epoch 1/1). */
export function regionContext(overrides: Partial<kvpb.Context> = {}): kvpb.Context {
  return {
    regionId: 1n,
    regionEpoch: { confVer: 1n, version: 1n },
    peer: undefined,
    readConsistency: kvpb.ReadConsistency.LINEARIZABLE,
    deadlineMs: 5_000,
    traceContext: undefined,
    ...overrides,
  };
}
