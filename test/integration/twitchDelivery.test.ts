import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';

const CHANNEL = 'deliverychan';
const BOT = 'cocasterbot';
const TOKEN = 'oauth:testtoken';
const WAIT_MS = 90_000;

/**
 * Answers survive Twitch's routine RECONNECT and a dropped socket: a line waits in
 * the queue until the channel is joined again, a line Twitch never acknowledged is
 * sent again, and only acknowledged lines count as sent (and against the rate).
 */
describe('twitch answers across reconnects', () => {
  let peer: TwitchPeer;
  let d: DaemonProcess;
  let viewer = 0;
  const ask = (n: number): string[] =>
    Array.from({ length: n }, () => peer.chat(CHANNEL, { login: `viewer${++viewer}`, text: `!ask question ${viewer}?` }));
  const repliesTo = (ids: string[]) => peer.posted.filter((p) => ids.includes(p.tags['reply-parent-msg-id'] ?? '')).length;
  const privmsgsReceived = () => peer.received.filter((r) => / PRIVMSG #/.test(r.line)).length;

  beforeAll(async () => {
    peer = await TwitchPeer.start(TOKEN);
    d = await startDaemonProcess(testConfig({
      outputs: ['server', 'twitch'],
      twitch: { channel: CHANNEL, botName: BOT, token: TOKEN, server: peer.url, userCooldownS: 0, questionsPerMinute: 120, noRepeatLines: 0 },
    }), undefined, { COCASTER_LOG: 'debug' });
    await until(() => peer.joins.length > 0, 'the bot to join', WAIT_MS);
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await peer?.close();
  });

  it('writes a viewer\'s control characters and terminal escapes to the debug log escaped', async () => {
    const hostile = 'look\x07\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x00';
    peer.chat(CHANNEL, { login: 'mallory', text: hostile });
    await until(() => d.stderr().includes('look\\x07\\x1b[2J\\x1b]0;pwned\\x07\\x1b[31mred') || undefined, 'the escaped chat line', WAIT_MS);
    expect(d.stderr()).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/); // only newlines between log lines
  });

  it('delivers every answer exactly once, within the rate, and counts only what the peer received', async () => {
    // 20 answers: 15 fill the window, 5 wait for it.
    const first = ask(20);
    await until(() => repliesTo(first) >= 15 || undefined, '15 answers', WAIT_MS);
    expect(repliesTo(first)).toBe(15);

    // Twitch restarts its server while 5 answers are queued: they wait for the new connection.
    peer.sendReconnect();
    await new Promise((r) => setTimeout(r, 50));
    peer.dropAll();
    await until(() => peer.joins.length >= 2 || undefined, 'the join after RECONNECT', WAIT_MS);
    await until(() => repliesTo(first) === 20 || undefined, 'the queued answers after the reconnect', WAIT_MS);

    // A connection that dies while lines are in flight: they arrive but are never acknowledged.
    peer.blackhole = true;
    const lostAt = privmsgsReceived();
    const last = ask(2);
    await until(() => privmsgsReceived() >= lostAt + 2 || undefined, 'two lines into the black hole', WAIT_MS);
    peer.blackhole = false;
    peer.dropAll();
    await until(() => repliesTo(last) === 2 || undefined, 'the lost lines sent again', WAIT_MS);

    expect(await d.stop()).toBe(0);
    const summary = JSON.parse(/twitch: summary (\{.*\})/.exec(d.stderr())![1]!) as Record<string, number>;
    const all = [...first, ...last];
    for (const id of all) expect(repliesTo([id]), `replies to ${id}`).toBe(1);
    expect(peer.posted).toHaveLength(all.length);
    expect(summary.messagesOut).toBe(peer.posted.length);
    expect(peer.maxInWindow(30_000)).toBeLessThanOrEqual(15);
    expect(d.stderr().match(/twitch: disconnected/g)?.length).toBe(2); // once per fall, not per retry
  }, 180_000);
});
