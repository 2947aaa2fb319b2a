// The event trace of one run: a running hash of every event (so two runs of a seed can be
// compared cheaply) and, when asked for, the human-readable lines (--verbose). Events are
// hashed from their numeric fields; the text is only built when someone will read it.

/** Receives a formatted trace line; used by --verbose. */
export type TraceSink = (line: string) => void;

const fnvPrime = 0x01000193;
const fnvOffset = 0x811c9dc5;

export class EventTrace {
  private hash = fnvOffset;
  private eventCount = 0;
  private readonly sink: TraceSink | null;

  constructor(sink: TraceSink | null) {
    this.sink = sink;
  }

  get verbose(): boolean {
    return this.sink !== null;
  }

  get events(): number {
    return this.eventCount;
  }

  /** The hash of all events so far, as 8 hex digits. */
  digest(): string {
    return (this.hash >>> 0).toString(16).padStart(8, '0');
  }

  /**
   * Records one event. `code` names the kind of event (a small integer per kind), `fields`
   * are its numbers; `describe` is called only when a sink is attached.
   */
  record(tick: number, code: number, fields: readonly number[], describe: () => string): void {
    this.eventCount++;
    this.mix(tick);
    this.mix(code);
    for (const field of fields) this.mix(field);
    if (this.sink !== null) this.sink(`[${String(tick).padStart(6)}] ${describe()}`);
  }

  private mix(value: number): void {
    // Mix the low and high 32-bit halves so large indexes and terms are not truncated.
    let h = this.hash;
    h = Math.imul(h ^ (value >>> 0), fnvPrime);
    h = Math.imul(h ^ Math.floor(value / 0x1_0000_0000), fnvPrime);
    this.hash = h >>> 0;
  }
}
