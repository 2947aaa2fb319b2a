// The RegionHeartbeat streams open on the PD leader, one per store (a store's newer stream
// replaces its older one). Operators for a region go down the stream of the store holding
// its leader. Each stream has a bounded number of responses in flight: past it an operator
// is dropped and the caller told so (the scheduler retries on a later heartbeat).
import type { pdpb } from '@flotilla/proto';

/** Responses written to one stream and not yet flushed to the socket; beyond it sends are refused. */
export const STREAM_RESPONSES_IN_FLIGHT_MAX = 64;
/** Streams one PD leader keeps open; a store beyond it is refused. */
export const HEARTBEAT_STREAMS_MAX = 10_000;

/** The writing side of one stream, as the gRPC layer provides it. */
export interface HeartbeatSink {
  /** Writes one response; calls `done` once it is flushed (or failed). */
  write(response: pdpb.RegionHeartbeatResponse, done: () => void): void;
  /** Ends the stream (after a last response, if any). */
  end(last?: pdpb.RegionHeartbeatResponse): void;
}

interface StreamEntry {
  readonly sink: HeartbeatSink;
  inFlightCount: number;
}

export class HeartbeatStreams {
  private readonly byStore = new Map<number, StreamEntry>();

  /** Registers the stream a store reports on; returns false if the bound of streams is reached. */
  attach(storeId: number, sink: HeartbeatSink): boolean {
    const old = this.byStore.get(storeId);
    if (old?.sink === sink) return true;
    if (old === undefined && this.byStore.size >= HEARTBEAT_STREAMS_MAX) return false;
    if (old !== undefined) old.sink.end();
    this.byStore.set(storeId, { sink, inFlightCount: 0 });
    return true;
  }

  /** Forgets a stream that ended (only if it is still the store's current one). */
  detach(storeId: number, sink: HeartbeatSink): void {
    if (this.byStore.get(storeId)?.sink === sink) this.byStore.delete(storeId);
  }

  /** Sends to the store's stream; false when it has none or too many responses in flight. */
  send(storeId: number, response: pdpb.RegionHeartbeatResponse): boolean {
    const entry = this.byStore.get(storeId);
    if (entry === undefined || entry.inFlightCount >= STREAM_RESPONSES_IN_FLIGHT_MAX) return false;
    entry.inFlightCount++;
    entry.sink.write(response, () => {
      entry.inFlightCount--;
    });
    return true;
  }

  /** Ends every stream with `last` (e.g. NOT_LEADER when leadership is lost). */
  closeAll(last: pdpb.RegionHeartbeatResponse): void {
    for (const entry of this.byStore.values()) entry.sink.end(last);
    this.byStore.clear();
  }

  get size(): number {
    return this.byStore.size;
  }
}
