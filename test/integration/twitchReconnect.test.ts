import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';

const CHANNEL = 'reconnectchan';

describe('twitch reconnect', () => {
  let peer: TwitchPeer;
  let d: DaemonProcess;
  const askedTexts = async () => {
    const r = await rawRequest(d.port, 'GET', '/api/transcript?limit=500', { Authorization: `Bearer ${d.tokens.overlay}` });
    return (JSON.parse(r.body) as { lines: Array<{ role: string; text: string }> }).lines.filter((l) => l.role === 'user').map((l) => l.text);
  };
  const askAndSee = async (text: string) => {
    // Until the new connection has joined, a message reaches no one: resend until it lands.
    await until(async () => {
      if ((await askedTexts()).includes(text)) return true;
      peer.chat(CHANNEL, { login: `u${Math.floor(Math.random() * 1e9)}`, text: `!ask ${text}` });
      await new Promise((r) => setTimeout(r, 300));
      return undefined;
    }, `question '${text}'`, 60_000);
  };

  beforeAll(async () => {
    peer = await TwitchPeer.start();
    // Anonymous (no token): read-only, logs in as justinfan….
    d = await startDaemonProcess(testConfig({ outputs: ['server', 'twitch'], twitch: { channel: CHANNEL, server: peer.url, userCooldownS: 0, questionsPerMinute: 120 } }));
    await until(() => peer.joins.length === 1, 'the first join', 30_000);
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await peer?.close();
  });

  it('reads anonymously and answers PING', async () => {
    expect(peer.logins[0]!.anonymous).toBe(true);
    expect(peer.received.map((r) => r.line)).toContain('PASS SCHMOOPIIE');
    peer.ping();
    await until(() => peer.received.some((r) => r.line.startsWith('PONG')), 'PONG');
    await askAndSee('before any trouble');
  });

  it('comes back after the connection drops', async () => {
    peer.dropAll();
    await until(() => peer.joins.length >= 2, 'a second join', 60_000);
    await askAndSee('after the drop');
    expect(d.child.exitCode).toBeNull();
  }, 90_000);

  it('follows RECONNECT, and survives msg_ratelimit', async () => {
    const joins = peer.joins.length;
    peer.sendReconnect();
    await until(() => peer.joins.length > joins, 'a join after RECONNECT', 60_000);
    expect(peer.openConnections).toBe(1);
    peer.noticeRatelimit(CHANNEL);
    await askAndSee('after reconnect');
    expect(d.child.exitCode).toBeNull();
  }, 90_000);
});
