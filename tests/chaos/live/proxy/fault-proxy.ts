// A userspace TCP proxy that injects network faults on one link: latency with jitter,
// a blackhole, a fraction of connections dropped at accept, and a bandwidth limit. This
// kernel has no `tc netem`, so the live chaos suite puts one of these in front of every
// store and PD member (inside each container, and on the host for the clients), the way
// etcd's functional tester does. Faults change at run time through setFaults(); bytes keep
// their order within each direction of a connection whatever the jitter draws.
import net from 'node:net';

export interface LinkFaults {
  /** Added to every chunk in both directions. */
  readonly latencyMs: number;
  /** Each chunk's delay is latencyMs plus a uniform draw in [-jitterMs, +jitterMs] (never below 0). */
  readonly jitterMs: number;
  /** Bytes in either direction are discarded; connections stay open (a silent network). */
  readonly blackhole: boolean;
  /** Share of new connections reset at once, in [0, 1]. */
  readonly connectionDropFraction: number;
  /** Bytes per second per direction of each connection; 0 means no limit. */
  readonly bandwidthBytesPerSecond: number;
}

export const NO_FAULTS: LinkFaults = {
  latencyMs: 0,
  jitterMs: 0,
  blackhole: false,
  connectionDropFraction: 0,
  bandwidthBytesPerSecond: 0,
};

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface FaultProxyOptions {
  readonly name: string;
  readonly listenHost: string;
  /** 0 picks a free port (read it from `port` after listen()). */
  readonly listenPort: number;
  readonly target: ProxyTarget;
  /** Uniform draws in [0, 1); inject a seeded source for repeatable runs. */
  readonly random: () => number;
  /** Bytes held per direction of a connection before its source is paused. Default 4 MiB. */
  readonly queuedBytesMax?: number;
  /** Open connections at once; more are refused. Default 1 024. */
  readonly connectionsMax?: number;
}

export interface FaultProxyStats {
  connectionsAccepted: number;
  connectionsDropped: number;
  connectionsRefused: number;
  bytesForwarded: number;
  bytesBlackholed: number;
}

const QUEUED_BYTES_MAX_DEFAULT = 4 * 1024 * 1024;
const CONNECTIONS_MAX_DEFAULT = 1024;

export function checkFaults(faults: LinkFaults): LinkFaults {
  const nonNegative = (name: string, value: number): void => {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  };
  nonNegative('latencyMs', faults.latencyMs);
  nonNegative('jitterMs', faults.jitterMs);
  nonNegative('bandwidthBytesPerSecond', faults.bandwidthBytesPerSecond);
  if (!(faults.connectionDropFraction >= 0 && faults.connectionDropFraction <= 1)) {
    throw new RangeError(`connectionDropFraction must be in [0, 1], got ${faults.connectionDropFraction}`);
  }
  if (typeof faults.blackhole !== 'boolean') throw new TypeError('blackhole must be a boolean');
  return { ...faults };
}

export class FaultProxy {
  readonly name: string;
  private readonly server: net.Server;
  private readonly pipes = new Set<Pipe>();
  private faultsNow: LinkFaults = NO_FAULTS;
  private target: ProxyTarget;
  private readonly queuedBytesMax: number;
  private readonly connectionsMax: number;
  readonly stats: FaultProxyStats = {
    connectionsAccepted: 0,
    connectionsDropped: 0,
    connectionsRefused: 0,
    bytesForwarded: 0,
    bytesBlackholed: 0,
  };

  constructor(private readonly options: FaultProxyOptions) {
    this.name = options.name;
    this.target = options.target;
    this.queuedBytesMax = options.queuedBytesMax ?? QUEUED_BYTES_MAX_DEFAULT;
    this.connectionsMax = options.connectionsMax ?? CONNECTIONS_MAX_DEFAULT;
    if (!(this.queuedBytesMax > 0) || !(this.connectionsMax > 0))
      throw new RangeError('proxy bounds must be positive');
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.listenPort, this.options.listenHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string')
      throw new Error(`proxy ${this.name} is not listening`);
    return address.port;
  }

  get faults(): LinkFaults {
    return this.faultsNow;
  }

  /** New faults apply to every chunk from now on, on open connections too. */
  setFaults(faults: LinkFaults): void {
    this.faultsNow = checkFaults(faults);
  }

  /** Later connections go to `target` (a container restarted on a new mapped port). */
  setTarget(target: ProxyTarget): void {
    this.target = target;
  }

  /** Closes every open connection on both sides, as a restarted middlebox would. */
  closeConnections(): void {
    for (const pipe of [...this.pipes]) pipe.close();
  }

