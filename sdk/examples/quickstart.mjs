// Runnable with plain node against a running cluster (PD addresses as arguments):
//   node node_modules/@flotilla/sdk/examples/quickstart.mjs 127.0.0.1:2379   (installed package)
//   npm run build -w sdk && node sdk/examples/quickstart.mjs 127.0.0.1:2379  (this repository)
// tests/integration/sdk-package.test.ts runs it from the packed package against a real cluster.
import { ResultUnknownError, TimeoutError, createClient } from '@flotilla/sdk';

const pdEndpoints = process.argv.slice(2);
if (pdEndpoints.length === 0) throw new Error('usage: quickstart.mjs <pd host:port>...');

const client = await createClient({ pdEndpoints, timeoutMs: 5_000 });
try {
  // Keys and values: strings (UTF-8), Buffers or Uint8Arrays. Reads return Buffers.
  await client.put('user/1', JSON.stringify({ name: 'Ada' }));
  const user = await client.get('user/1');
  console.log('user/1 =', user?.toString());

  // A key that expires.
  await client.put('session/abc', 'token', { ttlMs: 60_000 });

  // Compare-and-swap: create only if absent, then update only if unchanged.
  const created = await client.compareAndSwap('counter', null, '1');
  const bumped = await client.compareAndSwap(
    'counter',
    created.succeeded ? '1' : (created.previousValue ?? null),
    '2',
  );
  console.log('counter swapped:', bumped.succeeded);

  // Batches are split by region and sent in parallel (atomic only within one region).
  await client.batchPut([
    ['fruit/apple', 'red'],
    ['fruit/banana', 'yellow'],
    ['fruit/cherry', 'dark red'],
  ]);
  const [apple, kiwi] = await client.batchGet(['fruit/apple', 'fruit/kiwi']);
  console.log('apple', apple?.toString(), 'kiwi', kiwi); // kiwi: undefined

  // Scans cross region boundaries; paging is automatic.
  for await (const { key, value } of client.scan({ start: 'fruit/', end: 'fruit0', limit: 100 })) {
    console.log(key.toString(), '=>', value.toString());
  }
  for await (const { key } of client.scan({
    start: 'fruit/',
    end: 'fruit0',
    reverse: true,
    keysOnly: true,
  })) {
    console.log('reverse', key.toString());
  }

  // Reads may trade freshness for speed.
  await client.get('fruit/apple', { consistency: 'lease' });
  await client.get('fruit/apple', { consistency: 'stale' });

  // Deadlines and cancellation.
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1_000);
  await client.get('fruit/apple', { timeoutMs: 500, signal: controller.signal });

  // A write whose answer was lost may or may not have been applied: check, then decide.
  try {
    await client.put('order/42', 'paid', { timeoutMs: 200 });
  } catch (err) {
    if (err instanceof ResultUnknownError)
      console.log('order/42 is now', (await client.get('order/42'))?.toString());
    else if (err instanceof TimeoutError) console.log('not applied; safe to retry');
    else throw err;
  }

  await client.deleteRange('fruit/', 'fruit0');
  console.log(client.stats());
} finally {
  await client.close();
}
