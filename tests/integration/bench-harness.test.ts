// The benchmark harness (bench/harness, `npm run bench`) driven for real: the kv suite in quick
// mode against a Flotilla cluster (3 PD + 3 stores, the SDK) and an etcd cluster (3 members,
// etcd3) for about a second per case, checking that the JSON, markdown and SVG it writes parse
// and hold both systems' figures; Ctrl-C in the middle of a run tears the clusters down; and
// the pieces the figures rest on (zipf skew, HDR percentiles, /proc CPU, medians, the chart).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keyChooser, keyOf } from '../../bench/harness/key-chooser.js';
import { LatencyHistogram } from '../../bench/harness/latency-histogram.js';
import { processCpuMs } from '../../bench/harness/process-cpu.js';
import {
  median,
  medianOfFields,
  percentile,
  repeatedMetric,
  isNoisy,
} from '../../bench/harness/repeated-runs.js';
import { renderChart } from '../../bench/harness/svg-chart.js';
import { longestGap } from '../../bench/harness/suites/failover.js';
import { parseSplitOutput } from '../../bench/harness/suites/split.js';

const runSuite = fileURLToPath(new URL('../../bench/harness/run-suite.ts', import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-test-'));
/** Generous: two clusters start on a busy 2-core machine. */
const RUN_TIMEOUT_MS = 150_000;

after(() => rmSync(outDir, { recursive: true, force: true }));

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function startSuite(args: string[]): { child: ReturnType<typeof spawn>; finished: Promise<Finished> } {
  const child = spawn(process.execPath, ['--import', 'tsx', runSuite, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const finished = new Promise<Finished>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench did not finish within ${RUN_TIMEOUT_MS} ms:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, finished };
}

test('the kv suite in quick mode measures Flotilla and etcd and writes JSON, markdown and SVG', async () => {
  const { finished } = startSuite([
    'kv',
    '--quick',
    '--cases',
    'put-16,ycsb-b',
    '--keys',
    '200',
    '--duration-ms',
    '1000',
    '--out-dir',
    outDir,
  ]);
  const run = await finished;
  assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
  assert.match(run.stderr, /\[bench kv \d+s\] run 1\/1: flotilla put-16/, 'a progress line per case');
  const report = JSON.parse(readFileSync(join(outDir, 'kv.json'), 'utf8')) as {
    suite: string;
    quick: boolean;
    facts: { cores: number; nodeVersion: string; commit: string; startedAt: string };
    noise: { baselineSystem: string; cases: Array<{ caseId: string; system: string; noisy: boolean }> };
    tables: Array<{ title: string; rows: Array<Array<string | number>> }>;
    data: {
      runs: Array<{
        caseId: string;
        system: string;
        runs: Array<{ opsPerSecond: number; latency: { p99Ms: number } }>;
      }>;
    };
  };
  assert.equal(report.suite, 'kv');
  assert.equal(report.quick, true);
  assert.ok(
    report.facts.cores >= 1 && report.facts.nodeVersion === process.version && report.facts.commit.length > 0,
  );
  const got = report.data.runs.map((r) => `${r.caseId}/${r.system}`).sort();
  assert.deepEqual(got, ['put-16/etcd', 'put-16/flotilla', 'ycsb-b/etcd', 'ycsb-b/flotilla']);
  for (const r of report.data.runs) {
    const first = r.runs[0];
    assert.ok(first !== undefined && first.opsPerSecond > 0, `${r.caseId}/${r.system} completed operations`);
    assert.ok(first.latency.p99Ms > 0, `${r.caseId}/${r.system} has a p99`);
  }
  assert.equal(report.noise.baselineSystem, 'etcd');
  assert.deepEqual(
    report.noise.cases.map((c) => `${c.caseId}/${c.system}:${typeof c.noisy}`).sort(),
    got.map((k) => `${k}:boolean`),
    'a noise verdict per case and system',
  );
  const ratios = report.tables.find((t) => t.title.startsWith('Flotilla / etcd'));
  assert.ok(ratios !== undefined && ratios.rows.length === 2, 'a ratio row per case');
  const md = readFileSync(join(outDir, 'kv.md'), 'utf8');
  assert.match(md, /^# Benchmark suite: kv \(quick run\)/);
  assert.ok(
    md.includes(`Run of ${report.facts.startedAt} at commit ${report.facts.commit}: `),
    'the noise verdict names the run',
  );
  assert.match(run.stdout, /No case flagged noisy|\*\*NOISY RUN\*\*/, 'the verdict is printed');
  assert.match(md, /\| put \| 16 \| flotilla \|/);
  assert.match(md, /\| put \| 16 \| etcd \|/);
  assert.match(md, /!\[.*\]\(kv\.svg\)/);
  const svg = readFileSync(join(outDir, 'kv.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(
    (svg.match(/<rect [^>]*fill="#1f77b4"/g) ?? []).length,
    3,
    'two flotilla bars and a legend swatch',
  );
  assert.match(svg, /<\/svg>\n$/);
  assert.equal(readdirSync(outDir).filter((f) => f.startsWith('kv.')).length, 3);
});

test('SIGINT in the middle of a run tears down the clusters it started', async () => {
  const { child, finished } = startSuite([
    'kv',
    '--quick',
    '--systems',
    'etcd',
    '--keys',
    '100000',
    '--out-dir',
    outDir,
  ]);
  // Once the load phase runs, the etcd members are up.
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string): void => {
      if (chunk.includes('etcd: loading')) {
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', () => reject(new Error('the suite exited before loading')));
  });
  const members = childrenOf(child.pid as number);
  assert.equal(members.length, 3, 'three etcd members run as children of the suite');
  child.kill('SIGINT');
  const run = await finished;
  assert.equal(run.code, 130, run.stderr);
  assert.match(run.stderr, /SIGINT: tearing down/);
  for (const pid of members) assert.equal(processCpuMs(pid), undefined, `etcd member ${pid} is gone`);
});

test('zipf 0.99 concentrates traffic and uniform does not; both stay in the key space', () => {
  const count = (kind: 'zipf' | 'uniform'): Map<number, number> => {
    const chooser = keyChooser(kind === 'zipf' ? { kind, theta: 0.99 } : { kind }, 1000, 1);
    const seen = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const k = chooser.next();
      assert.ok(Number.isInteger(k) && k >= 0 && k < 1000);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return seen;
  };
  const top = (m: Map<number, number>): number => Math.max(...m.values()) / 20_000;
  assert.ok(top(count('zipf')) > 0.08, `the hottest zipf key takes a large share (${top(count('zipf'))})`);
  assert.ok(top(count('uniform')) < 0.01, 'no uniform key stands out');
  assert.equal(keyOf(42).length, 16);
});

test('latency percentiles, medians, noise flags and the longest client gap', () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.recordMs(i / 10);
  const s = h.summary();
  h.destroy();
  assert.equal(s.count, 1000);
  assert.ok(
    Math.abs(s.p50Ms - 50) < 0.1 && Math.abs(s.p99Ms - 99) < 0.1 && Math.abs(s.maxMs - 100) < 0.1,
    JSON.stringify(s),
  );
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.deepEqual(medianOfFields([{ a: 1 }, { a: 5 }, { a: 3 }]), { a: 3 });
  assert.equal(percentile([5, 1, 4, 2, 3], 99), 5);
  assert.equal(isNoisy(repeatedMetric([100, 101, 99])), false);
  assert.equal(isNoisy(repeatedMetric([100, 60, 99])), true);
  assert.equal(longestGap([0, 10, 20, 500, 510], 25), 480);
  assert.ok(processCpuMs(process.pid) !== undefined);
});

test('charts and the split script output parse', () => {
  const svg = renderChart({
    kind: 'line',
    title: 'p99 <ms>',
    xLabel: 's',
    yLabel: 'ms',
    series: [
      {
        name: 'p99',
        points: [
          [0, 1],
          [1, 3],
        ],
      },
    ],
    markers: [{ x: 1, label: 'split' }],
  });
  assert.match(svg, /p99 &lt;ms&gt;/);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  const parsed = parseSplitOutput(
    '| second | writes | p50 ms | p99 ms | max ms | regions |\n|---|---|---|---|---|---|\n| 0 | 10 | 1.5 | 3 | 4 | 1 |\n| 1 | 12 | 2 | 9 | 12 | 2 |\n\n| measure | value |\n|---|---|\n| write p99 before the split | 3 ms |\n',
  );
  assert.equal(parsed.buckets.length, 2);
  assert.equal(parsed.buckets[1]?.regions, 2);
  assert.equal(parsed.measures['write p99 before the split'], '3 ms');
});

/** Pids whose parent is `pid` (from /proc/<pid>/stat field 4). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // Exited while listing.
    }
  }
  return out;
}
