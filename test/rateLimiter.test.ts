import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatRateLimiter, JITTER_MS, MAX_AGE_MS, SendFailure, WINDOW_MS } from '../src/outputs/twitch/rateLimiter.js';

/** The Twitch chat limiter's rules (README "Twitch chat") on vitest's fake clock:
 * 15 per 30 s, 75 as a moderator, counted over 31 s, a queue of 50 dropping the
 * oldest, a 30 s pause on msg_ratelimit. The limiter is built as the twitch
 * output builds it: on Date.now and setTimeout, which the fake clock replaces. */

const HOLD = WINDOW_MS + JITTER_MS;

interface Sent {
  at: number;
  text: string;
  replyTo: string | undefined;
  /** The limit in force when it went out. */
  limit: number;
}

function setup(maxQueue?: number) {
  const sent: Sent[] = [];
  const limiter: ChatRateLimiter = new ChatRateLimiter({
    send: (text, replyTo) => void sent.push({ at: Date.now(), text, replyTo, limit: limiter.limit }),
    ...(maxQueue === undefined ? {} : { maxQueue }),
  });
  const enqueue = (n: number, prefix = 'm') => {
    for (let i = 0; i < n; i++) limiter.enqueue(`${prefix}${i}`);
  };
  /** Sends in the `ms` before and including `at`. */
  const inWindow = (at: number, ms: number) => sent.filter((s) => s.at > at - ms && s.at <= at).length;
  return { limiter, sent, enqueue, inWindow };
}

const T0 = 1_700_000_000_000;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});
const elapsed = () => Date.now() - T0;

