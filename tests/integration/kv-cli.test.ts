// The `flotilla` command against a PD cluster of real processes (3 PD members, 3 stores
// that joined through PD, the region grown to 3 replicas by PD): what each client
// command prints and its exit code (0 done, 1 not found / compare failed, 2 usage), and the
// launcher in server/bin running a command end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runClientCommand } from '../../server/src/cli/client-commands.js';
import { PdClient } from '../../server/src/pd-client/pd-client.js';
import { PdProcesses } from '../support/pd-processes.js';
import { StoreProcesses, eventually } from '../support/store-processes.js';

const launcher = fileURLToPath(new URL('../../server/bin/flotilla.mjs', import.meta.url));

describe('flotilla CLI (3 PD members, 3 stores: real processes)', () => {
  let pds: PdProcesses;
  let cluster: StoreProcesses;
  let spec: string;

  before(async () => {
    pds = await PdProcesses.create([1, 2, 3], ['--balance-interval-ms', '200']);
    await pds.startAll();
    spec = pds.endpoints().join(',');
    cluster = await StoreProcesses.createWithPd([1, 2, 3], pds.endpoints(), [
      '--region-heartbeat-interval-ms',
      '1000',
    ]);
    await cluster.start(1);
    await Promise.all([cluster.start(2), cluster.start(3)]);
    const pd = new PdClient({ endpoints: pds.endpoints() });
    try {
      await eventually(
        async () => {
          const res = await pd.scanRegions(new Uint8Array(0), new Uint8Array(0), 10).catch(() => undefined);
          const peers = res?.regions[0]?.region?.peers ?? [];
          return peers.length === 3 && peers.every((p) => p.role === 0) ? true : undefined;
        },
        90_000,
        'the region reaching 3 voters',
      );
    } finally {
      pd.close();
    }
  });

  after(async () => {
    await cluster?.stopAll();
    await pds?.stopAll();
  });

  /** Runs one command in this process; PD's endpoints come from FLOTILLA_PD. */
  async function flotilla(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClientCommand(
      argv,
      { FLOTILLA_PD: spec },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    return { code, out, err };
  }

  it('put, get, delete: OK, the value, "(not found)" with exit 1', async () => {
    assert.deepEqual(await flotilla('put', 'cli-k', 'hello world'), { code: 0, out: ['OK'], err: [] });
    assert.deepEqual((await flotilla('get', 'cli-k')).out, ['hello world']);
    assert.deepEqual((await flotilla('get', 'cli-k', '--consistency', 'lease')).out, ['hello world']);
    assert.equal((await flotilla('delete', 'cli-k')).code, 0);
    assert.deepEqual(await flotilla('get', 'cli-k'), { code: 1, out: ['(not found)'], err: [] });
  });

  it('scan prints key<TAB>value lines and a count; --reverse, --limit, --key-only', async () => {
    for (const k of ['s1', 's2', 's3']) await flotilla('put', `cli-${k}`, `v-${k}`);
    const all = await flotilla('scan', 'cli-s', 'cli-t');
    assert.deepEqual(all.out, ['cli-s1\tv-s1', 'cli-s2\tv-s2', 'cli-s3\tv-s3', '(3 pairs)']);
    const last = await flotilla('scan', 'cli-s', 'cli-t', '--reverse', '--limit', '1', '--key-only');
    assert.deepEqual(last.out, ['cli-s3', '(1 pair; more follow, raise --limit)']);
    await flotilla('delete-range', 'cli-s', 'cli-t');
    assert.deepEqual((await flotilla('scan', 'cli-s', 'cli-t')).out, ['(0 pairs)']);
  });

  it('cas succeeds with exit 0 and fails with exit 1, printing the previous value', async () => {
    assert.deepEqual((await flotilla('cas', 'cli-cas', '--expect-absent', '--new', 'a')).out, [
      'OK (previous: (absent))',
    ]);
    assert.deepEqual(await flotilla('cas', 'cli-cas', '--expect', 'x', '--new', 'b'), {
      code: 1,
      out: ['FAILED: current value is a'],
      err: [],
    });
    assert.equal((await flotilla('cas', 'cli-cas', '--expect', 'a', '--delete')).code, 0);
    assert.equal((await flotilla('get', 'cli-cas')).code, 1);
  });

  it('status prints PD, every store and its region with role, term, commit, applied and log', async () => {
    const { code, out } = await flotilla('status');
    assert.equal(code, 0);
    assert.match(out[0] ?? '', /^PD leader \S+, 3 store\(s\)$/);
    for (const id of cluster.storeIdOfSlot.values())
      assert.ok(
        out.some((l) => l.startsWith(`store ${id}  `)),
        out.join('\n'),
      );
    const regions = out.filter((l) => l.startsWith('  region '));
    assert.equal(regions.length, 3);
    for (const line of regions)
      assert.match(line, /term \d+ {2}commit \d+ {2}applied \d+ {2}log \d+\.\.\d+ \(/);
    // PD's view of each store's disk, from its heartbeats.
    const pdDisks = out.filter((l) => l.startsWith('  PD: '));
    assert.equal(pdDisks.length, 3, out.join('\n'));
    for (const line of pdDisks)
      assert.match(line, /^ {2}PD: disk .* free of .*normal: may receive replicas and leaders$/);
  });

  it('usage errors exit 2 without touching the cluster', async () => {
    for (const argv of [
      ['get'],
      ['bogus'],
      ['cas', 'k', '--new', 'v'],
      ['cas', 'k', '--expect-absent', '--expect', 'x', '--new', 'v'],
      ['get', 'k', '--consistency', 'sometimes'],
      ['put', 'k', 'v', '--ttl-ms', '-3'],
      ['get', 'k', '--no-such-flag'],
    ]) {
      const { code, err } = await flotilla(...argv);
      assert.equal(code, 2, `${argv.join(' ')}: ${err.join('\n')}`);
    }
    const badCluster = await runClientCommand(
      ['get', 'k', '--pd', 'nonsense'],
      {},
      { out: () => {}, err: () => {} },
    );
    assert.equal(badCluster, 2);
  });

  it('the launcher runs a command end to end', async () => {
    const run = (...argv: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [launcher, ...argv], {
          env: { ...process.env, FLOTILLA_PD: spec },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.once('error', reject);
        child.once('exit', (code) => resolve({ code, stdout }));
      });
    assert.deepEqual(await run('put', 'cli-bin', 'from the launcher'), { code: 0, stdout: 'OK\n' });
    assert.deepEqual(await run('get', 'cli-bin'), { code: 0, stdout: 'from the launcher\n' });
    const help = await run('server', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--election-timeout-ms\s+FLOTILLA_ELECTION_TIMEOUT_MS\s+electionTimeoutMs/);
    assert.equal((await run('server', '--store-id', 'abc')).code, 2);
  });
});
