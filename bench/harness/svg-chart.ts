// SVG charts for the benchmark reports, written by hand (no chart dependency): grouped bars
// (cases × systems) and lines over time (e.g. p99 per 1 s bucket), with axes, ticks, a
// legend and an optional vertical marker (e.g. "split"). Output is a standalone SVG file
// that renders on GitHub and in browsers.

export interface BarChart {
  readonly kind: 'bar';
  readonly title: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: readonly number[] }>;
}

export interface LineChart {
  readonly kind: 'line';
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: ReadonlyArray<{
    readonly name: string;
    readonly points: ReadonlyArray<readonly [number, number]>;
  }>;
  readonly markers?: ReadonlyArray<{ readonly x: number; readonly label: string }>;
}

export type Chart = BarChart | LineChart;

const WIDTH = 900;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 90 } as const;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export function renderChart(chart: Chart): string {
  const body = chart.kind === 'bar' ? barBody(chart) : lineBody(chart);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function barBody(chart: BarChart): string[] {
  const out: string[] = [];
  const yMax = niceMax(Math.max(0, ...chart.series.flatMap((s) => s.values)));
  out.push(...yAxis(yMax, chart.yLabel));
  const groupW = PLOT_W / Math.max(1, chart.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, chart.series.length);
  chart.categories.forEach((category, ci) => {
    const groupX = MARGIN.left + ci * groupW + groupW * 0.1;
    chart.series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const h = (v / yMax) * PLOT_H;
      const x = groupX + si * barW;
      out.push(
        `<rect x="${f(x)}" y="${f(MARGIN.top + PLOT_H - h)}" width="${f(barW - 1)}" height="${f(h)}" fill="${color(si)}"><title>${esc(`${s.name} ${category}: ${v}`)}</title></rect>`,
      );
    });
    const labelX = MARGIN.left + ci * groupW + groupW / 2;
    const labelY = MARGIN.top + PLOT_H + 12;
    out.push(
      `<text x="${f(labelX)}" y="${f(labelY)}" text-anchor="end" transform="rotate(-35 ${f(labelX)} ${f(labelY)})">${esc(category)}</text>`,
    );
  });
  out.push(...legend(chart.series.map((s) => s.name)));
  return out;
}

function lineBody(chart: LineChart): string[] {
  const out: string[] = [];
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(xMin + 1, ...xs);
  const yMax = niceMax(Math.max(0, ...ys));
  const px = (x: number): number => MARGIN.left + ((x - xMin) / (xMax - xMin)) * PLOT_W;
  const py = (y: number): number => MARGIN.top + PLOT_H - (y / yMax) * PLOT_H;
  out.push(...yAxis(yMax, chart.yLabel));
  for (let i = 0; i <= 10; i++) {
    const x = xMin + ((xMax - xMin) * i) / 10;
    out.push(`<text x="${f(px(x))}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H + 36}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
  );
  for (const marker of chart.markers ?? []) {
    out.push(
      `<line x1="${f(px(marker.x))}" x2="${f(px(marker.x))}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#555" stroke-dasharray="4 3"/>`,
      `<text x="${f(px(marker.x) + 4)}" y="${MARGIN.top + 12}">${esc(marker.label)}</text>`,
    );
  }
  chart.series.forEach((s, si) => {
    const path = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(px(p[0]))},${f(py(p[1]))}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color(si)}" stroke-width="2"/>`);
    for (const p of s.points)
      out.push(
        `<circle cx="${f(px(p[0]))}" cy="${f(py(p[1]))}" r="2.5" fill="${color(si)}"><title>${esc(`${s.name} ${p[0]}: ${p[1]}`)}</title></circle>`,
      );
  });
  out.push(...legend(chart.series.map((s) => s.name)));
  return out;
}

function yAxis(yMax: number, label: string): string[] {
  const out = [
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}" stroke="black"/>`,
    `<text x="16" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + PLOT_H / 2})">${esc(label)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const y = MARGIN.top + PLOT_H - (PLOT_H * i) / 5;
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${f(y)}" y2="${f(y)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${f(y + 4)}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  return out;
}

function legend(names: readonly string[]): string[] {
  return names.flatMap((name, i) => {
    const x = MARGIN.left + 10 + i * 170;
    const y = HEIGHT - 14;
    return [
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color(i)}"/>`,
      `<text x="${x + 16}" y="${y}">${esc(name)}</text>`,
    ];
  });
}

/** 1, 2 or 5 times a power of ten, at least `v` (and > 0). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function color(i: number): string {
  return COLORS[i % COLORS.length] as string;
}

function f(n: number): string {
  return n.toFixed(1);
}

function fmt(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

function esc(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
