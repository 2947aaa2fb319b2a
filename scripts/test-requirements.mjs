// The test suites, and what each needs from the machine beyond npm packages, declared in one
// place; plus the check `scripts/run-tests.mjs` makes before it runs anything. A missing
// requirement is installed through scripts/install-deps.sh when this process is root on
// Debian; otherwise the run stops at once with one line that names the package and the
// command that installs it. Nothing is ever skipped silently.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const INSTALL_DEPS = 'scripts/install-deps.sh';

/**
 * What the machine must provide. `command` must be an executable on PATH; `probe`, when
 * given, must also exit 0 (a service that answers); `package` is the Debian package that
 * install-deps.sh installs (and, for docker.io, whose daemon it starts).
 */
export const REQUIREMENTS = {
  etcd: { what: 'etcd server (the benchmark baseline)', command: 'etcd', package: 'etcd-server' },
  'docker-engine': {
    what: 'a running Docker engine',
    command: 'docker',
    probe: ['docker', 'info'],
    package: 'docker.io',
  },
  redis: { what: 'Redis server', command: 'redis-server', package: 'redis-server' },
  dnsmasq: { what: 'dnsmasq (DNS for discovery tests)', command: 'dnsmasq', package: 'dnsmasq' },
  chromium: { what: 'headless Chromium', command: 'chromium', package: 'chromium' },
};

/** Each suite: directories searched, the file suffix that marks a test, what it needs. */
export const SUITES = {
  unit: {
    dirs: [
      'proto/test',
      'raft/test',
      'server/test',
      'pd/test',
      'sdk/test',
      'tests/lint',
      'tests/scripts',
      'bench/test',
    ],
    suffix: '.test.ts',
    requires: [],
  },
  // tests/integration/bench-harness.test.ts runs the kv suite against a real etcd cluster.
  integration: { dirs: ['tests/integration'], suffix: '.test.ts', requires: ['etcd'] },
  'sim-smoke': {
    dirs: ['tests/chaos/checker', 'tests/chaos/sim', 'tests/chaos/sim-cluster'],
    suffix: '.test.ts',
    requires: [],
  },
  'chaos-live': { dirs: ['tests/chaos/live'], suffix: '.test.ts', requires: ['docker-engine'] },
};

/** A probe (such as `docker info`) that has not answered by then counts as not running. */
const PROBE_TIMEOUT_MS = 30_000;

/** The absolute path of `command` on `pathEnv`, or undefined. */
export function findOnPath(command, pathEnv) {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** The requirement names the given suites need, each once, in declaration order. */
export function requirementsOf(suiteNames, suites = SUITES) {
  const names = new Set(suiteNames.flatMap((s) => suites[s]?.requires ?? []));
  return Object.keys(REQUIREMENTS).filter((name) => names.has(name));
}

/**
 * The requirements among `names` that this machine lacks: `{ name, package, reason }` with
 * reason 'not-installed' (command not on PATH) or 'not-running' (probe failed).
 */
export function missingRequirements(names, env = process.env) {
  const missing = [];
  for (const name of names) {
    const req = REQUIREMENTS[name];
    if (req === undefined) throw new Error(`unknown test requirement '${name}'`);
    if (findOnPath(req.command, env.PATH) === undefined) {
      missing.push({ name, package: req.package, reason: 'not-installed' });
      continue;
    }
    if (req.probe !== undefined) {
      const [cmd, ...args] = req.probe;
      const probe = spawnSync(cmd, args, { env, stdio: 'ignore', timeout: PROBE_TIMEOUT_MS });
      if (probe.status !== 0) missing.push({ name, package: req.package, reason: 'not-running' });
    }
  }
  return missing;
}

/** Root on Debian with apt-get: install-deps.sh can do the work. */
export function canInstall(machine) {
  return machine.uid === 0 && machine.debian && machine.aptGet;
}

export function thisMachine(env = process.env) {
  let debian;
  try {
    debian = readFileSync('/etc/debian_version', 'utf8').length > 0;
  } catch {
    debian = false;
  }
  return {
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    debian,
    aptGet: findOnPath('apt-get', env.PATH) !== undefined,
  };
}

/** The one line printed when the run cannot go on: what is missing and how to install it. */
export function missingLine(missing, suiteNames, machine) {
  const what = missing
    .map((m) => {
      const req = REQUIREMENTS[m.name];
      return m.reason === 'not-running'
        ? `${req.what} (installed, not answering \`${req.probe.join(' ')}\`)`
        : `${req.command} (Debian package ${m.package}; not on PATH)`;
    })
    .join(', ');
  const packages = [...new Set(missing.map((m) => m.package))].join(' ');
  const install = `${machine.uid === 0 ? '' : 'sudo '}bash ${INSTALL_DEPS} ${packages}`;
  const how = machine.debian
    ? `install it with: ${install}`
    : `install the equivalent of Debian's ${packages} with your system's package manager (${INSTALL_DEPS} supports Debian only)`;
  const names = new Set(missing.map((m) => m.name));
  const needing = suiteNames.filter((s) => (SUITES[s]?.requires ?? []).some((r) => names.has(r)));
  return `run-tests: ${needing.length === 1 ? 'suite' : 'suites'} ${needing.join(', ')} ${needing.length === 1 ? 'needs' : 'need'} ${what}; ${how}`;
}

/**
 * Makes sure the suites' requirements are there. Returns undefined when the tests can run,
 * or the one line to print before exiting non-zero. FLOTILLA_TEST_DEPS=check reports what
 * is missing without installing anything, even as root.
 */
export function ensureRequirements(suiteNames, env = process.env, machine = thisMachine(env)) {
  const names = requirementsOf(suiteNames);
  const missing = missingRequirements(names, env);
  if (missing.length === 0) return undefined;
  const mode = env.FLOTILLA_TEST_DEPS ?? 'install';
  if (mode !== 'install' && mode !== 'check')
    return `run-tests: FLOTILLA_TEST_DEPS must be 'install' or 'check', got '${mode}'`;
  if (mode === 'check' || !canInstall(machine)) return missingLine(missing, suiteNames, machine);
  const packages = [...new Set(missing.map((m) => m.package))];
  console.error(`run-tests: installing what the tests need: ${INSTALL_DEPS} ${packages.join(' ')}`);
  const run = spawnSync('bash', [join(ROOT, INSTALL_DEPS), ...packages], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stillMissing = missingRequirements(names, env);
  if (run.status === 0 && stillMissing.length === 0) return undefined;
  const why =
    run.error !== undefined
      ? `failed: ${run.error.message}`
      : run.status !== 0
        ? `failed (exit ${run.status ?? run.signal})`
        : 'ran, yet the check still fails';
  const left = stillMissing.length > 0 ? stillMissing : missing;
  return `run-tests: ${INSTALL_DEPS} ${packages.join(' ')} ${why}; ${missingLine(left, suiteNames, machine).replace(/^run-tests: /, '')}`;
}
