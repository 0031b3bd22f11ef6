import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';

const CHANNEL = 'somestreamer';
const BOT = 'cocasterbot';
const TOKEN = 'oauth:testtoken';

interface Line {
  role: string;
  text: string;
  asker: string | null;
  questionId: string | null;
  trigger: string | null;
}

async function transcript(d: DaemonProcess): Promise<Line[]> {
  const r = await rawRequest(d.port, 'GET', '/api/transcript?limit=500', { Authorization: `Bearer ${d.tokens.overlay}` });
  return (JSON.parse(r.body) as { lines: Line[] }).lines;
}
const questions = async (d: DaemonProcess) => (await transcript(d)).filter((l) => l.role === 'user');
async function status(d: DaemonProcess): Promise<{ paused: boolean }> {
  const r = await rawRequest(d.port, 'GET', '/api/status', { Authorization: `Bearer ${d.tokens.overlay}` });
  return JSON.parse(r.body) as { paused: boolean };
}

async function startWithPeer(peer: TwitchPeer, twitch: Record<string, unknown>): Promise<DaemonProcess> {
  const d = await startDaemonProcess(testConfig({
    outputs: ['server', 'twitch'],
    twitch: { channel: CHANNEL, botName: BOT, server: peer.url, ...twitch },
  }));
  await until(() => peer.joins.length > 0 && peer.logins.length > 0, 'the bot to join', 30_000);
  return d;
}

describe('twitch chat against the peer', () => {
  let peer: TwitchPeer;
  let d: DaemonProcess;
  beforeAll(async () => {
    peer = await TwitchPeer.start(TOKEN);
    d = await startWithPeer(peer, { token: TOKEN, userCooldownS: 600, questionsPerMinute: 100 });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await peer?.close();
  });

  it('logs in with the token, requests tags and commands, joins the channel', () => {
    const lines = peer.received.map((r) => r.line);
    expect(lines).toContain('CAP REQ :twitch.tv/tags twitch.tv/commands');
    expect(lines).toContain(`NICK ${BOT}`);
    expect(peer.logins[0]).toMatchObject({ nick: BOT, anonymous: false });
    expect(peer.joins[0]!.channel).toBe(`#${CHANNEL}`);
    // The secret never reaches the daemon's output.
    expect(d.stderr() + d.stdout()).not.toContain('testtoken');
  });

  it('turns !ask into a question by the asker and replies to the message', async () => {
    const msgId = peer.chat(CHANNEL, { login: 'alice', displayName: 'Alice_X', text: '!ask who is winning?' });
    const q = await until(async () => (await questions(d)).find((l) => l.text === 'who is winning?'), 'the question');
    expect(q.asker).toBe('Alice_X');
    const reply = await until(() => peer.posted.find((p) => p.tags['reply-parent-msg-id'] === msgId), 'the reply in chat');
    const answer = await until(async () => (await transcript(d)).find((l) => l.role === 'assistant' && l.questionId === q.questionId), 'the answer');
    expect(reply.channel).toBe(`#${CHANNEL}`);
    expect(reply.text.length).toBeGreaterThan(0);
    expect(reply.text.length).toBeLessThanOrEqual(500);
    // The line in chat is the engine's answer (filtered: it may be shorter, never different words).
    expect(answer.text).toContain(reply.text.split(' ')[0]!);
  });

  it('turns an @mention into a question', async () => {
    peer.chat(CHANNEL, { login: 'bob', text: `@${BOT} what just happened?` });
    const q = await until(async () => (await questions(d)).find((l) => l.text === 'what just happened?'), 'the mention');
    expect(q.asker).toBe('bob');
  });

  it('applies the per-user cooldown', async () => {
    peer.chat(CHANNEL, { login: 'alice', displayName: 'Alice_X', text: '!ask second question too soon' });
    // Messages are handled in order: once carol's question is in, alice's was decided.
    peer.chat(CHANNEL, { login: 'carol', text: '!ask sentinel one' });
    await until(async () => (await questions(d)).find((l) => l.text === 'sentinel one'), 'the sentinel');
    expect((await questions(d)).map((l) => l.text)).not.toContain('second question too soon');
  });

  it('lets a moderator and the broadcaster pause and resume, not a viewer', async () => {
    peer.chat(CHANNEL, { login: 'mallory', text: '!cocaster pause' });
    peer.chat(CHANNEL, { login: 'dave', text: '!ask sentinel two' });
    await until(async () => (await questions(d)).find((l) => l.text === 'sentinel two'), 'the sentinel');
    expect((await status(d)).paused).toBe(false);
    peer.chat(CHANNEL, { login: 'modmin', badges: ['moderator/1'], text: '!cocaster pause' });
    await until(async () => (await status(d)).paused, 'paused by the mod');
    peer.chat(CHANNEL, { login: 'mallory', text: '!cocaster resume' });
    peer.chat(CHANNEL, { login: 'erin', text: '!ask sentinel three' });
    await until(async () => (await questions(d)).find((l) => l.text === 'sentinel three'), 'the sentinel');
    expect((await status(d)).paused).toBe(true);
    peer.chat(CHANNEL, { login: CHANNEL, badges: ['broadcaster/1'], text: '!cocaster resume' });
    await until(async () => !(await status(d)).paused, 'resumed by the broadcaster');
  });
});

