import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';

/** The outgoing chat limiter wired into the real daemon and its tmi.js client:
 * the fixture model talks on every frame (threshold 1), every line is offered to
 * chat (proactiveIntervalS 0, repeats allowed), so the daemon wants to post more
 * than the limit allows. The limiter's rules themselves (the 31 s window, the
 * queue, msg_ratelimit) are tested on a fake clock in test/rateLimiter.test.ts;
 * here, a short real stream checks that the daemon holds back what it must, that
 * USERSTATE's moderator badge reaches the limiter, and that its counters match
 * what the peer received. No step waits for a window to pass. */

const CHANNEL = 'ratechan';
const BOT = 'cocasterbot';
const TOKEN = 'oauth:testtoken';
const WINDOW_MS = 30_000;
/** The limiter's per-window limits (75% of Twitch's 20 and 100). */
const TARGET = { normal: 15, moderator: 75 };
/** Generous for a loaded machine: the fixture speaks about twice a second. */
const WAIT_MS = 60_000;

interface Summary {
  linesOffered: number;
  droppedFiltered: number;
  messagesOut: number;
  droppedOutgoing: number;
  expiredOutgoing: number;
  unackedOutgoing: number;
  queuedOutgoing: number;
  moderator: boolean;
}

let peer: TwitchPeer | undefined;
let d: DaemonProcess | undefined;
afterEach(async () => {
  await d?.stop();
  await peer?.close();
  d = undefined;
  peer = undefined;
});

async function start(botBadges: string[]): Promise<{ peer: TwitchPeer; d: DaemonProcess }> {
  peer = await TwitchPeer.start(TOKEN);
  peer.botBadges = botBadges;
  d = await startDaemonProcess(testConfig({
    threshold: 1,
    outputs: ['server', 'twitch'],
    twitch: { channel: CHANNEL, botName: BOT, token: TOKEN, server: peer.url, proactive: true, proactiveIntervalS: 0, noRepeatLines: 0 },
  }));
  await until(() => peer!.joins.length > 0, 'the bot to join', WAIT_MS);
  return { peer, d };
}

async function spokenLines(d: DaemonProcess): Promise<number> {
  const r = await rawRequest(d.port, 'GET', '/api/transcript?limit=500', { Authorization: `Bearer ${d.tokens.overlay}` });
  return (JSON.parse(r.body) as { lines: Array<{ role: string }> }).lines.filter((l) => l.role === 'assistant').length;
}

/** Stops the daemon and checks what holds however the stream went. */
async function stopAndCheck(peer: TwitchPeer, d: DaemonProcess, limit: number): Promise<Summary> {
  expect(await d.stop()).toBe(0);
  const m = /twitch: summary (\{.*\})/.exec(d.stderr());
  expect(m).not.toBeNull();
  const summary = JSON.parse(m![1]!) as Summary;
  // What the daemon counted as sent is what the peer received, within the limit.
  expect(summary.messagesOut).toBe(peer.posted.length);
  expect(peer.maxInWindow(WINDOW_MS)).toBeLessThanOrEqual(limit);
  for (const p of peer.posted) {
    expect(p.channel).toBe(`#${CHANNEL}`);
    expect(p.text.length).toBeGreaterThan(0);
    expect(p.text.length).toBeLessThanOrEqual(500);
  }
  // Repeats were allowed: the filter dropped nothing; every line offered was sent,
  // dropped from the full queue or still waiting at shutdown.
  expect(summary.droppedFiltered).toBe(0);
  expect(summary.messagesOut + summary.droppedOutgoing + summary.expiredOutgoing + summary.unackedOutgoing + summary.queuedOutgoing).toBe(summary.linesOffered);
  return summary;
}

describe('twitch outgoing rate, through the daemon', () => {
  it('holds back what a normal bot may not post yet', async () => {
    const { peer, d } = await start([]);
    // The first 15 lines go out at once; the next ones must wait for the window
    // (31 s after the first post; the fixture speaks them within a few seconds).
    await until(() => peer.posted.length >= TARGET.normal || undefined, `${TARGET.normal} posts`, WAIT_MS);
    const firstPost = peer.posted[0]!.at;
    const spoken = await spokenLines(d);
    await until(async () => (await spokenLines(d)) >= spoken + 3 || undefined, '3 more spoken lines', WAIT_MS);
    const summary = await stopAndCheck(peer, d, TARGET.normal);
    console.log(`twitch rate (normal): ${JSON.stringify({ ...summary, ranMs: Date.now() - firstPost })}`);
    expect(summary.moderator).toBe(false);
    expect(summary.linesOffered).toBeGreaterThan(TARGET.normal);
    expect(summary.droppedOutgoing + summary.queuedOutgoing).toBeGreaterThan(0);
  }, 150_000);

  it('posts more as a moderator (USERSTATE badge), never over 75 per 30 s', async () => {
    const { peer, d } = await start(['moderator/1']);
    await until(() => peer.posted.length > TARGET.normal + 3 || undefined, `more than ${TARGET.normal + 3} posts`, WAIT_MS);
    const summary = await stopAndCheck(peer, d, TARGET.moderator);
    console.log(`twitch rate (moderator): ${JSON.stringify(summary)}`);
    expect(summary.moderator).toBe(true);
    expect(peer.maxInWindow(WINDOW_MS)).toBeGreaterThan(TARGET.normal);
  }, 150_000);
});
