// Smoke test of the multi-region cluster simulator (part of the "sim-smoke" suite of npm test):
// its checkers catch forged violations, a handful of seeds pass, and a seed replays to the
// same trace. Seeds run through the CLI in a child process, as a developer runs them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ClusterHistory } from './cluster-history.js';
import { checkRanges } from './invariants.js';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
/** Generous: a seed takes about a second of CPU; the machine may be busy. */
const CLI_TIMEOUT_MS = 120_000;

function runCli(args: readonly string[]): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    timeout: CLI_TIMEOUT_MS,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: `${result.stdout}${result.stderr}` };
}

const range = (id: number, start: string, end: string): { id: number; startKey: Buffer; endKey: Buffer } => ({
  id,
  startKey: Buffer.from(start),
  endKey: Buffer.from(end),
});

test('the range check finds overlaps always, and gaps when the key space must be covered', () => {
  const tiled = [range(1, '', 'k010'), range(2, 'k010', 'k020'), range(3, 'k020', '')];
  assert.equal(checkRanges(tiled, true), undefined);
  assert.match(checkRanges([range(1, '', 'k015'), range(2, 'k010', '')], false) ?? '', /overlaps/);
  assert.match(checkRanges([range(1, '', ''), range(2, 'k010', 'k020')], false) ?? '', /overlaps/);
  const gap = [range(1, '', 'k010'), range(3, 'k020', '')];
  assert.equal(checkRanges(gap, false), undefined);
  assert.match(checkRanges(gap, true) ?? '', /gap/);
  assert.match(checkRanges([range(1, 'k000', '')], true) ?? '', /below/);
});

test('the history check catches a lost acknowledged write and a CAS that saw a value nobody wrote', () => {
  const lost = new ClusterHistory();
  lost.writeOk('k1', 'c1.1', lost.nextSeq());
  lost.readOk('k1', null, lost.nextSeq());
  assert.equal(lost.check(100_000).outcome, 'illegal');

  const phantom = new ClusterHistory();
  phantom.casFailed('k1', 'c9.9', phantom.nextSeq());
  assert.equal(phantom.check(100_000).outcome, 'illegal');

  const fine = new ClusterHistory();
  const casCall = fine.nextSeq();
  fine.writeUnknown('k1', 'c1.1', fine.nextSeq());
  fine.casSucceeded('k1', 'c1.1', 'c2.2', casCall);
  fine.writeOk('k1', null, fine.nextSeq());
  fine.readOk('k1', null, fine.nextSeq());
  assert.equal(fine.check(100_000).outcome, 'ok');
});

test('a handful of seeds pass every safety check; liveness failures only match open findings', () => {
  const { stdout } = runCli(['--seeds', '6', '--from', '1', '--workers', '2', '--ticks', '800']);
  const results = stdout.match(/^(PASS|FAIL) seed .*$/gm) ?? [];
  assert.equal(results.length, 6, stdout);
  // Open store bugs (FINDINGS.md 1 and 2) stall some seeds after the heal; they must not hide anything else.
  const unexplained = results.filter(
    (line) => line.startsWith('FAIL') && !/: liveness at .*\[known issue/.test(line),
  );
  assert.deepEqual(unexplained, [], stdout);
  assert.ok(results.filter((line) => line.startsWith('PASS')).length >= 3, stdout);
});

test('a seed replays to the same trace', () => {
  const digest = (): string => {
    const { status, stdout } = runCli(['--seed', '7', '--ticks', '300']);
    assert.equal(status, 0, stdout);
    const found = /^PASS seed 7 \(digest ([0-9a-f]{8})\)/m.exec(stdout);
    assert.ok(found, stdout);
    return found[1] as string;
  };
  assert.equal(digest(), digest());
});