describe('chat rate limiter (fake clock)', () => {
  it('the limits: 75% of Twitch\'s 20 and 100 per 30 s, counted over 31 s', () => {
    const { limiter } = setup();
    expect([WINDOW_MS, JITTER_MS]).toEqual([30_000, 1_000]);
    expect(limiter.limit).toBe(15);
    expect(limiter.moderator).toBe(false);
    limiter.setModerator(true);
    expect(limiter.limit).toBe(75);
    expect(limiter.moderator).toBe(true);
  });

  it('sends 15 at once as a normal bot; the 16th waits until the first is 31 s old', () => {
    const { limiter, sent, enqueue } = setup();
    enqueue(16);
    expect(sent.map((s) => s.text)).toEqual(Array.from({ length: 15 }, (_, i) => `m${i}`));
    expect(sent.every((s) => s.at === T0)).toBe(true);
    expect(limiter.queued).toBe(1);
    vi.advanceTimersByTime(HOLD - 1);
    expect(sent).toHaveLength(15);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(16);
    expect(sent[15]).toMatchObject({ text: 'm15', at: T0 + HOLD });
    expect(limiter.queued).toBe(0);
    expect(limiter.sent).toBe(16);
  });

  it('counts a sliding window, not fixed buckets', () => {
    const { sent, enqueue, inWindow } = setup();
    enqueue(10, 'a');
    vi.advanceTimersByTime(20_000);
    enqueue(5, 'b');
    vi.advanceTimersByTime(5_000);
    enqueue(10, 'c'); // the window is full: 10 + 5
    expect(sent).toHaveLength(15);
    vi.advanceTimersByTime(HOLD - 25_000 - 1);
    expect(sent).toHaveLength(15);
    vi.advanceTimersByTime(1); // the a's leave the window: 10 go at once
    expect(sent.slice(15).map((s) => [s.text, s.at - T0])).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i}`, HOLD]));
    expect(inWindow(T0 + HOLD, HOLD)).toBe(15);
    enqueue(1, 'd'); // waits for the b's, 31 s after they went out
    vi.advanceTimersByTime(20_000 + HOLD - elapsed() - 1);
    expect(sent).toHaveLength(25);
    vi.advanceTimersByTime(1);
    expect(sent.at(-1)).toMatchObject({ text: 'd0', at: T0 + 20_000 + HOLD });
  });

  it('as a moderator sends up to 75; a promotion frees the queue at once, a demotion holds it at once', () => {
    const { limiter, sent, enqueue, inWindow } = setup();
    enqueue(40);
    expect(sent).toHaveLength(15);
    limiter.setModerator(true); // USERSTATE with the moderator badge
    expect(sent).toHaveLength(40);
    enqueue(40, 'n');
    expect(sent).toHaveLength(75);
    expect(limiter.queued).toBe(5);
    limiter.setModerator(false);
    vi.advanceTimersByTime(HOLD); // all 75 leave the window; 5 go as a normal bot
    expect(sent).toHaveLength(80);
    expect(inWindow(Date.now(), HOLD)).toBe(5);
    expect(sent.slice(75).every((s) => s.limit === 15)).toBe(true);
  });

  it('queues 50 at most, dropping the oldest first', () => {
    const { limiter, sent, enqueue } = setup();
    enqueue(15, 'sent');
    enqueue(60, 'q');
    expect(limiter.queued).toBe(50);
    expect(limiter.dropped).toBe(10);
    vi.advanceTimersByTime(5 * 60_000);
    expect(limiter.queued).toBe(0);
    expect(sent.slice(15).map((s) => s.text)).toEqual(Array.from({ length: 50 }, (_, i) => `q${i + 10}`));
    expect(limiter.sent + limiter.dropped).toBe(75);
  });

  it('takes another queue size', () => {
    const { limiter, enqueue } = setup(3);
    enqueue(20);
    expect([limiter.sent, limiter.queued, limiter.dropped]).toEqual([15, 3, 2]);
  });

  it('pauses 30 s on msg_ratelimit, whatever it counted, and a second notice extends the pause', () => {
    const { limiter, sent, enqueue } = setup();
    enqueue(2, 'a');
    vi.advanceTimersByTime(1_000);
    limiter.backOff(); // Twitch disagrees with our count
    enqueue(3, 'b');
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(WINDOW_MS - 1);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sent.slice(2).map((s) => [s.text, s.at - T0])).toEqual([['b0', 31_000], ['b1', 31_000], ['b2', 31_000]]);

    limiter.backOff();
    vi.advanceTimersByTime(10_000);
    limiter.backOff(); // now paused until 30 s from here
    enqueue(1, 'c');
    vi.advanceTimersByTime(WINDOW_MS - 1);
    expect(sent).toHaveLength(5);
    vi.advanceTimersByTime(1);
    expect(sent.at(-1)).toMatchObject({ text: 'c0', at: T0 + 31_000 + 10_000 + WINDOW_MS });

    // A shorter pause does not cut a longer one short.
    limiter.backOff();
    limiter.backOff(1_000);
    vi.advanceTimersByTime(2_000);
    enqueue(1, 'd');
    expect(sent).toHaveLength(6);
    vi.advanceTimersByTime(WINDOW_MS - 2_000 - 1);
    expect(sent).toHaveLength(6);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(7);
  });

  it('keeps each message with the chat message it replies to, in order', () => {
    const { limiter, sent } = setup();
    for (let i = 0; i < 20; i++) limiter.enqueue(`m${i}`, i % 2 ? `parent-${i}` : undefined);
    vi.advanceTimersByTime(HOLD);
    expect(sent.map((s) => [s.text, s.replyTo])).toEqual(Array.from({ length: 20 }, (_, i) => [`m${i}`, i % 2 ? `parent-${i}` : undefined]));
  });

  it('sends nothing after dispose', () => {
    const { limiter, sent, enqueue } = setup();
    enqueue(20);
    expect(vi.getTimerCount()).toBe(1);
    limiter.dispose();
    expect(limiter.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // nothing keeps a stopping daemon alive
    vi.advanceTimersByTime(10 * 60_000);
    expect(sent).toHaveLength(15);
  });

  it('never exceeds the limit in force over any 31 s, and drains, whatever the traffic', () => {
    const { limiter, sent, inWindow } = setup();
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let n = 0;
    for (let step = 0; step < 600; step++) {
      const r = rand();
      if (r < 0.3) for (let k = Math.floor(rand() * 12); k > 0; k--) limiter.enqueue(`m${n++}`);
      else if (r < 0.33) limiter.setModerator(rand() < 0.5);
      else if (r < 0.34) limiter.backOff();
      vi.advanceTimersByTime(Math.floor(rand() * 3_000));
    }
    limiter.setModerator(false);
    vi.advanceTimersByTime(10 * 60_000);
    expect(limiter.queued).toBe(0);
    expect(limiter.sent).toBe(sent.length);
    expect(limiter.sent + limiter.dropped).toBe(n);
    expect(sent.length).toBeGreaterThan(300);
    for (const s of sent) expect(inWindow(s.at, HOLD)).toBeLessThanOrEqual(s.limit);
    // Twitch's own count (20 or 100 per 30 s) is never reached.
    for (const s of sent) expect(inWindow(s.at, WINDOW_MS)).toBeLessThan(s.limit === 75 ? 100 : 20);
  });
});

describe('chat rate limiter across a lost connection (fake clock)', () => {
  /** A send that Twitch acknowledges only when the test says so. */
  function acked() {
    const inFlight: Array<{ text: string; ok: () => void; fail: (retry: boolean) => void }> = [];
    const limiter = new ChatRateLimiter({
      send: (text) =>
        new Promise<void>((ok, no) => inFlight.push({ text, ok, fail: (retry) => no(new SendFailure(retry, retry ? 'link down' : 'no ack')) })),
    });
    return { limiter, inFlight };
  }
  const settle = () => vi.advanceTimersByTimeAsync(0);

  it('holds lines while the link is down and sends them, in order, once it is back', async () => {
    const { limiter, inFlight } = acked();
    limiter.setLinkUp(false);
    for (const t of ['a', 'b', 'c']) limiter.enqueue(t);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(inFlight).toHaveLength(0);
    limiter.setLinkUp(true);
    expect(inFlight.map((s) => s.text)).toEqual(['a', 'b', 'c']);
  });

  it('counts a line as sent only once acknowledged; a line lost with the link goes back to its place', async () => {
    const { limiter, inFlight } = acked();
    for (const t of ['a', 'b', 'c', 'd']) limiter.enqueue(t);
    inFlight[0]!.ok();
    await settle();
    expect([limiter.sent, limiter.inFlight]).toEqual([1, 3]);
    limiter.setLinkUp(false);
    inFlight[2]!.fail(true);
    inFlight[1]!.fail(true);
    await settle();
    expect([limiter.sent, limiter.inFlight, limiter.queued]).toEqual([1, 1, 2]);
    limiter.enqueue('e');
    inFlight[3]!.fail(true);
    await settle();
    limiter.setLinkUp(true);
    expect(inFlight.slice(4).map((s) => s.text)).toEqual(['b', 'c', 'd', 'e']);
  });

  it('gives back the window place of a line that was not accepted', async () => {
    const { limiter, inFlight } = acked();
    for (let i = 0; i < 15; i++) limiter.enqueue(`m${i}`);
    limiter.enqueue('waits');
    expect(inFlight).toHaveLength(15);
    inFlight[0]!.fail(false); // never acknowledged: given up, and its place in the window freed
    await settle();
    expect(inFlight.map((s) => s.text).at(-1)).toBe('waits');
    expect([limiter.failed, limiter.queued]).toEqual([1, 0]);
  });

  it('drops lines that waited longer than the maximum age', async () => {
    const { limiter, inFlight } = acked();
    limiter.setLinkUp(false);
    limiter.enqueue('old');
    await vi.advanceTimersByTimeAsync(MAX_AGE_MS - 1_000);
    limiter.enqueue('new');
    await vi.advanceTimersByTimeAsync(2_000);
    limiter.setLinkUp(true);
    expect(inFlight.map((s) => s.text)).toEqual(['new']);
    expect(limiter.expired).toBe(1);
  });
});
