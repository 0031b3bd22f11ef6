/** Chat posting stays under Twitch's limit (20 messages per 30 s, 100 as a
 * moderator; going over locks the bot out for 30 minutes), with a margin: a
 * sliding window of the send times, and a bounded queue of what waits. Lines wait
 * while the connection is down (a RECONNECT, a dropped socket) and go out once it is
 * back; only a line Twitch acknowledged counts as sent, and against the window. */

export const WINDOW_MS = 30_000;
/** Fraction of Twitch's limit actually used: other clients of the same account
 * and clock skew between us and Twitch eat into it. */
export const MARGIN = 0.75;
/** Twitch counts a message when it arrives, we when we send it: network and
 * event-loop jitter can bring two sends 30 s apart closer together on arrival,
 * so a send holds its place in the window a little longer than 30 s. */
export const JITTER_MS = 1_000;
const HOLD_MS = WINDOW_MS + JITTER_MS;
/** A line older than this is no longer worth posting. Longer than a full queue
 * takes to drain as a normal bot (50 lines at 15 per 31 s: 124 s), so only a long
 * outage expires lines. */
export const MAX_AGE_MS = 150_000;

/** Why a send did not go through: the link dropped before Twitch acknowledged the
 * line (it is queued again), or Twitch never acknowledged it (it is given up). */
export class SendFailure extends Error {
  constructor(readonly retry: boolean, message: string) {
    super(message);
  }
}

export interface RateLimiterOptions {
  /** Sends a message; resolves once the server accepted it. A rejection with a
   * retryable SendFailure puts the line back in the queue, in its place. */
  send(text: string, replyTo: string | undefined): Promise<void> | void;
  maxQueue?: number;
  maxAgeMs?: number;
  /** Whether lines can go out now; default true. See setLinkUp. */
  linkUp?: boolean;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

interface Queued {
  /** Order of arrival: a line sent again goes back to its place. */
  seq: number;
  text: string;
  replyTo: string | undefined;
  queuedAt: number;
}

export class ChatRateLimiter {
  private sentAt: number[] = [];
  private queue: Queued[] = [];
  private nextSeq = 0;
  private isModerator = false;
  private linkUp: boolean;
  private pausedUntil = 0;
  private timer: { cancel(): void } | undefined;
  private disposed = false;
  private readonly now: () => number;
  private readonly setTimer: NonNullable<RateLimiterOptions['setTimer']>;
  /** Dropped from a full queue (oldest first). */
  dropped = 0;
  /** Waited longer than maxAgeMs. */
  expired = 0;
  /** Sent but never acknowledged, given up. */
  failed = 0;
  /** Acknowledged by the server. */
  sent = 0;
  /** Sent, not yet acknowledged. */
  inFlight = 0;

  constructor(private readonly opts: RateLimiterOptions) {
    this.now = opts.now ?? Date.now;
    this.linkUp = opts.linkUp ?? true;
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

  /** Down: lines wait. Up (joined again): what waited goes out, within the window. */
  setLinkUp(up: boolean): void {
    this.linkUp = up;
    this.pump();
  }

  /** Twitch said msg_ratelimit: stop for a whole window, whatever we counted. */
  backOff(ms = WINDOW_MS): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    this.schedule(ms);
  }

  enqueue(text: string, replyTo?: string): void {
    this.queue.push({ seq: this.nextSeq++, text, replyTo, queuedAt: this.now() });
    this.trim();
    this.pump();
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Lines counted against the limit now (sent within the last window and its margin). */
  get inWindow(): number {
    const now = this.now();
    return this.sentAt.filter((t) => now - t < HOLD_MS).length;
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.length = 0;
  }

  /** Oldest first out of a full queue: a stale line is worth less than a fresh one. */
  private trim(): void {
    while (this.queue.length > (this.opts.maxQueue ?? 50)) {
      this.queue.shift();
      this.dropped++;
    }
  }

  private pump(): void {
    if (this.disposed) return;
    const now = this.now();
    const maxAge = this.opts.maxAgeMs ?? MAX_AGE_MS;
    const fresh = this.queue.filter((q) => now - q.queuedAt < maxAge);
    this.expired += this.queue.length - fresh.length;
    this.queue = fresh;
    if (!this.linkUp) return;
    if (now < this.pausedUntil) return this.schedule(this.pausedUntil - now);
    this.sentAt = this.sentAt.filter((t) => now - t < HOLD_MS);
    while (this.queue.length && this.sentAt.length < this.limit) this.sendOne(this.queue.shift()!, now);
    if (this.queue.length && this.sentAt.length) this.schedule(this.sentAt[0]! + HOLD_MS - now);
  }

  /** The line holds a place in the window while it is in flight; it keeps it only
   * if the server accepts the line. A send without a promise counts at once. */
  private sendOne(line: Queued, now: number): void {
    this.sentAt.push(now);
    let sending: Promise<void> | void;
    try {
      sending = this.opts.send(line.text, line.replyTo);
    } catch (err) {
      sending = Promise.reject(err);
    }
    if (!(sending instanceof Promise)) return void this.sent++;
    this.inFlight++;
    sending.then(
      () => {
        this.inFlight--;
        this.sent++;
      },
      (err: unknown) => {
        this.inFlight--;
        const held = this.sentAt.indexOf(now);
        if (held >= 0) this.sentAt.splice(held, 1);
        if (err instanceof SendFailure && err.retry && !this.disposed) this.requeue(line);
        else this.failed++;
        this.pump();
      },
    );
  }

  private requeue(line: Queued): void {
    const at = this.queue.findIndex((q) => q.seq > line.seq);
    this.queue.splice(at < 0 ? this.queue.length : at, 0, line);
    this.trim();
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, ms));
  }
}
