// The benchmark harness's noise flag (bench/harness/noise.ts): a case whose repeats disagree,
// or whose etcd baseline lies outside the committed previous runs by more than quiet runs
// differ, is flagged; the flag reads the committed reports through git, leaves out quick runs
// and cases a stored report already flagged, and lands in the markdown with commit and date.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  BASELINE_DRIFT_MAX,
  SPREAD_MAX,
  caseNoise,
  committedHistory,
  noiseLines,
  noiseReport,
} from '../harness/noise.js';
import { markdown, summaryText } from '../harness/suite-report.js';
import type { SuiteReport } from '../harness/suite-report.js';
import { kvCaseValues } from '../harness/suites/kv.js';

const scratch = mkdtempSync(join(tmpdir(), 'flotilla-noise-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('the verdict on one case', () => {
  it('repeats within the spread bound are quiet; one far-off repeat flags the case', () => {
    assert.equal(SPREAD_MAX, 0.25);
    assert.deepEqual(caseNoise({ caseId: 'put-64', system: 'flotilla', values: [100, 101, 99] }).reasons, []);
    const wide = caseNoise({ caseId: 'put-64', system: 'flotilla', values: [100, 60, 99] });
    assert.equal(wide.noisy, true);
    assert.deepEqual(wide.reasons, [{ kind: 'spread', spread: 0.404, spreadMax: 0.25 }]);
    assert.equal(wide.median, 99);
  });

  it('a single repeat has no spread to judge', () => {
    assert.equal(caseNoise({ caseId: 'put-64', system: 'etcd', values: [3603] }).noisy, false);
  });

  it("flags an etcd baseline 1.75x above the committed run (the issue's 2,062 vs 3,603 and 3,847)", () => {
    const verdict = caseNoise({ caseId: 'put-64', system: 'etcd', values: [3603, 3847], history: [2062] });
    assert.equal(verdict.noisy, true);
    assert.deepEqual(verdict.reasons, [
      {
        kind: 'baseline-drift',
        median: 3725,
        historyMin: 2062,
        historyMax: 2062,
        historyRuns: 1,
        driftMax: BASELINE_DRIFT_MAX,
      },
    ]);
  });

  it('a baseline inside the history widened by the drift bound passes; far below it is flagged', () => {
    assert.equal(caseNoise({ caseId: 'c', system: 'etcd', values: [2500], history: [2062] }).noisy, false);
    assert.equal(
      caseNoise({ caseId: 'c', system: 'etcd', values: [1700], history: [2062, 2400] }).noisy,
      false,
    );
    const low = caseNoise({ caseId: 'c', system: 'etcd', values: [1000], history: [2062, 2400] });
    assert.deepEqual(
      low.reasons.map((r) => r.kind),
      ['baseline-drift'],
    );
  });

  it('both reasons at once are both recorded', () => {
    const both = caseNoise({ caseId: 'c', system: 'etcd', values: [4000, 8000], history: [2000] });
    assert.deepEqual(
      both.reasons.map((r) => r.kind),
      ['spread', 'baseline-drift'],
    );
  });

  it('refuses a case without values', () => {
    assert.throws(() => caseNoise({ caseId: 'c', system: 'etcd', values: [] }), /c\/etcd: no values/);
  });
});

