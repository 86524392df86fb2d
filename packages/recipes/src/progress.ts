/**
 * Progress with an ETA for long stages, on one rewritten line. Disabled (silent) when stdout is not a TTY,
 * so logs and pipes get only the one-line stage summaries.
 */
export class Progress {
  private readonly t0 = performance.now();
  private last = 0;

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {}

  tick(done: number, total: number, extra = ''): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 200 && done < total) return; // at most 5 redraws a second
    this.last = now;
    const s = (now - this.t0) / 1000;
    const eta = done > 0 ? (s / done) * (total - done) : NaN;
    const fmt = (x: number) => (Number.isFinite(x) ? (x >= 60 ? `${Math.floor(x / 60)}m${String(Math.round(x % 60)).padStart(2, '0')}s` : `${x.toFixed(0)}s`) : '?');
    this.stream.write(`\r\x1b[K${this.label} ${done}/${total} (${((100 * done) / Math.max(1, total)).toFixed(0)}%) elapsed ${fmt(s)} ETA ${fmt(eta)} ${extra}`);
  }

  end(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