  get connectionsOpen(): number {
    return this.pipes.size;
  }

  async close(): Promise<void> {
    this.closeConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.pipes.size >= this.connectionsMax) {
      this.stats.connectionsRefused++;
      client.resetAndDestroy();
      return;
    }
    if (
      this.faultsNow.connectionDropFraction > 0 &&
      this.options.random() < this.faultsNow.connectionDropFraction
    ) {
      this.stats.connectionsDropped++;
      client.resetAndDestroy();
      return;
    }
    this.stats.connectionsAccepted++;
    const upstream = net.connect(this.target.port, this.target.host);
    const pipe = new Pipe(client, upstream, this);
    this.pipes.add(pipe);
    pipe.onClose = () => this.pipes.delete(pipe);
  }

  /** @internal The delay of the next chunk, from the faults in force now. */
  drawDelayMs(): number {
    const { latencyMs, jitterMs } = this.faultsNow;
    if (jitterMs === 0) return latencyMs;
    return Math.max(0, latencyMs + (this.options.random() * 2 - 1) * jitterMs);
  }

  /** @internal */
  get queueBound(): number {
    return this.queuedBytesMax;
  }
}

/** One accepted connection: two directions, each with its own ordered delay queue. */
class Pipe {
  onClose: () => void = () => {};
  private closed = false;
  private readonly directions: Direction[];

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    proxy: FaultProxy,
  ) {
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.directions = [new Direction(client, upstream, proxy), new Direction(upstream, client, proxy)];
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.close());
      socket.on('close', () => this.close());
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const direction of this.directions) direction.stop();
    // destroy(), not resetAndDestroy(): on Node 20 a reset of an open, used connection left
    // its handle registered and the process never exited.
    this.client.destroy();
    this.upstream.destroy();
    this.onClose();
  }
}

interface QueuedChunk {
  readonly data: Buffer;
  readonly dueMs: number;
}

/** Bytes from `source` to `sink`, each chunk held until its due time; order is kept. */
class Direction {
  private readonly queue: QueuedChunk[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Due time of the last queued chunk: a later chunk is never due before it (order). */
  private lastDueMs = 0;
  /** When the bandwidth limit lets the next byte leave. */
  private wireFreeAtMs = 0;
  private sinkBlocked = false;
  private stopped = false;

  constructor(
    private readonly source: net.Socket,
    private readonly sink: net.Socket,
    private readonly proxy: FaultProxy,
  ) {
    source.on('data', (data: Buffer) => this.receive(data));
    source.on('end', () => this.whenDrained(() => sink.end()));
    sink.on('drain', () => {
      this.sinkBlocked = false;
      this.pump();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private endPending: (() => void) | null = null;

  private whenDrained(action: () => void): void {
    if (this.queue.length === 0) action();
    else this.endPending = action;
  }

  private receive(data: Buffer): void {
    if (this.stopped) return;
    const faults = this.proxy.faults;
    if (faults.blackhole) {
      this.proxy.stats.bytesBlackholed += data.length;
      return;
    }
    const nowMs = performance.now();
    let dueMs = Math.max(nowMs + this.proxy.drawDelayMs(), this.lastDueMs);
    if (faults.bandwidthBytesPerSecond > 0) {
      const startMs = Math.max(dueMs, this.wireFreeAtMs);
      this.wireFreeAtMs = startMs + (data.length * 1000) / faults.bandwidthBytesPerSecond;
      dueMs = this.wireFreeAtMs;
    }
    this.lastDueMs = dueMs;
    this.queue.push({ data, dueMs });
    this.queuedBytes += data.length;
    if (this.queuedBytes > this.proxy.queueBound) this.source.pause();
    this.pump();
  }

  private pump(): void {
    if (this.stopped || this.sinkBlocked || this.timer !== null) return;
    const nowMs = performance.now();
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined) break;
      if (head.dueMs > nowMs + 0.5) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, head.dueMs - nowMs);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.data.length;
      // A blackhole that started after the chunk was queued swallows it too.
      if (this.proxy.faults.blackhole) {
        this.proxy.stats.bytesBlackholed += head.data.length;
        continue;
      }
      this.proxy.stats.bytesForwarded += head.data.length;
      if (!this.sink.write(head.data)) {
        this.sinkBlocked = true;
        break;
      }
    }
    if (this.queuedBytes <= this.proxy.queueBound && this.source.isPaused()) this.source.resume();
    if (this.queue.length === 0 && this.endPending !== null) {
      const action = this.endPending;
      this.endPending = null;
      action();
    }
  }
}
