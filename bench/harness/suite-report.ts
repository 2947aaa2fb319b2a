// What a suite hands back and how it is written: docs/benchmarks/<suite>.json (everything,
// machine facts included), <suite>.md (the tables, the command that made them and the notes)
// and <suite>.svg (the chart), and the summary table printed at the end of a run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import type { MachineFacts } from './machine-facts.js';
import { noiseLines } from './noise.js';
import type { NoiseReport } from './noise.js';
import { renderChart } from './svg-chart.js';
import type { Chart } from './svg-chart.js';

export type Cell = string | number;

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  /** 'r' for right-aligned (numeric) columns; default left. */
  readonly align?: ReadonlyArray<'l' | 'r'>;
  readonly rows: ReadonlyArray<readonly Cell[]>;
}

export interface SuiteReport {
  readonly suite: string;
  /** The command line that reproduces it. */
  readonly command: string;
  readonly quick: boolean;
  readonly facts: MachineFacts;
  readonly durationS: number;
  /** Headline lines (ratios vs etcd, targets met or missed). */
  readonly headline: readonly string[];
  readonly tables: readonly Table[];
  readonly notes: readonly string[];
  readonly chart?: Chart;
  /** Per-case noise verdicts (suites with repeated cases); absent in reports older than the flag. */
  readonly noise?: NoiseReport;
  /** Raw results, for anyone comparing runs. */
  readonly data: unknown;
}

export interface WrittenFiles {
  readonly json: string;
  readonly md: string;
  readonly svg?: string;
}

/** Writes the three files; the JSON formatted as the repository's prettier config wants it (lint stays green). */
export async function writeSuiteReport(report: SuiteReport, outDir: string): Promise<WrittenFiles> {
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, report.suite);
  const files: { json: string; md: string; svg?: string } = { json: `${base}.json`, md: `${base}.md` };
  const config = (await prettier.resolveConfig(files.json)) ?? {};
  writeFileSync(files.json, await prettier.format(JSON.stringify(report), { ...config, parser: 'json' }));
  if (report.chart !== undefined) {
    files.svg = `${base}.svg`;
    writeFileSync(files.svg, renderChart(report.chart));
  }
  writeFileSync(files.md, markdown(report));
  return files;
}

export function markdown(report: SuiteReport): string {
  const f = report.facts;
  const lines = [
    `# Benchmark suite: ${report.suite}${report.quick ? ' (quick run)' : ''}`,
    '',
    `Command: \`${report.command}\``,
    '',
    `Machine: ${f.cores} cores (${f.cpuModel}), ${f.memoryGiB} GiB, Node ${f.nodeVersion}, etcd ${f.etcdVersion}; ` +
      `commit ${f.commit}${f.treeDirty ? ' (with uncommitted changes in the tree)' : ''}; ` +
      `load average ${f.loadAverage1m} at the start; ${f.startedAt}; took ${report.durationS} s.`,
    '',
  ];
  if (report.noise !== undefined)
    lines.push(`Run of ${f.startedAt} at commit ${f.commit}: ${noiseLines(report.noise).join('\n- ')}`, '');
  if (report.headline.length > 0) lines.push(...report.headline.map((h) => `- ${h}`), '');
  if (report.chart !== undefined) lines.push(`![${report.chart.title}](${report.suite}.svg)`, '');
  for (const table of report.tables) lines.push(`## ${table.title}`, '', ...markdownTable(table), '');
  if (report.notes.length > 0) lines.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

export function markdownTable(table: Table): string[] {
  const align = (i: number): 'l' | 'r' => table.align?.[i] ?? 'l';
  return [
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map((_, i) => (align(i) === 'r' ? '---:' : '---')).join('|')}|`,
    ...table.rows.map((row) => `| ${row.map((cell) => formatCell(cell)).join(' | ')} |`),
  ];
}

/** Plain-text rendition for the end of a run in a terminal. */
export function summaryText(report: SuiteReport): string {
  const out = [`== ${report.suite} ==`, ...report.headline];
  if (report.noise !== undefined) out.push(...noiseLines(report.noise));
  for (const table of report.tables) {
    const widths = table.columns.map((c, i) =>
      Math.max(c.length, ...table.rows.map((r) => formatCell(r[i] ?? '').length)),
    );
    const row = (cells: readonly Cell[]): string =>
      cells
        .map((c, i) =>
          table.align?.[i] === 'r'
            ? formatCell(c).padStart(widths[i] ?? 0)
            : formatCell(c).padEnd(widths[i] ?? 0),
        )
        .join('  ');
    out.push('', table.title, row(table.columns), ...table.rows.map(row));
  }
  return out.join('\n');
}

/** Numbers of 100 and more as integers with thousands separators; smaller ones to 2 decimals. */
export function formatCell(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (Math.abs(cell) >= 100) return Math.round(cell).toLocaleString('en-US');
  return String(Math.round(cell * 100) / 100);
}
