// `node --import tsx bench/harness/render-report.ts docs/benchmarks/kv.json`: writes the
// markdown and SVG of a suite again from its JSON (after a change to the presentation, or to
// render a report copied from another machine), without rerunning anything.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SuiteReport } from './suite-report.js';
import { writeSuiteReport } from './suite-report.js';

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: render-report.ts SUITE.json [...]');
for (const path of paths) {
  const report = JSON.parse(readFileSync(path, 'utf8')) as SuiteReport;
  if (typeof report.suite !== 'string' || !Array.isArray(report.tables))
    throw new Error(`${path}: not a suite report`);
  const files = await writeSuiteReport(report, dirname(path));
  console.log(`wrote ${[files.json, files.md, files.svg].filter((f) => f !== undefined).join(', ')}`);
}
