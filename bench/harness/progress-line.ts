// The one-line progress display a suite keeps updating on stderr while it runs (rewritten in
// place on a terminal, one line per update otherwise, so logs stay readable).
export class ProgressLine {
  private lastLength = 0;
  private readonly tty = process.stderr.isTTY === true;
  private readonly startedMs = Date.now();

  constructor(private readonly suite: string) {}

  update(text: string): void {
    const elapsedS = ((Date.now() - this.startedMs) / 1000).toFixed(0);
    const line = `[bench ${this.suite} ${elapsedS}s] ${text}`;
    if (this.tty) {
      process.stderr.write(`\r${line.padEnd(this.lastLength)}`);
      this.lastLength = line.length;
    } else process.stderr.write(`${line}\n`);
  }

  /** Ends the in-place line so later output starts on a fresh line. */
  done(): void {
    if (this.tty && this.lastLength > 0) process.stderr.write('\n');
    this.lastLength = 0;
  }
}