describe('twitch permissions and manual approval', () => {
  let peer: TwitchPeer;
  let d: DaemonProcess;
  const control = () => ({ Authorization: `Bearer ${d.tokens.control}`, 'Content-Type': 'application/json' });
  beforeAll(async () => {
    peer = await TwitchPeer.start(TOKEN);
    // The token from the environment this time (the harness passes process.env on).
    process.env.TWITCH_TOKEN = TOKEN;
    try {
      d = await startWithPeer(peer, { whoMayAsk: 'subscribers', manualApproval: true, userCooldownS: 0 });
    } finally {
      delete process.env.TWITCH_TOKEN;
    }
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await peer?.close();
  });

  const pending = async () => {
    const r = await rawRequest(d.port, 'GET', '/api/questions', { Authorization: `Bearer ${d.tokens.overlay}` });
    return (JSON.parse(r.body) as { pending: Array<{ id: string; text: string; asker: string }> }).pending;
  };

  it('logs in with the token from $TWITCH_TOKEN', () => {
    expect(peer.logins[0]).toMatchObject({ nick: BOT, anonymous: false });
    expect(d.stderr()).not.toContain('testtoken');
  });

  it('holds subscribers\' questions for approval and ignores other viewers', async () => {
    peer.chat(CHANNEL, { login: 'pleb', text: '!ask am I allowed?' });
    peer.chat(CHANNEL, { login: 'subby', displayName: 'Subby', badges: ['subscriber/6'], text: '!ask approve me' });
    peer.chat(CHANNEL, { login: 'vipper', badges: ['vip/1'], text: '!ask reject me' });
    const list = await until(async () => ((await pending()).length === 2 ? pending() : undefined), 'two pending questions');
    expect(list.map((q) => [q.asker, q.text])).toEqual([['Subby', 'approve me'], ['vipper', 'reject me']]);
    expect(await questions(d)).toEqual([]);

    const approveId = list[0]!.id;
    expect((await rawRequest(d.port, 'POST', `/api/questions/${approveId}/approve`, { Authorization: `Bearer ${d.tokens.overlay}` })).status).toBe(403);
    expect((await rawRequest(d.port, 'POST', `/api/questions/${approveId}/approve`)).status).toBe(401);
    const ok = await rawRequest(d.port, 'POST', `/api/questions/${approveId}/approve`, control());
    expect(ok.status).toBe(200);
    expect((await rawRequest(d.port, 'POST', `/api/questions/${list[1]!.id}/reject`, control())).status).toBe(200);
    expect((await rawRequest(d.port, 'POST', `/api/questions/${list[1]!.id}/approve`, control())).status).toBe(404);
    const q = await until(async () => (await questions(d)).find((l) => l.text === 'approve me'), 'the approved question');
    expect(q.asker).toBe('Subby');
    expect((await questions(d)).map((l) => l.text)).toEqual(['approve me']);
    expect(await pending()).toEqual([]);
  });
});
