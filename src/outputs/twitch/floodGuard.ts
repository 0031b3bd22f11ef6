/** Per-viewer message budget: a viewer sending more than `perWindow` messages in
 * a window is ignored for the rest of it. Memory is bounded: the map is cleared
 * every window and never holds more than `maxUsers` entries. */
export class FloodGuard {
  private counts = new Map<string, number>();
  private windowStart: number;

  constructor(
    private readonly perWindow = 20,
    private readonly windowMs = 30_000,
    private readonly maxUsers = 50_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  allow(userId: string): boolean {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs || this.counts.size >= this.maxUsers) {
      this.counts = new Map();
      this.windowStart = now;
    }
    const n = (this.counts.get(userId) ?? 0) + 1;
    this.counts.set(userId, n);
    return n <= this.perWindow;
  }
}
