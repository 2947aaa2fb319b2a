// The store's end of PD's RegionHeartbeat stream: one bidirectional stream to the PD
// leader carries the reports of every region this store leads, and brings back PD's
// operators. When the stream breaks (PD leader change, restart) it is reopened with
// backoff against the leader discovered anew. Reports are periodic: one sent while the
// stream is down is dropped, not queued (the next period resends the region's state).
import type * as grpc from '@grpc/grpc-js';
import type { pdpb } from '@flotilla/proto';
import type { PdClient } from './pd-client.js';

const REOPEN_BACKOFF_MS_MIN = 50;
const REOPEN_BACKOFF_MS_MAX = 1_000;

type Duplex = grpc.ClientDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse>;

export class RegionHeartbeatStream {
  private stream: Duplex | undefined;
  private opening = false;
  private closed = false;
  private backoffMs = REOPEN_BACKOFF_MS_MIN;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** Reports sent, dropped while the stream was down, streams opened. */
  readonly counters = { sent: 0, dropped: 0, opened: 0 };

  constructor(
    private readonly pd: PdClient,
    private readonly onResponse: (response: pdpb.RegionHeartbeatResponse) => void,
    private readonly log: (line: string) => void,
    /** A stream opened (first, or after a break: possibly to a new PD leader, which knows no region's leader yet). */
    private readonly onOpened: () => void = () => undefined,
  ) {}

  start(): void {
    void this.open();
  }

  /** Sends one report; false (dropped) if the stream is not open or is backed up. */
  send(report: Omit<pdpb.RegionHeartbeatRequest, 'header'>): boolean {
    const stream = this.stream;
    if (stream === undefined || this.closed) {
      this.counters.dropped++;
      return false;
    }
    // write() returning false means grpc buffers beyond its high-water mark: stop adding
    // (the buffer stays bounded), the next period reports again.
    if (stream.writableNeedDrain) {
      this.counters.dropped++;
      return false;
    }
    stream.write({ ...report, header: this.pd.header() });
    this.counters.sent++;
    return true;
  }

  get isOpen(): boolean {
    return this.stream !== undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.stream?.cancel();
    this.stream = undefined;
  }

  private async open(): Promise<void> {
    if (this.opening || this.closed) return;
    this.opening = true;
    let stream: Duplex;
    try {
      stream = await this.pd.openRegionHeartbeat();
    } catch (err) {
      this.opening = false;
      this.log(`region heartbeat stream: ${err instanceof Error ? err.message : String(err)}`);
      return this.scheduleReopen();
    }
    this.opening = false;
    if (this.closed) {
      stream.cancel();
      return;
    }
    this.counters.opened++;
    this.stream = stream;
    this.onOpened();
    stream.on('data', (res: pdpb.RegionHeartbeatResponse) => {
      this.backoffMs = REOPEN_BACKOFF_MS_MIN;
      if (res.header?.error !== undefined) {
        // NOT_LEADER and the like: the member we talk to cannot take reports any more.
        this.log(`region heartbeat stream: PD says ${res.header.error.message}`);
        this.broken(stream);
        return;
      }
      this.onResponse(res);
    });
    stream.on('error', () => this.broken(stream));
    stream.on('end', () => this.broken(stream));
  }

  private broken(stream: Duplex): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.cancel();
    this.pd.invalidateLeader();
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.closed) return;
    clearTimeout(this.reopenTimer);
    const delayMs = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, REOPEN_BACKOFF_MS_MAX);
    this.reopenTimer = setTimeout(() => void this.open(), delayMs);
  }
}
