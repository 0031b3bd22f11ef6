/** Chat posting stays under Twitch's limit (20 messages per 30 s, 100 as a
 * moderator; going over locks the bot out for 30 minutes), with a margin: a
 * sliding window of the send times, and a bounded queue of what waits. */

export const WINDOW_MS = 30_000;
/** Fraction of Twitch's limit actually used: other clients of the same account
 * and clock skew between us and Twitch eat into it. */
export const MARGIN = 0.75;
/** Twitch counts a message when it arrives, we when we send it: network and
 * event-loop jitter can bring two sends 30 s apart closer together on arrival,
 * so a send holds its place in the window a little longer than 30 s. */
export const JITTER_MS = 1_000;
const HOLD_MS = WINDOW_MS + JITTER_MS;

export interface RateLimiterOptions {
  /** Sends a message; the limiter has already counted it. */
  send(text: string, replyTo: string | undefined): void;
  maxQueue?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

interface Queued {
  text: string;
  replyTo: string | undefined;
}

export class ChatRateLimiter {
  private sentAt: number[] = [];
  private readonly queue: Queued[] = [];
  private isModerator = false;
  private pausedUntil = 0;
  private timer: { cancel(): void } | undefined;
  private readonly now: () => number;
  private readonly setTimer: NonNullable<RateLimiterOptions['setTimer']>;
  dropped = 0;
  sent = 0;

  constructor(private readonly opts: RateLimiterOptions) {
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    });
  }

  /** Messages allowed per window right now. */
  get limit(): number {
    return Math.floor((this.isModerator ? 100 : 20) * MARGIN);
  }

  get moderator(): boolean {
    return this.isModerator;
  }

  /** Learned from USERSTATE badges; a demotion takes effect at once. */
  setModerator(isMod: boolean): void {
    this.isModerator = isMod;
    this.pump();
  }

  /** Twitch said msg_ratelimit: stop for a whole window, whatever we counted. */
  backOff(ms = WINDOW_MS): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    this.schedule(ms);
  }

  enqueue(text: string, replyTo?: string): void {
    this.queue.push({ text, replyTo });
    // Oldest first out: a stale line is worth less than a fresh one.
    while (this.queue.length > (this.opts.maxQueue ?? 50)) {
      this.queue.shift();
      this.dropped++;
    }
    this.pump();
  }

  get queued(): number {
    return this.queue.length;
  }

  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.length = 0;
  }

  private pump(): void {
    const now = this.now();
    if (now < this.pausedUntil) return this.schedule(this.pausedUntil - now);
    this.sentAt = this.sentAt.filter((t) => now - t < HOLD_MS);
    while (this.queue.length && this.sentAt.length < this.limit) {
      const next = this.queue.shift()!;
      this.sentAt.push(now);
      this.sent++;
      this.opts.send(next.text, next.replyTo);
    }
    if (this.queue.length) this.schedule(this.sentAt[0]! + HOLD_MS - now);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, ms));
  }
}
