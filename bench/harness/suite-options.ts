// Options every suite takes (from `npm run bench -- <suite> [options]`), and the helpers
// suites share to read their own numeric flags.

export interface SuiteOptions {
  /** Short durations and few repetitions: a smoke run, not figures to quote. */
  readonly quick: boolean;
  /** Where the JSON, markdown and SVG go (default docs/benchmarks). */
  readonly outDir: string;
  /** Runs of each case; the report gives their median. */
  readonly repeats: number;
  /** Measured time of each case (after the warm-up). */
  readonly durationMs: number;
  /** Suite-specific flags, as given (--name value). */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** The command line, for the report. */
  readonly command: string;
}

export function intFlag(options: SuiteOptions, name: string, fallback: number, min = 1): number {
  const raw = options.flags[name];
  if (raw === undefined || typeof raw === 'boolean') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

export function listFlag(options: SuiteOptions, name: string, fallback: readonly string[]): string[] {
  const raw = options.flags[name];
  if (raw === undefined || typeof raw === 'boolean') return [...fallback];
  return raw.split(',').filter((s) => s.length > 0);
}

export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}
