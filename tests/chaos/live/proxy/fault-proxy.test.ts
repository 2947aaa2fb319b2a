// The fault proxy on real sockets: bytes pass unchanged and in order; latency, jitter,
// blackhole, dropped connections and the bandwidth limit each do what they say and stop
// when healed. Lower bounds on time are safe to assert (a timer never fires early); upper
// bounds are left generous for a busy machine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FaultProxy, NO_FAULTS } from './fault-proxy.js';
import { seededRandom } from './seeded-random.js';

let echo: net.Server;
let echoPort = 0;

before(async () => {
  echo = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

async function startProxy(seed = 1): Promise<FaultProxy> {
  const proxy = new FaultProxy({
    name: 'test',
    listenHost: '127.0.0.1',
    listenPort: 0,
    target: { host: '127.0.0.1', port: echoPort },
    random: seededRandom(seed),
  });
  await proxy.listen();
  return proxy;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Collects bytes from `socket` until `count` arrived; resolves with them. */
function receive(socket: net.Socket, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (data: Buffer): void => {
      chunks.push(data);
      got += data.length;
      if (got >= count) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function roundTripMs(socket: net.Socket, payload: Buffer): Promise<number> {
  const started = performance.now();
  const back = receive(socket, payload.length);
  socket.write(payload);
  assert.deepEqual(await back, payload);
  return performance.now() - started;
}

describe('fault proxy', () => {
  it('forwards bytes unchanged and in order without faults', async () => {
    const proxy = await startProxy();
    const socket = await connect(proxy.port);
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    await roundTripMs(socket, payload);
    socket.destroy();
    await proxy.close();
  });

  it('delays every chunk by the latency in each direction, and stops delaying once healed', async () => {
    const proxy = await startProxy();
    const socket = await connect(proxy.port);
    proxy.setFaults({ ...NO_FAULTS, latencyMs: 120 });
    const slowMs = await roundTripMs(socket, Buffer.from('ping'));
    assert.ok(slowMs >= 2 * 120 - 2, `round trip ${slowMs} ms, expected at least 240 (120 ms each way)`);
    proxy.setFaults(NO_FAULTS);
    const fastMs = await roundTripMs(socket, Buffer.from('pong'));
    assert.ok(fastMs < slowMs, `healed round trip ${fastMs} ms is not faster than ${slowMs} ms`);
    socket.destroy();
    await proxy.close();
  });

  it('draws jitter around the latency but keeps the byte order', async () => {
    const proxy = await startProxy(7);
    const socket = await connect(proxy.port);
    proxy.setFaults({ ...NO_FAULTS, latencyMs: 40, jitterMs: 35 });
    const expected: Buffer[] = [];
    const back = receive(socket, 200 * 4);
    for (let i = 0; i < 200; i++) {
      const chunk = Buffer.alloc(4);
      chunk.writeUInt32BE(i);
      expected.push(chunk);
      socket.write(chunk);
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await back, Buffer.concat(expected));
    const draws = Array.from({ length: 1000 }, () => proxy.drawDelayMs());
    assert.ok(Math.min(...draws) >= 5 - 1e-9 && Math.max(...draws) <= 75 + 1e-9);
    assert.ok(Math.max(...draws) - Math.min(...draws) > 50, 'jitter draws spread over the range');
    socket.destroy();
    await proxy.close();
  });

  it('blackholes bytes while the connection stays open, and forwards again once healed', async () => {
    const proxy = await startProxy();
    const socket = await connect(proxy.port);
    proxy.setFaults({ ...NO_FAULTS, blackhole: true });
    let leaked = 0;
    const onLeak = (data: Buffer): void => {
      leaked += data.length;
    };
    socket.on('data', onLeak);
    socket.write(Buffer.from('into the void'));
    await waitFor(() => proxy.stats.bytesBlackholed >= 13);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(leaked, 0);
    assert.equal(socket.destroyed, false);
    socket.off('data', onLeak);
    proxy.setFaults(NO_FAULTS);
    await roundTripMs(socket, Buffer.from('back'));
    socket.destroy();
    await proxy.close();
  });

  it('resets the given fraction of new connections', async () => {
    const proxy = await startProxy(3);
    proxy.setFaults({ ...NO_FAULTS, connectionDropFraction: 1 });
    const dropped = net.connect(proxy.port, '127.0.0.1');
    dropped.on('error', () => {});
    await new Promise<void>((resolve) => dropped.once('close', () => resolve()));
    assert.equal(proxy.stats.connectionsDropped, 1);
    proxy.setFaults({ ...NO_FAULTS, connectionDropFraction: 0.5 });
    let survived = 0;
    const attempts = 60;
    for (let i = 0; i < attempts; i++) {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('x');
      const outcome = await new Promise<'ok' | 'closed'>((resolve) => {
        socket.once('data', () => resolve('ok'));
        socket.once('close', () => resolve('closed'));
      });
      if (outcome === 'ok') survived++;
      socket.destroy();
    }
    assert.ok(survived > attempts * 0.2 && survived < attempts * 0.8, `${survived} of ${attempts} survived`);
    await proxy.close();
  });

  it('limits bandwidth per direction', async () => {
    const proxy = await startProxy();
    const socket = await connect(proxy.port);
    const rate = 256 * 1024;
    proxy.setFaults({ ...NO_FAULTS, bandwidthBytesPerSecond: rate });
    const payload = Buffer.alloc(128 * 1024, 1);
    const elapsedMs = await roundTripMs(socket, payload);
    // 128 KiB at 256 KiB/s is 500 ms one way; the echo's way back overlaps it.
    assert.ok(elapsedMs >= 480, `128 KiB crossed in ${elapsedMs} ms at ${rate} B/s`);
    socket.destroy();
    await proxy.close();
  });

  it('rejects nonsense faults with a clear error', async () => {
    const proxy = await startProxy();
    assert.throws(() => proxy.setFaults({ ...NO_FAULTS, latencyMs: -1 }), /latencyMs must be/);
    assert.throws(
      () => proxy.setFaults({ ...NO_FAULTS, connectionDropFraction: 2 }),
      /connectionDropFraction/,
    );
    await proxy.close();
  });

  it('closes open connections on request and sends new ones to a new target', async () => {
    const proxy = await startProxy();
    const socket = await connect(proxy.port);
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await waitFor(() => proxy.connectionsOpen === 1);
    proxy.closeConnections();
    await closed;
    const other = net.createServer((s) => {
      s.on('error', () => {});
      s.end('other');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    proxy.setTarget({ host: '127.0.0.1', port: (other.address() as net.AddressInfo).port });
    const second = await connect(proxy.port);
    assert.equal((await receive(second, 5)).toString(), 'other');
    second.destroy();
    await proxy.close();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
