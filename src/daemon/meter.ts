/** Frames per second and capture-to-processed latency over a sliding window. */
export class FrameMeter {
  private samples: Array<{ doneAt: number; latencyMs: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  record(capturedAt: number, doneAt = Date.now()): void {
    this.samples.push({ doneAt, latencyMs: doneAt - capturedAt });
    const cutoff = doneAt - this.windowMs;
    while (this.samples.length > 2 && this.samples[0]!.doneAt < cutoff) this.samples.shift();
  }

  get fps(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.doneAt === first.doneAt) return 0;
    return round(((this.samples.length - 1) * 1000) / (last.doneAt - first.doneAt));
  }

  get latencyMs(): number {
    if (this.samples.length === 0) return 0;
    return round(this.samples.reduce((s, x) => s + x.latencyMs, 0) / this.samples.length);
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
