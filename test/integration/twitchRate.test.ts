import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';

/** The outgoing chat limiter, through the real daemon: the fixture model talks on
 * every frame (threshold 1), every line is offered to chat (proactiveIntervalS 0,
 * repeats allowed), so the daemon wants to post far more than Twitch allows. What
 * the peer receives must stay within the limit, in every sliding 30 s window. */

const CHANNEL = 'ratechan';
const BOT = 'cocasterbot';
const TOKEN = 'oauth:testtoken';
/** Long enough for the second 30 s window to open. */
const STREAM_MS = 38_000;
const WINDOW_MS = 30_000;
/** Twitch's limits and the 75% the limiter targets. */
const TWITCH_LIMIT = { normal: 20, moderator: 100 };
const TARGET = { normal: 15, moderator: 75 };

interface Summary {
  linesOffered: number;
  droppedFiltered: number;
  messagesOut: number;
  droppedOutgoing: number;
  queuedOutgoing: number;
  moderator: boolean;
}

interface Figures {
  /** Lines the model spoke, all offered to chat. */
  wanted: number;
  /** The most spoken lines in any 30 s (by the transcript's wall clock). */
  wantedMaxIn30s: number;
  sent: number;
  maxIn30s: number;
  /** The shortest time (at the peer) spanned by limit + 1 consecutive messages. */
  tightestSpanMs: number | null;
  summary: Summary;
}

let peer: TwitchPeer | undefined;
let d: DaemonProcess | undefined;
afterEach(async () => {
  await d?.stop();
  await peer?.close();
  d = undefined;
  peer = undefined;
});

async function stream(botBadges: string[]): Promise<Figures> {
  peer = await TwitchPeer.start(TOKEN);
  peer.botBadges = botBadges;
  d = await startDaemonProcess(testConfig({
    threshold: 1,
    outputs: ['server', 'twitch'],
    twitch: { channel: CHANNEL, botName: BOT, token: TOKEN, server: peer.url, proactive: true, proactiveIntervalS: 0, noRepeatLines: 0 },
  }));
  await until(() => peer!.joins.length > 0, 'the bot to join', 30_000);
  await new Promise((r) => setTimeout(r, STREAM_MS));
  const r = await rawRequest(d.port, 'GET', '/api/transcript?limit=500', { Authorization: `Bearer ${d.tokens.overlay}` });
  const spoken = (JSON.parse(r.body) as { lines: Array<{ role: string; wallMs: number }> }).lines.filter((l) => l.role === 'assistant');
  expect(await d.stop()).toBe(0);
  const m = /twitch: summary (\{.*\})/.exec(d.stderr());
  expect(m).not.toBeNull();
  const summary = JSON.parse(m![1]!) as Summary;
  const at = peer.posted.map((p) => p.at);
  const limit = botBadges.length ? TARGET.moderator : TARGET.normal;
  const spans = at.slice(limit).map((t, i) => t - at[i]!);
  return { wanted: Math.max(spoken.length, summary.linesOffered), wantedMaxIn30s: maxInWindow(spoken.map((l) => l.wallMs)), sent: at.length, maxIn30s: peer.maxInWindow(WINDOW_MS), tightestSpanMs: spans.length ? Math.min(...spans) : null, summary };
}

function maxInWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= WINDOW_MS) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

function expectWithinLimits(f: Figures, limit: number, heldBack: boolean): void {
  // What the daemon counted as sent is what the peer received.
  expect(f.summary.messagesOut).toBe(f.sent);
  expect(f.sent).toBeGreaterThan(0);
  expect(f.maxIn30s).toBeLessThanOrEqual(limit);
  for (const p of peer!.posted) {
    expect(p.channel).toBe(`#${CHANNEL}`);
    expect(p.text.length).toBeGreaterThan(0);
    expect(p.text.length).toBeLessThanOrEqual(500);
  }
  if (f.tightestSpanMs !== null) expect(f.tightestSpanMs).toBeGreaterThanOrEqual(WINDOW_MS);
  // Repeats were allowed: the filter dropped nothing; every line offered was sent,
  // dropped from the full queue (oldest first) or still waiting at shutdown.
  expect(f.summary.droppedFiltered).toBe(0);
  expect(f.summary.messagesOut + f.summary.droppedOutgoing + f.summary.queuedOutgoing).toBe(f.summary.linesOffered);
  if (heldBack) {
    expect(f.summary.linesOffered).toBeGreaterThan(f.sent);
    expect(f.summary.droppedOutgoing + f.summary.queuedOutgoing).toBeGreaterThan(0);
  }
}

describe('twitch outgoing rate, through the daemon', () => {
  it('never posts more than 15 per 30 s as a normal bot, though it wants to', async () => {
    const f = await stream([]);
    console.log(`twitch rate figures (normal): ${JSON.stringify(f)}`);
    expect(f.summary.moderator).toBe(false);
    // The daemon wanted well over Twitch's 20 per 30 s.
    expect(f.wantedMaxIn30s).toBeGreaterThan(TWITCH_LIMIT.normal);
    expectWithinLimits(f, TARGET.normal, true);
  }, 150_000);

  it('posts more as a moderator (USERSTATE badge), never over 75 per 30 s', async () => {
    const f = await stream(['moderator/1']);
    console.log(`twitch rate figures (moderator): ${JSON.stringify(f)}`);
    expect(f.summary.moderator).toBe(true);
    // The fixture talks about twice a second, under 75 per 30 s: nothing need wait.
    expectWithinLimits(f, TARGET.moderator, false);
    expect(f.maxIn30s).toBeLessThan(TWITCH_LIMIT.moderator);
    // The higher limit is used when the model produces enough lines for it (it
    // does, about 60 per 30 s, unless the machine is starved).
    if (f.wantedMaxIn30s > TARGET.normal + 2) expect(f.maxIn30s).toBeGreaterThan(TARGET.normal);
  }, 150_000);
});
