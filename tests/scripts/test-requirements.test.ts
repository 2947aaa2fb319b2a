// The requirement check in front of `npm test` (scripts/test-requirements.mjs): a suite
// whose command is missing stops the run with one line naming the Debian package and the
// command that installs it, and a non-zero exit; a stopped service (dockerd) counts as
// missing; the declarative table only names packages scripts/install-deps.sh knows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  INSTALL_DEPS,
  REQUIREMENTS,
  ROOT,
  SUITES,
  ensureRequirements,
  findOnPath,
  missingRequirements,
  requirementsOf,
} from '../../scripts/test-requirements.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'flotilla-test-reqs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A directory for PATH holding fake executables that exit with the given codes. */
function binDir(name: string, fakes: Record<string, number>): string {
  const dir = join(scratch, name);
  spawnSync('mkdir', ['-p', dir]);
  for (const [command, exitCode] of Object.entries(fakes)) {
    const path = join(dir, command);
    writeFileSync(path, `#!/bin/sh\nexit ${exitCode}\n`);
    chmodSync(path, 0o755);
  }
  return dir;
}

const debianRoot = { uid: 0, debian: true, aptGet: true };
const debianUser = { uid: 1000, debian: true, aptGet: true };

describe('npm test on a machine without etcd', () => {
  it('stops with one line naming etcd-server and install-deps.sh, and exits 1', () => {
    const emptyPath = binDir('empty', {});
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts/run-tests.mjs'), 'integration'], {
      cwd: ROOT,
      env: { PATH: emptyPath, FLOTILLA_TEST_DEPS: 'check', HOME: scratch },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one line, got:\n${run.stderr}`);
    assert.match(
      lines[0] as string,
      /^run-tests: suite integration needs etcd \(Debian package etcd-server; not on PATH\); install it with: (sudo )?bash scripts\/install-deps\.sh etcd-server$/,
    );
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('asks a non-root user to run install-deps.sh with sudo, and installs nothing', () => {
    const line = ensureRequirements(['unit', 'integration'], { PATH: binDir('empty', {}) }, debianUser);
    assert.equal(
      line,
      `run-tests: suite integration needs etcd (Debian package etcd-server; not on PATH); install it with: sudo bash ${INSTALL_DEPS} etcd-server`,
    );
  });

  it('off Debian names the package and says install-deps.sh is Debian only', () => {
    const line = ensureRequirements(
      ['integration'],
      { PATH: binDir('empty', {}) },
      { ...debianRoot, debian: false },
    );
    assert.match(
      line ?? '',
      /needs etcd .*install the equivalent of Debian's etcd-server .*supports Debian only\)$/,
    );
  });

  it('names every missing package in the one line, and only the suites that need them', () => {
    const line = ensureRequirements(
      ['unit', 'integration', 'chaos-live'],
      { PATH: binDir('empty', {}), FLOTILLA_TEST_DEPS: 'check' },
      debianRoot,
    );
    assert.equal(
      line,
      `run-tests: suites integration, chaos-live need etcd (Debian package etcd-server; not on PATH), docker (Debian package docker.io; not on PATH); install it with: bash ${INSTALL_DEPS} etcd-server docker.io`,
    );
  });

  it('passes once etcd is on PATH, without installing', () => {
    const withEtcd = binDir('with-etcd', { etcd: 0 });
    assert.equal(findOnPath('etcd', `/nonexistent:${withEtcd}`), join(withEtcd, 'etcd'));
    assert.deepEqual(missingRequirements(['etcd'], { PATH: withEtcd }), []);
    assert.equal(ensureRequirements(['integration'], { PATH: withEtcd }, debianUser), undefined);
  });

  it('a suite that needs nothing from the machine runs anywhere', () => {
    assert.deepEqual(requirementsOf(['unit', 'sim-smoke']), []);
    assert.equal(ensureRequirements(['unit', 'sim-smoke'], { PATH: '' }, debianUser), undefined);
  });

  it('refuses an unknown FLOTILLA_TEST_DEPS mode instead of guessing', () => {
    const line = ensureRequirements(
      ['integration'],
      { PATH: binDir('empty', {}), FLOTILLA_TEST_DEPS: 'skip' },
      debianRoot,
    );
    assert.equal(line, "run-tests: FLOTILLA_TEST_DEPS must be 'install' or 'check', got 'skip'");
  });
});

describe('a Docker engine that is installed but not running', () => {
  it('counts as missing and names docker.io, whose install also starts dockerd', () => {
    const stopped = binDir('docker-stopped', { docker: 1 });
    assert.deepEqual(missingRequirements(['docker-engine'], { PATH: stopped }), [
      { name: 'docker-engine', package: 'docker.io', reason: 'not-running' },
    ]);
    const line = ensureRequirements(
      ['chaos-live'],
      { PATH: stopped, FLOTILLA_TEST_DEPS: 'check' },
      debianRoot,
    );
    assert.equal(
      line,
      `run-tests: suite chaos-live needs a running Docker engine (installed, not answering \`docker info\`); install it with: bash ${INSTALL_DEPS} docker.io`,
    );
    assert.deepEqual(
      missingRequirements(['docker-engine'], { PATH: binDir('docker-up', { docker: 0 }) }),
      [],
    );
  });
});

describe('the declarative requirement table', () => {
  it('names only requirements that exist and packages install-deps.sh knows', () => {
    const script = readFileSync(join(ROOT, INSTALL_DEPS), 'utf8');
    const known = /^known=\(([^)]*)\)$/m.exec(script)?.[1]?.split(' ') ?? [];
    assert.ok(known.length > 0, 'install-deps.sh declares its known packages');
    for (const [suite, { requires }] of Object.entries(SUITES))
      for (const name of requires) assert.ok(REQUIREMENTS[name] !== undefined, `${suite} requires '${name}'`);
    for (const [name, req] of Object.entries(REQUIREMENTS))
      assert.ok(known.includes(req.package), `${name}: install-deps.sh knows ${req.package}`);
    assert.deepEqual(requirementsOf(['integration', 'chaos-live']), ['etcd', 'docker-engine']);
  });

  it('install-deps.sh refuses a package it does not know', () => {
    const run = spawnSync('bash', [join(ROOT, INSTALL_DEPS), 'not-a-package'], { encoding: 'utf8' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^install-deps: unknown package 'not-a-package' \(known: .*etcd-server.*\)\n$/);
  });
});
