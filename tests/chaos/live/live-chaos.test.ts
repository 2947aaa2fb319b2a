// The CI chaos suite on a live containerized cluster (3 PD members, 3 stores): one cluster,
// then five scenarios, each running every fault it names once, in order (6 s in force, 5 s
// quiet after the heal) under a concurrent SDK workload. Each must end with a linearizable
// history and no acknowledged write lost. Availability is checked with bounds generous
// enough for a busy 2-core machine (the measured figures are printed with each report):
// during a minority fault the majority side keeps answering; when the leader is lost, a put
// invoked after the loss is acknowledged before the heal; after every heal a put is
// acknowledged within the quiet time; with two stores down, no write invoked during the
// outage is acknowledged and the failing requests end within their deadline. Needs a docker
// engine and root (iptables through nsenter, a tmpfs mount); `npm run chaos` runs longer mixes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChaosCluster, workDirOf } from './cluster.js';
import { availabilityOf, runChaos } from './chaos-run.js';
import type { ChaosReport, FaultWindow } from './chaos-run.js';

process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
const seed = Number(process.env['CHAOS_SEED'] ?? 1);
const runId = `ci${process.pid}`;
const FAULT_MS = 6_000;
const QUIET_MS = 5_000;
const OP_TIMEOUT_MS = 2_000;
/** Faults that leave a quorum (and the leader) serving: at least this share of operations succeed. */
const MINORITY_FAULTS = new Set([
  'kill-store',
  'pause-follower',
  'partition-follower',
  'partition-pd',
  'partition-asymmetric',
  'kill-pd-leader',
  'delay',
]);
const MINORITY_AVAILABILITY_MIN = 0.9;
/**
 * Faults that take the leader away: the clients are served by a new leader before the heal.
 * Not pause-leader: the SDK keeps sending to a frozen leader until it thaws (docs/chaos.md,
 * bugs found, #1); its recovery after the heal is still checked.
 */
const LEADER_FAULTS = new Set(['kill-leader', 'partition-leader']);
/** A request failing during a quorum loss ends within its deadline plus this (a busy machine). */
const DEADLINE_SLACK_MS = 3_000;
let cluster: ChaosCluster;

const log = (line: string): void => console.log(`# ${line.replaceAll('\n', '\n# ')}`);

before(async () => {
  cluster = await ChaosCluster.start({
    runId,
    seed,
    workDir: workDirOf(runId),
    smallDiskSizeMiB: 48,
    log,
  });
});

after(async () => {
  await cluster?.stop();
});

function checkAvailability(window: FaultWindow, text: string): void {
  const where = `${window.name} at ${(window.startMs / 1000).toFixed(1)} s:\n${text}`;
  if (MINORITY_FAULTS.has(window.name)) {
    const availability = availabilityOf(window) ?? 0;
    assert.ok(
      availability >= MINORITY_AVAILABILITY_MIN,
      `${(100 * availability).toFixed(1)}% of operations succeeded during ${where}`,
    );
  }
  if (LEADER_FAULTS.has(window.name))
    assert.ok(
      window.servedAgainMs >= 0,
      `no put invoked after the leader was lost was acknowledged before the heal of ${where}`,
    );
  if (window.name !== 'kill-two-stores')
    assert.ok(window.recoverMs >= 0, `no put acknowledged within ${QUIET_MS} ms after the heal of ${where}`);
}

async function scenario(faults: string[], offset: number): Promise<ChaosReport> {
  const report = await runChaos(cluster, {
    faults,
    seed: seed * 100 + offset,
    faultMs: FAULT_MS,
    quietMs: QUIET_MS,
    workers: 4,
    keys: 4,
    opTimeoutMs: OP_TIMEOUT_MS,
    log,
  });
  log(report.text);
  assert.equal(report.verdict, 'linearizable', report.text);
  assert.equal(report.lostWrites, 0, report.text);
  assert.deepEqual(report.phantomKeys, [], report.text);
  assert.deepEqual(
    report.timeline.map((window) => window.name),
    faults,
    `every fault runs once, in order:\n${report.text}`,
  );
  for (const window of report.timeline) checkAvailability(window, report.text);
  return report;
}

describe('live chaos', { timeout: 1_200_000 }, () => {
  it('kill -9 of the leader store and of a follower store, restarted on their data', async () => {
    await scenario(['kill-leader', 'kill-store'], 1);
  });

  it('partitions: a follower cut off both ways, the leader cut from its followers, an asymmetric cut, a store cut from PD', async () => {
    await scenario(['partition-follower', 'partition-leader', 'partition-asymmetric', 'partition-pd'], 2);
  });

  it('pause of the leader and of a follower, 75 ± 50 ms delay through the proxies, a 2 s clock stall', async () => {
    await scenario(['pause-leader', 'delay', 'clock-stall', 'pause-follower'], 3);
  });

  it('kill -9 of the PD leader, flaky links, a full disk on a store', async () => {
    await scenario(['kill-pd-leader', 'disk-full', 'flaky-links'], 4);
  });

  it('two stores killed at once: requests fail within their deadline and none invoked during the quorum loss is acknowledged', async () => {
    const report = await scenario(['kill-two-stores'], 5);
    for (const window of report.timeline) {
      assert.equal(window.putsAckedInside, 0, report.text);
      assert.ok(window.failed > 0, `no request failed during the quorum loss:\n${report.text}`);
      assert.ok(
        window.failLatencyMsMax <= OP_TIMEOUT_MS + DEADLINE_SLACK_MS,
        `a request failed ${Math.round(window.failLatencyMsMax)} ms after its call (deadline ${OP_TIMEOUT_MS} ms):\n${report.text}`,
      );
      assert.ok(
        window.recoverMs >= 0,
        `no put acknowledged after the restart of both stores:\n${report.text}`,
      );
    }
  });
});
