// `node --import tsx bench/harness/check-noise.ts docs/benchmarks/kv.json`: gives a stored kv
// or reads report the noise verdicts the harness now records (bench/harness/noise.ts), judged
// against the runs committed before it, then writes its JSON, markdown and SVG again. For
// reports measured before the flag existed; a new run records its verdicts itself.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { committedHistory, noiseLines, noiseReport } from './noise.js';
import type { NoiseReport } from './noise.js';
import type { SuiteReport } from './suite-report.js';
import { writeSuiteReport } from './suite-report.js';
import { kvCaseValues } from './suites/kv.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function readsNoise(report: SuiteReport): NoiseReport {
  const data = report.data as { runs?: Record<string, Array<{ opsPerSecond: number }>> };
  const cases = Object.entries(data.runs ?? {}).map(([key, runs]) => {
    const [concurrency, mode] = key.split('/');
    return { caseId: `${mode}-${concurrency}`, system: 'flotilla', values: runs.map((r) => r.opsPerSecond) };
  });
  return noiseReport('opsPerSecond', undefined, cases, { runs: [], medians: new Map() });
}

function kvNoise(report: SuiteReport, path: string): NoiseReport {
  const rel = relative(REPO_ROOT, resolve(path));
  const own = execFileSync('git', ['-C', REPO_ROOT, 'log', '-n1', '--format=%h', '--', rel], {
    encoding: 'utf8',
  }).trim();
  // The runs committed before this report's own commit (or all of them for an uncommitted one).
  const history = committedHistory(REPO_ROOT, 'kv', kvCaseValues, own === '' ? 'HEAD' : `${own}^`);
  const cases = [...kvCaseValues(report)].map(([key, values]) => {
    const [caseId, system] = key.split('/');
    return { caseId: caseId as string, system: system as string, values };
  });
  return noiseReport('opsPerSecond', 'etcd', cases, history);
}

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: check-noise.ts docs/benchmarks/{kv,reads}.json [...]');
for (const path of paths) {
  const report = JSON.parse(readFileSync(path, 'utf8')) as SuiteReport;
  if (report.suite !== 'kv' && report.suite !== 'reads')
    throw new Error(`${path}: only kv and reads reports have repeated cases, got '${String(report.suite)}'`);
  const noise = report.suite === 'kv' ? kvNoise(report, path) : readsNoise(report);
  const files = await writeSuiteReport({ ...report, noise }, dirname(path));
  console.log(`${path}:\n${noiseLines(noise).join('\n')}\nwrote ${files.json}, ${files.md}`);
}
