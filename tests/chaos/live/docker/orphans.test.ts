// The orphan clean-up on a real docker engine: a run labelled with an owner process that
// has exited is removed (network, container, tmpfs, data dir); a run whose owner still
// runs, and one without an owner label, are left alone.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, removeLabelled, run } from './docker-cli.js';
import { OWNER_LABEL, ownerAlive, processIdentity, removeOrphanRuns, thisProcessOwner } from './orphans.js';

/** A label only this test uses, so nothing of a real chaos run can match. */
const RUN_LABEL = 'flotilla-chaos-orphan-test';
const base = mkdtempSync(join(tmpdir(), 'flotilla-orphan-test-'));
const tag = `t${process.pid}`;

async function network(runId: string, owner: string | undefined): Promise<void> {
  const labels = ['--label', `${RUN_LABEL}=${runId}`];
  if (owner !== undefined) labels.push('--label', `${OWNER_LABEL}=${owner}`);
  await docker(['network', 'create', ...labels, `${RUN_LABEL}-${runId}`]);
}

async function networkExists(runId: string): Promise<boolean> {
  const out = await docker(['network', 'ls', '-q', '--filter', `label=${RUN_LABEL}=${runId}`]);
  return out.trim().length > 0;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
}

after(async () => {
  for (const runId of [`${tag}-dead`, `${tag}-live`, `${tag}-unowned`])
    await removeLabelled(RUN_LABEL, runId);
  await run('umount', [join(base, `${tag}-dead`, 'store3')]).catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

describe('orphaned chaos runs', () => {
  it('tells a running owner from an exited one, and a reused pid by its start time', () => {
    const me = thisProcessOwner();
    assert.ok(ownerAlive(me));
    assert.equal(processIdentity(process.pid), me);
    const [pid] = me.split(':');
    assert.equal(ownerAlive(`${pid}:1`), false, 'same pid, other start time: another process');
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    assert.equal(ownerAlive(`${child.stdout.trim()}:1`), false);
    assert.ok(ownerAlive('not-an-owner'), 'a label in another format is never judged dead');
  });

  it('removes the network, tmpfs and data dir of a run whose owner exited, and nothing else', async () => {
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadOwner = `${child.stdout.trim()}:1`;
    assert.equal(ownerAlive(deadOwner), false);
    const deadDir = join(base, `${tag}-dead`);
    mkdirSync(join(deadDir, 'store3'), { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(deadDir, 'store3')]);
    await network(`${tag}-dead`, deadOwner);
    await network(`${tag}-live`, thisProcessOwner());
    await network(`${tag}-unowned`, undefined);

    const removed = await removeOrphanRuns(RUN_LABEL, (runId) => join(base, runId));

    assert.deepEqual(
      removed.filter((orphan) => orphan.runId.startsWith(tag)),
      [{ runId: `${tag}-dead`, owner: deadOwner }],
    );
    assert.equal(await networkExists(`${tag}-dead`), false);
    assert.equal(mounted(join(deadDir, 'store3')), false);
    assert.equal(existsSync(deadDir), false);
    assert.equal(await networkExists(`${tag}-live`), true);
    assert.equal(await networkExists(`${tag}-unowned`), true);
  });
});