describe('a run report', () => {
  const history = {
    runs: [{ reportCommit: 'aaa1111', measuredCommit: 'bbb2222', startedAt: '2026-12-03T07:28:28.646Z' }],
    medians: new Map([
      ['put-64/etcd', [2062]],
      ['put-64/flotilla', [100]],
    ]),
  };
  const noise = noiseReport(
    'opsPerSecond',
    'etcd',
    [
      { caseId: 'put-64', system: 'flotilla', values: [5400, 5500] },
      { caseId: 'put-64', system: 'etcd', values: [3603, 3847] },
    ],
    history,
  );

  it('checks only the baseline system against history', () => {
    assert.equal(noise.flaggedCount, 1);
    assert.deepEqual(
      noise.cases.map((c) => `${c.caseId}/${c.system}:${c.noisy}`),
      ['put-64/flotilla:false', 'put-64/etcd:true'],
    );
  });

  it('prints the flag and carries it into the markdown with the commit and the date', () => {
    const lines = noiseLines(noise);
    assert.match(
      lines[0] as string,
      /^\*\*NOISY RUN\*\*: 1 case\(s\) flagged \(2 case\(s\) checked; baseline etcd compared with 1 committed run\(s\)\)/,
    );
    assert.equal(
      lines[1],
      "**noisy** put-64 / etcd: baseline median 3725 is outside the 1 committed run(s)' 2062-2062 by more than 25%",
    );
    const report: SuiteReport = {
      suite: 'kv',
      command: 'npm run bench -- kv',
      quick: false,
      facts: {
        cores: 2,
        cpuModel: 'test',
        memoryGiB: 24,
        nodeVersion: 'v20',
        etcdVersion: '3.4',
        commit: 'abc1234',
        treeDirty: false,
        loadAverage1m: 0.5,
        startedAt: '2026-12-07T21:00:00.000Z',
      },
      durationS: 1,
      headline: [],
      tables: [],
      notes: [],
      noise,
      data: {},
    };
    assert.match(
      markdown(report),
      /\nRun of 2026-12-07T21:00:00\.000Z at commit abc1234: \*\*NOISY RUN\*\*: .*\n- \*\*noisy\*\* put-64 \/ etcd: /,
    );
    assert.match(summaryText(report), /\*\*noisy\*\* put-64 \/ etcd/);
    const quiet = noiseReport(
      'opsPerSecond',
      undefined,
      [{ caseId: 'x', system: 'flotilla', values: [1, 1] }],
      {
        runs: [],
        medians: new Map(),
      },
    );
    assert.deepEqual(noiseLines(quiet), ['No case flagged noisy (1 case(s) checked).']);
  });
});

describe('the committed history', () => {
  const repo = join(scratch, 'repo');
  mkdirSync(join(repo, 'docs/benchmarks'), { recursive: true });
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
      encoding: 'utf8',
    });
  const commitReport = (report: object, message: string): void => {
    writeFileSync(join(repo, 'docs/benchmarks/kv.json'), JSON.stringify(report));
    git('add', '-A');
    git('commit', '-q', '-m', message);
  };
  const kvReport = (
    commit: string,
    quick: boolean,
    etcdPut64: number[],
    noisy: Array<{ caseId: string; system: string; noisy: boolean }> = [],
  ): object => ({
    suite: 'kv',
    quick,
    facts: { commit, startedAt: `2026-12-0${commit.length}T00:00:00Z` },
    noise: { cases: noisy },
    data: {
      runs: [
        { caseId: 'put-64', system: 'etcd', runs: etcdPut64.map((opsPerSecond) => ({ opsPerSecond })) },
        { caseId: 'put-1', system: 'etcd', runs: [{ opsPerSecond: 900 }] },
      ],
    },
  });
  git('init', '-q');
  commitReport(kvReport('q', true, [9999]), 'a quick run');
  commitReport(kvReport('full1', false, [2000, 2100]), 'a full run');
  commitReport(
    kvReport('full2', false, [900, 5000], [{ caseId: 'put-64', system: 'etcd', noisy: true }]),
    'a full run that flagged put-64/etcd',
  );

  // The full1 run again, re-rendered in a later commit (same commit and start time).
  const rerendered = kvReport('full1', false, [2000, 2100]);
  writeFileSync(join(repo, 'docs/benchmarks/kv.json'), JSON.stringify(rerendered, null, 2));
  git('commit', '-q', '-a', '-m', 'full1 re-rendered');

  it('holds the full runs once each, newest first, without the quick run and without cases flagged noisy', () => {
    const history = committedHistory(repo, 'kv', kvCaseValues);
    assert.deepEqual(
      history.runs.map((r) => r.measuredCommit),
      ['full1', 'full2'],
      'full1 counted once, at its newest commit',
    );
    assert.deepEqual(history.medians.get('put-64/etcd'), [2050]);
    assert.deepEqual(history.medians.get('put-1/etcd'), [900, 900]);
  });

  it('reads the history as of a revision, for a stored report judged by its predecessors', () => {
    const before = committedHistory(repo, 'kv', kvCaseValues, 'HEAD~2');
    assert.deepEqual(
      before.runs.map((r) => r.measuredCommit),
      ['full1'],
    );
  });

  it('is empty, not an error, where there is no git history', () => {
    const none = committedHistory(join(scratch, 'not-a-repo'), 'kv', kvCaseValues);
    assert.deepEqual(none, { runs: [], medians: new Map() });
  });
});
