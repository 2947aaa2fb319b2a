// The `flotilla` command against a 3-store cluster of real processes: what each client
// command prints and its exit code (0 done, 1 not found / compare failed, 2 usage), and the
// launcher in server/bin running a command end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runClientCommand } from '../../server/src/cli/client-commands.js';
import { formatClusterSpec } from '../../server/src/cli/cluster-spec.js';
import { StoreProcesses } from '../support/store-processes.js';

const launcher = fileURLToPath(new URL('../../server/bin/flotilla.mjs', import.meta.url));

describe('flotilla CLI (3 real store processes)', () => {
  let cluster: StoreProcesses;
  let spec: string;

  before(async () => {
    cluster = await StoreProcesses.create([1, 2, 3]);
    await cluster.startAll();
    spec = formatClusterSpec(cluster.addresses);
  });

  after(async () => {
    await cluster?.stopAll();
  });

  /** Runs one command in this process; the cluster comes from FLOTILLA_CLUSTER. */
  async function flotilla(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClientCommand(
      argv,
      { FLOTILLA_CLUSTER: spec },
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

  it('status prints every store and its region with role, term, commit, applied and log', async () => {
    const { code, out } = await flotilla('status');
    assert.equal(code, 0);
    for (const id of [1, 2, 3])
      assert.ok(
        out.some((l) => l.startsWith(`store ${id}  `)),
        out.join('\n'),
      );
    const regions = out.filter((l) => l.startsWith('  region 1 '));
    assert.equal(regions.length, 3);
    for (const line of regions)
      assert.match(line, /term \d+ {2}commit \d+ {2}applied \d+ {2}log \d+\.\.\d+ \(/);
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
      ['get', 'k', '--cluster', 'nonsense'],
      {},
      { out: () => {}, err: () => {} },
    );
    assert.equal(badCluster, 2);
  });

  it('the launcher runs a command end to end', async () => {
    const run = (...argv: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [launcher, ...argv], {
          env: { ...process.env, FLOTILLA_CLUSTER: spec },
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
